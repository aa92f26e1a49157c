"""``celery -A sync_workers reconcile FLOW|all [--since ISO] [--repair]``.

Asks each flow's ``drift()`` what differs between X-Cart and Acumatica and prints it; exits 1
when there is drift. ``--repair`` enqueues the resync of every drifted record that has a
source id (one ``tasks.<flow>.poll`` with ``ids``), and lists what needs a person instead.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import click

from sync_workers.celery import FLOW_QUEUES
from sync_workers.cli import EXIT_FOUND
from sync_workers.cli.command import OperatorCommand
from sync_workers.cli.flows import as_dict, flow_definition
from sync_workers.cli.output import (
    emit_json,
    fail,
    json_option,
    parse_since,
    progress,
    shorten,
    table,
    usage_error,
)


def repair(drifts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Publish one poll per flow for the drifted source ids; (enqueued, needs a person)."""
    from sync_workers.celery import publish

    by_flow: dict[str, list[str]] = defaultdict(list)
    manual = []
    for drift in drifts:
        if drift.get("source_id"):
            ids = by_flow[drift["flow"]]
            if str(drift["source_id"]) not in ids:
                ids.append(str(drift["source_id"]))
        else:
            manual.append(drift)
    enqueued = []
    for flow, ids in by_flow.items():
        task = f"tasks.{flow}.poll"
        task_id = publish(task, [], {"ids": ids}, queue=None, chain=[], trace_id=None, headers={})
        enqueued.append({"flow": flow, "task": task, "task_id": task_id, "ids": ids})
    return enqueued, manual


@click.command(cls=OperatorCommand)
@click.argument("flow")
@click.option("--since", help="Only records changed since this ISO time.")
@click.option("--repair", "do_repair", is_flag=True, help="Enqueue the resyncs that fix it.")
@json_option
def reconcile(flow: str, since: str | None, do_repair: bool, as_json: bool) -> None:
    """Compare both systems for FLOW (or all) and report drift."""
    if flow != "all" and flow not in FLOW_QUEUES:
        usage_error(f"unknown flow {flow!r}; one of {', '.join(FLOW_QUEUES)} or all")
    moment = parse_since(since)
    flows = [flow] if flow != "all" else list(FLOW_QUEUES)
    modules = [(name, flow_definition(name, as_json=as_json)) for name in flows]
    drifts: list[dict[str, Any]] = []
    with progress(modules, label="reconciling", enabled=not as_json) as items:
        for name, definition in items:
            try:
                drifts.extend(as_dict(d) for d in definition.drift(since=moment))
            except Exception as exc:
                fail(f"reconcile {name} failed: {type(exc).__name__}: {exc}", as_json=as_json)
    enqueued: list[dict[str, Any]] = []
    manual: list[dict[str, Any]] = []
    if do_repair and drifts:
        enqueued, manual = repair(drifts)
    if as_json:
        result: dict[str, Any] = {
            "flows": flows,
            "since": since,
            "drift": drifts,
        }
        if do_repair:
            result["repair"] = {"enqueued": enqueued, "manual": manual}
        emit_json(result)
    else:
        if not drifts:
            click.echo(f"no drift in {', '.join(flows)}")
        else:
            table(
                [
                    [
                        d["flow"],
                        d["kind"],
                        d.get("source_id") or "-",
                        d.get("target_key") or "-",
                        shorten(", ".join(f"{k}={v}" for k, v in (d.get("details") or {}).items())),
                    ]
                    for d in drifts
                ],
                ["FLOW", "KIND", "SOURCE", "TARGET", "DETAILS"],
            )
            counts = Counter(f"{d['flow']} {d['kind']}" for d in drifts)
            click.echo("\n" + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())))
        for item in enqueued:
            click.echo(
                f"repair: enqueued {item['task']} for {len(item['ids'])} records "
                f"(task {item['task_id']})"
            )
        if manual:
            click.echo(f"repair: {len(manual)} drifted records have no source id; fix by hand")
    if drifts:
        raise SystemExit(EXIT_FOUND)
