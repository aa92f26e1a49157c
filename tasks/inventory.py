"""``tasks.inventory.sync`` (one SKU's flush), ``.poll`` and ``.realtime_on_push``: see
``sync_workers.flows.inventory``."""

from sync_workers.celery import app
from sync_workers.flows.inventory import FLOW
from sync_workers.flows.runner import register

TASKS = register(app, FLOW)
sync = TASKS["sync"]
poll = TASKS["poll"]
realtime_on_push = TASKS["realtime_on_push"]
