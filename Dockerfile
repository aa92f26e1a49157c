# The engine image: worker, beat, webhook receiver, Flower, migrations and the sandboxes.
#   docker build -t sync_workers .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

RUN useradd --create-home --uid 10001 sync \
    && mkdir -p /data \
    && chown sync:sync /data

WORKDIR /app
# The locked runtime set, hash-checked, in a layer of its own (rebuilt only when the lock changes).
COPY requirements/runtime.txt /app/requirements/runtime.txt
RUN pip install --require-hashes --no-deps -r requirements/runtime.txt
COPY . /app
# Editable, so migrations, mapping templates and the celery.commands entry points all resolve
# from /app exactly as in a checkout; built from the locked setuptools, nothing else fetched.
RUN pip install --no-deps --no-build-isolation -e . \
    && pip check \
    && python scripts/check-lock.py requirements/runtime.txt \
    && chown -R sync:sync /app

USER sync
VOLUME ["/data"]
EXPOSE 8090 5555 8091 8092

CMD ["celery", "-A", "sync_workers", "worker", "-l", "INFO", "-Q", "orders,customers,payments,shipments,products,inventory,realtime"]
