"""``celery -A sync_workers preflight [--orders N] [--json]``: is this store and this ERP ready?

One line per check (``sync_workers.preflight``) with pass, warn or fail and what to do about it;
exit 0 only when nothing fails. Nothing is written anywhere: no remote write, no ledger row, no
cursor, no message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sync_workers.cli import EXIT_FOUND
from sync_workers.cli.command import OperatorCommand
from sync_workers.cli.output import emit_json, json_option, printable, run_guarded

if TYPE_CHECKING:  # the checks are imported when the command runs, not when celery starts
    from sync_workers.preflight import Report

#: Recent orders read by default (``sync_workers.preflight.DEFAULT_ORDERS``).
DEFAULT_ORDERS = 20

MARKS = {"pass": ("PASS", "green"), "warn": ("WARN", "yellow"), "fail": ("FAIL", "red")}


def render(report: Report) -> None:
    """The report for people: one line per check, the advice indented under it."""
    width = max((len(r.check) for r in report.results), default=0)
    for result in report.results:
        mark, colour = MARKS[result.outcome]
        click.echo(
            f"{click.style(mark, fg=colour, bold=True)}  {result.check.ljust(width)}  "
            f"{printable(result.summary)}"
        )
        if result.advice and result.outcome != "pass":
            click.echo(f"{'':{width + 8}}-> {printable(result.advice)}")
    counts = report.counts
    verdict = "ready" if report.ok else "not ready"
    click.echo(f"\n{verdict}: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail")


@click.command(cls=OperatorCommand)
@click.option(
    "--orders",
    type=click.IntRange(0, 1000),
    default=DEFAULT_ORDERS,
    show_default=True,
    help="How many of the store's recent orders to map and dry-run.",
)
@json_option
def preflight(orders: int, as_json: bool) -> None:
    """Check, writing nothing, that the store and the ERP are ready to go live."""
    from sync_workers import clients
    from sync_workers.preflight import run_preflight
    from sync_workers.redis_client import get_redis
    from sync_workers.settings import get_settings

    settings = get_settings()
    try:
        report = run_guarded(
            lambda: run_preflight(settings, get_redis(), orders=orders),
            "preflight",
            as_json=as_json,
        )
    finally:
        clients.close_all()
    if as_json:
        emit_json(report.as_dict())
    else:
        render(report)
    if not report.ok:
        raise SystemExit(EXIT_FOUND)
