"""Go-live preflight: whether a store and an ERP are ready, checked without writing anything.

:func:`run_preflight` runs every check in order and returns a :class:`Report` of
:class:`Result` s (pass, warn or fail, a summary, what to do), which the ``celery preflight``
command prints and a console page can render. The checks, each small and named:

* ``access``: each system answers, the credentials work (:mod:`.access`), the endpoint exists,
  the licence caps, the clocks;
* ``reference``: every Acumatica code the mapping templates name exists and is active
  (:mod:`.reference`);
* ``mapping``: every store value seen in the recent orders has a mapping (:mod:`.mappings`);
* ``events``: push notifications and signed store webhooks reach the receiver (:mod:`.events`);
* ``dry_run``: the recent orders validated and each flow's plan, nothing written (:mod:`.dry_run`).

Nothing is written to either system, the ledger or the broker. The connectors' own bookkeeping
in Redis (the session pool, the shared request limits) is used as every process uses it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import redis

from sync_workers.preflight import access, dry_run, events, mappings, reference
from sync_workers.preflight.context import Context
from sync_workers.preflight.results import OUTCOMES, Outcome, Report, Result, Skipped
from sync_workers.settings import Settings

log = logging.getLogger(__name__)

Check = Callable[[Context], Result | list[Result] | None]

#: Every check, in the order it runs (access first: the others need its answers).
CHECKS: tuple[Check, ...] = (
    access.xcart_answers,
    access.xcart_key_writes,
    access.clock("xcart"),
    access.acumatica_answers,
    access.acumatica_sign_in,
    access.acumatica_endpoint,
    access.acumatica_licence,
    access.clock("acumatica"),
    *reference.CHECKS,
    *mappings.CHECKS,
    *events.CHECKS,
    *dry_run.CHECKS,
)
DEFAULT_ORDERS = 20


def _check_name(check: Check) -> str:
    """``<group>.<function>``: the name a check's results carry (a check reporting several
    results names each ``<group>.<what>.<which>``)."""
    group = getattr(sys.modules.get(check.__module__), "GROUP", "preflight")
    return f"{group}.{getattr(check, '__name__', 'check')}"


def run_checks(ctx: Context, checks: Iterable[Check] = CHECKS) -> list[Result]:
    results: list[Result] = []
    for check in checks:
        try:
            found = check(ctx)
        except Skipped as skipped:
            name = _check_name(check)
            results.append(Result(name, name.split(".")[0], "warn", str(skipped)))
            continue
        except Exception as exc:  # a check that breaks says so and the others still run
            log.warning("preflight check %s failed", _check_name(check), exc_info=True)
            name = _check_name(check)
            message = " ".join(str(exc).split())[:200]
            results.append(
                Result(
                    name,
                    name.split(".")[0],
                    "fail",
                    f"the check could not finish: {type(exc).__name__}: {message}",
                    "run the preflight again; if it persists, the log has the traceback",
                )
            )
            continue
        if isinstance(found, Result):
            results.append(found)
        elif found:
            results.extend(found)
    return results


def run_preflight(
    settings: Settings,
    client: redis.Redis,
    *,
    orders: int = DEFAULT_ORDERS,
    checks: Iterable[Check] = CHECKS,
) -> Report:
    """Run the checks against the configured systems; ``orders``: how many recent orders the
    mapping check and the dry run read."""
    ctx = Context(settings, client, orders=orders)
    results = run_checks(ctx, checks)
    return Report(tuple(results), datetime.now(UTC).isoformat(timespec="seconds"))


__all__ = [
    "CHECKS",
    "DEFAULT_ORDERS",
    "OUTCOMES",
    "Check",
    "Context",
    "Outcome",
    "Report",
    "Result",
    "run_checks",
    "run_preflight",
]
