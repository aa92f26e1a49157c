"""``tasks.customers.profile`` (one X-Cart profile to its Acumatica customer), ``.customer`` (an
Acumatica customer's fields back to its profile), ``.poll``, ``.realtime_on_push`` and
``.realtime_on_webhook``: see ``sync_workers.flows.customers``."""

from sync_workers.celery import app
from sync_workers.flows.customers import FLOW
from sync_workers.flows.runner import register

TASKS = register(app, FLOW)
profile = TASKS["profile"]
customer = TASKS["customer"]
poll = TASKS["poll"]
realtime_on_push = TASKS["realtime_on_push"]
realtime_on_webhook = TASKS["realtime_on_webhook"]
