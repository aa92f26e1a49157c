"""The preflight in a few lines, for ``make run``'s banner: the verdict, then each warning and
failure (``celery -A sync_workers preflight`` prints every check)."""

from __future__ import annotations

from sync_workers.preflight.results import Report
from sync_workers.settings import Settings


def summary_lines(report: Report) -> list[str]:
    counts = report.counts
    verdict = "ready" if report.ok else "NOT READY"
    lines = [
        f"preflight: {verdict} ({counts['pass']} pass, {counts['warn']} warn, "
        f"{counts['fail']} fail; `celery -A sync_workers preflight` for each check)"
    ]
    for result in report.results:
        if result.outcome != "pass":
            lines.append(f"  {result.outcome.upper()} {result.check}: {result.summary}")
    return lines


def run_summary(settings: Settings, orders: int = 20) -> list[str]:
    """Run the preflight in this process and summarise it; never raises (one line says why it
    could not run). Signs the Acumatica session it used out again."""
    from sync_workers import clients
    from sync_workers.ledger.schema import check_at_start
    from sync_workers.preflight import run_preflight
    from sync_workers.redis_client import get_redis

    try:
        check_at_start(settings)
        return summary_lines(run_preflight(settings, get_redis(), orders=orders))
    except (Exception, SystemExit) as exc:
        return [f"preflight: could not run ({type(exc).__name__}: {' '.join(str(exc).split())})"]
    finally:
        clients.close_all()
