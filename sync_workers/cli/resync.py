"""``celery -A sync_workers resync FLOW [--since ISO] [--id ID ...] [--all] [--dry-run]``.

Without ``--dry-run`` it publishes the flow's poll task (``tasks.<flow>.poll``) with those
arguments; the workers do the rest. ``--dry-run`` asks the flow's ``plan()`` what would be
created, updated or skipped, with the fields each write would change (a line per field: current
value -> value sent), and writes nothing anywhere: no message, no ledger row, no cursor, no
remote write.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import click

from sync_workers.cli.command import OperatorCommand
from sync_workers.cli.flows import as_dict, flow_definition
from sync_workers.cli.output import (
    check_flow,
    emit_json,
    fail,
    field_differences,
    json_option,
    masked,
    parse_since,
    progress,
    shorten,
    show_field_differences,
    table,
    usage_error,
)


def poll_kwargs(since: str | None, ids: tuple[str, ...], all_records: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if since:
        kwargs["since"] = parse_since(since).isoformat()  # type: ignore[union-attr]
    if ids:
        kwargs["ids"] = list(ids)
    if all_records:
        kwargs["all"] = True
    return kwargs


def show_plan(changes: list[dict[str, Any]]) -> None:
    if not changes:
        click.echo("nothing to do")
        return
    table(
        [
            [c["action"], c["source_id"], c.get("target_key") or "-", shorten(c.get("reason"), 50)]
            for c in changes
        ],
        ["ACTION", "SOURCE", "TARGET", "REASON"],
    )
    for c in changes:
        show_field_differences(c["source_id"], field_differences({"fields": c.get("changes")}))
    counts = Counter(c["action"] for c in changes)
    click.echo("\n" + ", ".join(f"{n} {action}" for action, n in sorted(counts.items())))


@click.command(cls=OperatorCommand)
@click.argument("flow")
@click.option("--since", help="Records changed since this ISO time.")
@click.option("--id", "ids", multiple=True, help="One source record id (repeatable).")
@click.option("--all", "all_records", is_flag=True, help="Every record, ignoring the cursor.")
@click.option("--dry-run", is_flag=True, help="Only print what would change; write nothing.")
@json_option
@click.pass_context
def resync(
    ctx: click.Context,
    flow: str,
    since: str | None,
    ids: tuple[str, ...],
    all_records: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Sync FLOW again: changed since a time, some records, or everything."""
    check_flow(flow)
    if all_records and (since or ids):
        usage_error("--all cannot be combined with --since or --id")
    kwargs = poll_kwargs(since, ids, all_records)
    if dry_run:
        definition = flow_definition(flow, as_json=as_json)
        with progress([None], label=f"planning {flow}", enabled=not as_json) as steps:
            for _ in steps:
                try:
                    planned = definition.plan(
                        since=parse_since(since), ids=list(ids) or None, all=all_records
                    )
                except Exception as exc:
                    fail(
                        f"resync {flow} --dry-run failed: {type(exc).__name__}: {exc}",
                        as_json=as_json,
                    )
        changes = [as_dict(c) for c in planned]
        if as_json:
            emit_json({"flow": flow, "dry_run": True, "changes": masked(changes)})
        else:
            show_plan(changes)
        return
    from sync_workers.celery import publish

    task = f"tasks.{flow}.poll"
    task_id = publish(task, [], kwargs, queue=None, chain=[], trace_id=None, headers={})
    if as_json:
        emit_json({"flow": flow, "task": task, "task_id": task_id, "kwargs": kwargs})
    else:
        click.echo(f"enqueued {task} {kwargs or ''} as task {task_id}")
