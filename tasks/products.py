"""``tasks.products.sync`` (one SKU, both ways), ``.poll``, ``.realtime_on_webhook`` and
``.realtime_on_push``: see ``sync_workers.flows.products``."""

from sync_workers.celery import app
from sync_workers.flows.products import FLOW
from sync_workers.flows.runner import register

TASKS = register(app, FLOW)
sync = TASKS["sync"]
poll = TASKS["poll"]
realtime_on_webhook = TASKS["realtime_on_webhook"]
realtime_on_push = TASKS["realtime_on_push"]
