"""The console's actions in the engine's one audit: the dead-letter queue's (``dlq audit``).

Replays and resolves are audited by the queue itself (with ``by`` = ``console:<user>``). The
actions that touch no dead letter (a record's resync, a reconcile run and its repair) are
written here to the same list, in the same shape (``entry`` empty), so ``celery -A
sync_workers dlq audit`` and the console's audit page show every action, whoever took it.
"""

from __future__ import annotations

import json
from typing import Any

from sync_workers.dlq import AUDIT_KEEP, DeadLetterQueue, now_iso


class ActionAudit(DeadLetterQueue):
    """The queue's audit list, for actions on records and flows rather than on entries."""

    def record(
        self, action: str, *, by: str, flow: str | None, record_id: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        item = {
            "at": now_iso(),
            "action": action,
            "entry": None,
            "flow": flow,
            "record_id": record_id,
            "by": by,
            **extra,
        }
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(self._key("audit"), json.dumps(item, default=str))
        pipe.ltrim(self._key("audit"), 0, AUDIT_KEEP - 1)
        pipe.execute()
        return item
