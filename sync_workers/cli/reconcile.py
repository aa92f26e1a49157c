"""``celery -A sync_workers reconcile FLOW|all [--since ISO] [--repair]``.

Asks each flow's ``drift()`` what differs between X-Cart and Acumatica and prints it, a line
per differing field of a ``mismatch`` (``--json``: the drifts as the flows give them); exits 1
when there is drift. ``--repair`` enqueues the resync of every drifted record a resync can fix
(one ``tasks.<flow>.poll`` with ``ids``) and lists, with the reason, what needs a person
instead: a record without a source id, or a mismatch whose details say ``repairable: false``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import click

from sync_workers.celery import FLOW_QUEUES
from sync_workers.cli import EXIT_FOUND
from sync_workers.cli.command import OperatorCommand
from sync_workers.cli.flows import as_dict, flow_definition
from sync_workers.cli.output import (
    emit_json,
    fail,
    field_differences,
    json_option,
    masked,
    parse_since,
    printable,
    progress,
    shorten,
    show_field_differences,
    table,
    usage_error,
)
from sync_workers.flows.shape import Flow


def _definition(flow: str) -> Flow:
    from sync_workers.flows.runner import definition

    return definition(flow)


def _summary(details: dict[str, Any]) -> str:
    """The table's DETAILS cell: how many fields differ, then the details that are no field."""
    differences = field_differences(details)
    count = len(differences)
    parts = [f"{count} field{' differs' if count == 1 else 's differ'}"] if differences else []
    if differences:
        shown = {
            k: v
            for k, v in details.items()
            if not isinstance(v, dict | list | tuple) and k not in ("repairable", "reason")
        }
    else:
        shown = dict(details)
    parts += [f"{k}={v}" for k, v in shown.items()]
    return shorten(", ".join(parts))


def repair(
    drifts: list[dict[str, Any]], definitions: Mapping[str, Flow] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Publish one poll per flow for the drifted source ids a resync can fix; (enqueued, needs
    a person). A drift without a source id, or whose details say ``repairable: false`` (e.g. a
    shipped order's lines), needs a person: its ``reason`` says what to do. The flow's
    ``before_repair`` runs with the ids of its ``mismatch`` drifts first."""
    from sync_workers.celery import publish

    by_flow: dict[str, list[str]] = defaultdict(list)
    mismatched: dict[str, list[str]] = defaultdict(list)
    manual = []
    for drift in drifts:
        details = drift.get("details") or {}
        if not drift.get("source_id"):
            manual.append({**drift, "reason": "no source record to resync"})
            continue
        if isinstance(details, dict) and details.get("repairable") is False:
            why = details.get("reason") or "a resync cannot change it"
            manual.append({**drift, "reason": why})
            continue
        ids = by_flow[drift["flow"]]
        if str(drift["source_id"]) not in ids:
            ids.append(str(drift["source_id"]))
        if drift.get("kind") == "mismatch":
            mismatched[drift["flow"]].append(str(drift["source_id"]))
    enqueued = []
    for flow, ids in by_flow.items():
        if mismatched.get(flow):
            definition = (definitions or {}).get(flow) or _definition(flow)
            if definition.before_repair is not None:
                definition.before_repair(mismatched[flow])
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
        enqueued, manual = repair(drifts, dict(modules))
    if as_json:
        result: dict[str, Any] = {
            "flows": flows,
            "since": since,
            "drift": masked(drifts),
        }
        if do_repair:
            result["repair"] = {"enqueued": masked(enqueued), "manual": masked(manual)}
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
                        _summary(d.get("details") or {}),
                    ]
                    for d in drifts
                ],
                ["FLOW", "KIND", "SOURCE", "TARGET", "DETAILS"],
            )
            for d in drifts:
                show_field_differences(
                    f"{d['flow']} {d.get('source_id') or d.get('target_key') or '-'}",
                    field_differences(d.get("details") or {}),
                )
            counts = Counter(f"{d['flow']} {d['kind']}" for d in drifts)
            click.echo("\n" + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())))
        for item in enqueued:
            click.echo(
                f"repair: enqueued {item['task']} for {len(item['ids'])} records "
                f"(task {item['task_id']})"
            )
        if manual:
            click.echo(f"repair: {len(manual)} drifted records need a person:")
            for d in manual:
                click.echo(
                    printable(
                        f"  {d['flow']} {d.get('source_id') or d.get('target_key') or '-'}: "
                        f"{d['reason']}"
                    )
                )
    if drifts:
        raise SystemExit(EXIT_FOUND)
