"""``celery -A sync_workers dlq list|show|replay|resolve|purge|audit``: the dead-letter queue.

Every action is recorded in the queue's audit log with the acting user (``--by``, default the OS
user). ``replay --edit`` opens the failed step's arguments in ``$EDITOR`` and refuses anything
that is not a JSON object keeping the record id; ``replay --from-start`` reruns the record's
whole chain through its flow's poll task. In text mode every value is passed through
:func:`~sync_workers.cli.output.printable`: upstream text never reaches the terminal raw.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from sync_workers.cli import EXIT_FOUND, EXIT_USAGE
from sync_workers.cli.command import OperatorCommand
from sync_workers.cli.output import (
    actor,
    by_option,
    emit_json,
    fail,
    json_option,
    printable,
    progress,
    run_guarded,
    shorten,
    table,
    usage_error,
)
from sync_workers.dlq import DeadLetter, DeadLetterQueue, EntryNotFound, EntryStateError

STATUSES = ("open", "replayed", "resolved", "expired", "all")


def _queue() -> DeadLetterQueue:
    from sync_workers.task import get_dlq

    return get_dlq()


def _entry(queue: DeadLetterQueue, entry_id: str, *, as_json: bool) -> DeadLetter:
    try:
        return queue.get(entry_id)
    except EntryNotFound:
        fail(f"no dead letter {entry_id!r} (or the prefix matches several)", as_json=as_json)


def _retention() -> timedelta:
    from sync_workers.settings import get_settings

    return timedelta(days=get_settings().dlq_retention_days)


def _expires_at(entry: DeadLetter) -> str | None:
    from sync_workers.dlq_upkeep import expires_at

    moment = expires_at(entry, _retention())
    return moment.isoformat(timespec="seconds") if moment else None


def _summary(entry: DeadLetter) -> dict[str, Any]:
    return {
        "id": entry.id,
        "status": entry.status,
        "flow": entry.flow,
        "record_id": entry.record_id,
        "task": entry.task,
        "step": entry.step,
        "error": f"{entry.error_class}: {entry.error_message}",
        "field_errors": entry.field_errors,
        "attempts": entry.attempts,
        "repeats": entry.repeats,
        "first_failed_at": entry.first_failed_at,
        "last_failed_at": entry.last_failed_at,
        "expires_at": _expires_at(entry),
        "data_dropped_at": entry.data_dropped_at,
    }


@click.group()
def dlq() -> None:
    """Inspect, replay, resolve and purge dead-lettered records."""


@dlq.command("list", cls=OperatorCommand)
@click.option("--flow", help="Only this flow.")
@click.option("--error", help="Error class or a piece of the message.")
@click.option("--record", "record_id", help="Only this record id.")
@click.option("--status", type=click.Choice(STATUSES), default="open", show_default=True)
@click.option(
    "--expiring",
    is_flag=True,
    help="Only entries that lose their data to DLQ_RETENTION_DAYS within 7 days.",
)
@click.option("--limit", type=int, default=200, show_default=True)
@json_option
def list_entries(
    flow: str | None,
    error: str | None,
    record_id: str | None,
    status: str,
    expiring: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Dead letters, newest first."""
    from sync_workers.dlq_upkeep import EXPIRY_WARNING

    soon = datetime.now(UTC) + EXPIRY_WARNING

    def read() -> list[DeadLetter]:
        found = []
        for entry in _queue().iter_entries(
            status=status, flow=flow, error=error, record_id=record_id
        ):
            if expiring:
                expires = _expires_at(entry)
                if expires is None or datetime.fromisoformat(expires) >= soon:
                    continue
            found.append(entry)
            if len(found) >= limit:
                break
        return found

    entries = run_guarded(read, "dlq list", as_json=as_json)
    if as_json:
        emit_json([_summary(e) for e in entries])
        return
    if not entries:
        click.echo("no dead letters match")
        return
    table(
        [
            [
                e.id[:12],
                e.status,
                e.flow,
                e.record_id or "-",
                e.step,
                e.attempts,
                e.last_failed_at[:19],
                shorten(printable(f"{e.error_class}: {e.error_message}")),
            ]
            for e in entries
        ],
        ["ID", "STATUS", "FLOW", "RECORD", "STEP", "TRIES", "LAST FAILED (UTC)", "ERROR"],
    )
    click.echo(f"\n{len(entries)} shown; `dlq show ID` for details")


