"""The webhook receiver: Acumatica push notifications and signed X-Cart store webhooks.

Each request is authenticated (before it is routed), validated, deduplicated and turned into one
Celery message; the answer is 2xx only once that message is on the broker.
``python -m sync_workers.webhooks`` serves it with gunicorn; :func:`create_app` builds the Flask
app (tests, other WSGI servers).
"""

from sync_workers.webhooks.app import create_app

__all__ = ["create_app"]
