"""Operator commands on the ``celery`` command line (entry-point group ``celery.commands``).

``celery -A sync_workers resync|dlq|sync-status|reconcile ...``; ``sync-status`` because Celery
registers its own ``status`` (workers online) after the plugins, so a plugin of that name is
never reachable. Every command prints for people on a terminal (with a progress bar where there
is something to wait for) and JSON with ``--json``.

Exit codes: 0 done, nothing to report; 1 something was found or failed (drift, open dead
letters in ``sync-status``, an entry not found, a replay refused); 2 usage error (bad flow, bad
date, missing ``--confirm``) or a ledger at another schema revision (``OperatorCommand``).
"""

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2