@dlq.command("show", cls=OperatorCommand)
@click.argument("entry_id")
@json_option
def show(entry_id: str, as_json: bool) -> None:
    """Everything about one dead letter (an id prefix is enough)."""
    entry = run_guarded(
        lambda: _entry(_queue(), entry_id, as_json=as_json), "dlq show", as_json=as_json
    )
    data = {**json.loads(entry.to_json()), "expires_at": _expires_at(entry)}
    if as_json:
        emit_json(data)
        return
    for key in (
        "id",
        "status",
        "flow",
        "record_id",
        "task",
        "step",
        "task_id",
        "trace_id",
        "attempts",
        "repeats",
        "first_failed_at",
        "last_failed_at",
        "replay_of",
        "expires_at",
        "data_dropped_at",
    ):
        _line(key + ":", data.get(key))
    _line("error:", f"{entry.error_class}: {entry.error_message}")
    for path, reason in (entry.field_errors or {}).items():
        click.echo("  " + printable(f"{path}: {reason}"))
    if not entry.holds_data:
        click.echo(
            printable(f"(arguments, payload and upstream answers dropped {entry.data_dropped_at})")
        )
    else:
        _block("kwargs:", entry.kwargs)
        if entry.args:
            _block("args:", entry.args)
        if entry.payload:
            _block("payload:", entry.payload)
    click.echo("audit:")
    for item in entry.audit:
        click.echo("  " + printable(" ".join(f"{k}={v}" for k, v in item.items())))
    if entry.traceback:
        click.echo("traceback (last lines):")
        lines = entry.traceback.rstrip().splitlines()[-12:]
        click.echo(printable("\n".join(lines), multiline=True))


def _line(label: str, value: Any) -> None:
    click.echo(f"{label:<17}" + ("-" if value is None else printable(value)))


def _block(label: str, value: Any) -> None:
    click.echo(label)
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    click.echo(printable(text, multiline=True))


# -- replay ------------------------------------------------------------------------------------


def edit_arguments(entry: DeadLetter) -> tuple[list[Any] | None, dict[str, Any]] | None:
    """Open the step's arguments in $EDITOR; (args, kwargs) as edited, or None when unchanged.

    The file holds the kwargs object, or ``{"args": [...], "kwargs": {...}}`` for a step that
    takes positional arguments (a chain step receiving the previous step's result). Exits 1
    with nothing published when the result is not valid JSON of that shape, or when it changes
    which record the step is about.
    """
    positional = bool(entry.args)
    document: Any = {"args": entry.args, "kwargs": entry.kwargs} if positional else entry.kwargs
    original = json.dumps(document, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    header = (
        f"// Dead letter {entry.id}: {entry.task} for {entry.flow} record "
        f"{printable(entry.record_id)}\n"
        f"// {entry.error_class}: {printable(shorten(entry.error_message, 200))}\n"
        "// Edit the arguments below (JSON). Lines starting with // are ignored.\n"
    )
    edited = click.edit(header + original + "\n", extension=".json", require_save=False)
    if edited is None:
        return None
    text = "\n".join(line for line in edited.splitlines() if not line.lstrip().startswith("//"))
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"not replayed: the edited arguments are not valid JSON ({exc})")
    if not isinstance(value, dict):
        fail("not replayed: the edited arguments must be a JSON object")
    if positional:
        if (
            set(value) != {"args", "kwargs"}
            or not isinstance(value["args"], list)
            or not (isinstance(value["kwargs"], dict))
        ):
            fail('not replayed: expected {"args": [...], "kwargs": {...}}')
        args, kwargs = value["args"], value["kwargs"]
    else:
        args, kwargs = None, value
    for key, old in entry.kwargs.items():
        if entry.record_id is not None and str(old) == entry.record_id and kwargs.get(key) != old:
            fail(f"not replayed: {key} identifies the record and must stay {old!r}")
    if value == document:
        return None
    return args, kwargs


@dlq.command("replay", cls=OperatorCommand)
@click.argument("entry_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Every open entry matching the filters.")
@click.option("--flow", help="With --all: only this flow.")
@click.option("--error", help="With --all: error class or a piece of the message.")
@click.option("--edit", is_flag=True, help="Edit the step's arguments in $EDITOR first.")
@click.option("--from-start", is_flag=True, help="Rerun the record's whole chain (its poll).")
@click.option("--force", is_flag=True, help="Replay an entry already replayed or resolved.")
@by_option
@json_option
def replay(
    entry_ids: tuple[str, ...],
    replay_all: bool,
    flow: str | None,
    error: str | None,
    edit: bool,
    from_start: bool,
    force: bool,
    by: str | None,
    as_json: bool,
) -> None:
    """Publish failed steps again; the entries are marked replayed once published."""
    from sync_workers.celery import publish

    if bool(entry_ids) == replay_all:
        usage_error("give entry ids, or --all (with --flow/--error filters)")
    if edit and (replay_all or len(entry_ids) != 1):
        usage_error("--edit works on one entry at a time")
    if edit and from_start:
        usage_error("--edit and --from-start do not mix: a rerun starts from the source record")
    queue = _queue()
    who = actor(by)
    if replay_all:
        entries = list(queue.iter_entries(status="open", flow=flow, error=error))
    else:
        entries = [_entry(queue, i, as_json=as_json) for i in entry_ids]
    results: list[dict[str, Any]] = []
    failures = 0
    with progress(entries, label="replaying", enabled=not as_json and len(entries) > 1) as items:
        for entry in items:
            args, kwargs = None, None
            if edit:
                if not entry.holds_data:
                    fail(
                        "not replayed: the entry's arguments were dropped; use --from-start",
                        as_json=as_json,
                    )
                edited = edit_arguments(entry)
                if edited is None:
                    fail("not replayed: the arguments were left unchanged", as_json=as_json)
                args, kwargs = edited
            try:
                task_id = queue.replay(
                    entry.id,
                    publish,
                    by=who,
                    args=args,
                    kwargs=kwargs,
                    force=force,
                    from_start=from_start,
                )
            except EntryStateError as exc:
                results.append({"id": entry.id, "error": str(exc)})
                failures += 1
                continue
            results.append(
                {
                    "id": entry.id,
                    "task_id": task_id,
                    "task": f"tasks.{entry.flow}.poll" if from_start else entry.task,
                    "edited": edit,
                    "record_id": entry.record_id,
                }
            )
    if as_json:
        emit_json(
            {
                "replayed": [r for r in results if "task_id" in r],
                "refused": [r for r in results if "error" in r],
            }
        )
    else:
        for r in results:
            if "error" in r:
                message = printable(f"{r['id'][:12]}  not replayed: {r['error']}")
                click.secho(message, fg="red", err=True)
            else:
                how = "edited, " if r["edited"] else ""
                click.echo(
                    printable(f"{r['id'][:12]}  replayed ({how}{r['task']}) as task {r['task_id']}")
                )
        click.echo(printable(f"{len(results) - failures} replayed, {failures} refused (by {who})"))
    if failures:
        raise SystemExit(EXIT_FOUND)


