"""``tasks.shipments.sync`` (one Acumatica shipment back to its X-Cart orders), ``.poll`` and
``.realtime_on_push``: see ``sync_workers.flows.shipments``."""

from sync_workers.celery import app
from sync_workers.flows.runner import register
from sync_workers.flows.shipments import FLOW

TASKS = register(app, FLOW)
sync = TASKS["sync"]
poll = TASKS["poll"]
realtime_on_push = TASKS["realtime_on_push"]
