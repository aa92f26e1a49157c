"""``tasks.orders.sync`` (one X-Cart order), ``.status`` (a sales order's status), ``.poll``,
``.realtime_on_push`` and ``.realtime_on_webhook``: see ``sync_workers.flows.orders``."""

from sync_workers.celery import app
from sync_workers.flows.orders import FLOW
from sync_workers.flows.runner import register

TASKS = register(app, FLOW)
sync = TASKS["sync"]
status = TASKS["status"]
poll = TASKS["poll"]
realtime_on_push = TASKS["realtime_on_push"]
realtime_on_webhook = TASKS["realtime_on_webhook"]
