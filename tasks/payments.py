"""``tasks.payments.sync`` (one X-Cart transaction), ``.refund`` (one X-Cart refund), ``.status``
(an Acumatica payment's status back to X-Cart), ``.poll`` and ``.realtime_on_push``: see
``sync_workers.flows.payments``."""

from sync_workers.celery import app
from sync_workers.flows.payments import FLOW
from sync_workers.flows.runner import register

TASKS = register(app, FLOW)
sync = TASKS["sync"]
refund = TASKS["refund"]
status = TASKS["status"]
poll = TASKS["poll"]
realtime_on_push = TASKS["realtime_on_push"]
