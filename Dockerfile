# Two images on the same locked runtime set:
#   docker build -t sync_workers .                                  # the engine (the last stage)
#   docker build --target sandboxes -t sync_workers-sandboxes .     # the X-Cart and Acumatica sandboxes
# The engine image copies the engine's folders by name, so sandboxes/ never enters it; the
# sandboxes image holds the sandboxes and nothing of the engine. Neither imports the other.
# Everything under /app belongs to root, bytecode included (compiled here): the processes run as
# `sync`, which owns /data and none of its own code. docker-compose.yml also makes the root
# filesystem read-only.
FROM python:3.11-slim AS runtime

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
COPY scripts/check-lock.py /app/scripts/check-lock.py
RUN pip check && python scripts/check-lock.py requirements/runtime.txt


# The emulators, run from /app as a plain package (no engine code, nothing to install).
FROM runtime AS sandboxes

ENV PYTHONPATH=/app
COPY sandboxes /app/sandboxes
RUN python -m compileall -q /app/sandboxes

USER sync
VOLUME ["/data"]
EXPOSE 8091 8092

CMD ["python", "-m", "sandboxes", "--seed", "--host", "0.0.0.0", "--allow-remote", "--data-dir", "/data/sandboxes"]


# The engine: worker, beat, webhook receiver, Flower and migrations.
FROM runtime AS engine

COPY pyproject.toml README.md /app/
COPY sync_workers /app/sync_workers
COPY tasks /app/tasks
COPY schedules /app/schedules
# Editable, so migrations, mapping templates and the celery.commands entry points all resolve
# from /app exactly as in a checkout; built from the locked setuptools, nothing else fetched.
# Package discovery finds no sandboxes/ here, so the install maps only the engine's packages;
# the last check fails the build if `sandboxes` could be imported all the same.
RUN pip install --no-deps --no-build-isolation -e . \
    && pip check \
    && python -c "import importlib.util as u; assert u.find_spec('sandboxes') is None, 'sandboxes in the engine image'" \
    && python -m compileall -q /app/sync_workers /app/tasks /app/schedules

USER sync
VOLUME ["/data"]
EXPOSE 8090 5555

CMD ["celery", "-A", "sync_workers", "worker", "-l", "INFO", "-Q", "orders,customers,payments,shipments,products,inventory,realtime"]