@dlq.command("resolve", cls=OperatorCommand)
@click.argument("entry_ids", nargs=-1, required=True)
@click.option("--note", default="", help="Why it needs no replay (kept in the audit).")
@by_option
@json_option
def resolve(entry_ids: tuple[str, ...], note: str, by: str | None, as_json: bool) -> None:
    """Mark entries handled without replaying them."""
    queue = _queue()
    who = actor(by)
    done, refused = [], []
    for entry_id in entry_ids:
        entry = _entry(queue, entry_id, as_json=as_json)
        try:
            queue.resolve(entry.id, by=who, note=note)
            done.append(entry.id)
        except EntryStateError as exc:
            refused.append({"id": entry.id, "error": str(exc)})
    if as_json:
        emit_json({"resolved": done, "refused": refused})
    else:
        for entry_id in done:
            click.echo(printable(f"{entry_id[:12]}  resolved by {who}; its data was dropped"))
        for r in refused:
            click.secho(printable(f"{r['id'][:12]}  {r['error']}"), fg="red", err=True)
    if refused:
        raise SystemExit(EXIT_FOUND)


def parse_age(value: str | None) -> datetime | None:
    """``7d``, ``12h``, ``30m`` or an ISO time → the cut-off moment."""
    if value is None:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if value[:-1].isdigit() and value[-1:] in units:
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    from sync_workers.cli.output import parse_since

    return parse_since(value)


@dlq.command("purge", cls=OperatorCommand)
@click.option("--status", type=click.Choice(STATUSES), default="resolved", show_default=True)
@click.option("--flow", help="Only this flow.")
@click.option("--older-than", help="Only entries last failed before: 7d, 12h, 30m or ISO time.")
@click.option("--confirm", is_flag=True, help="Really delete (without it: only count).")
@by_option
@json_option
def purge(
    status: str,
    flow: str | None,
    older_than: str | None,
    confirm: bool,
    by: str | None,
    as_json: bool,
) -> None:
    """Delete entries for good (audited). Needs --confirm."""
    queue = _queue()
    cutoff = parse_age(older_than)
    if not confirm:
        matching = [
            e
            for e in queue.iter_entries(status=status, flow=flow)
            if cutoff is None or datetime.fromisoformat(e.last_failed_at) < cutoff
        ]
        message = f"would delete {len(matching)} {status} entries; add --confirm to delete them"
        if as_json:
            emit_json({"would_delete": len(matching), "error": "add --confirm"})
        else:
            click.echo(message, err=True)
        raise SystemExit(EXIT_USAGE)
    who = actor(by)
    deleted = queue.purge(by=who, status=status, flow=flow, older_than=cutoff)
    if as_json:
        emit_json({"deleted": deleted, "by": who})
    else:
        click.echo(printable(f"deleted {deleted} {status} entries (by {who})"))


@dlq.command("audit", cls=OperatorCommand)
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
def audit(limit: int, as_json: bool) -> None:
    """Every action taken on the queue, newest first."""
    records = _queue().audit_log(limit)
    if as_json:
        emit_json(records)
        return
    table(
        [
            [
                r.get("at", "")[:19],
                r.get("action"),
                r.get("by"),
                r.get("flow"),
                r.get("record_id") or "-",
                (r.get("entry") or "")[:12],
            ]
            for r in records
        ],
        ["AT (UTC)", "ACTION", "BY", "FLOW", "RECORD", "ENTRY"],
    )
