"""``/dead-letters``: open dead letters grouped by pattern, with replay and resolve for a whole
group; an entry's page; edit and replay; the audit.

A group action acts on the group's entries as the operator saw them: those whose last failure
is not later than the page's ``as_of`` (an entry that failed again since waits for a new look).
It runs for at most ``ACTION_BUDGET_SECONDS``; what is left is said, and the same button goes
on with it.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sync_workers.console import edits
from sync_workers.console.context import actor, console, current_user, notify, publisher
from sync_workers.console.grouping import Grouping
from sync_workers.console.pages.mapping import entry_suggestions
from sync_workers.console.security import operator_only
from sync_workers.dlq import DeadLetter, EntryNotFound, EntryStateError
from sync_workers.dlq_upkeep import expires_at
from sync_workers.observability.scrubbing import personal_values, scrub_text

bp = Blueprint("dead_letters", __name__, url_prefix="/dead-letters")

PAGE = 50
ACTION_BUDGET_SECONDS = 20.0


def _page() -> int:
    try:
        return max(0, int(request.args.get("page", "0")))
    except ValueError:
        return 0


@bp.get("")
def groups() -> str:
    snapshot = Grouping(console().queue).snapshot()
    flow = request.args.get("flow") or None
    shown = [g for g in snapshot.groups if flow is None or g.flow == flow]
    return render_template(
        "dead_letters.html",
        groups=shown,
        flows=sorted(snapshot.per_flow()),
        flow=flow,
        pending=snapshot.pending,
        total=sum(g.count for g in snapshot.groups),
        as_of=max((g.last_seen for g in snapshot.groups), default=0.0),
    )


@bp.get("/entries")
def entries() -> str:
    queue = console().queue
    only_open = request.args.get("status", "open") == "open"
    page = _page()
    ids = queue.recent_ids(only_open=only_open, start=page * PAGE, count=PAGE)
    total = queue.count(status="open" if only_open else "all")
    return render_template(
        "entries.html",
        entries=[_shown(e) for e in queue.get_many(ids)],
        only_open=only_open,
        page=page,
        pages=max(1, -(-total // PAGE)),
        total=total,
    )


@bp.get("/group/<key>")
def group(key: str) -> str:
    snapshot = Grouping(console().queue).snapshot()
    found = snapshot.group(key)
    if found is None:
        abort(404, "no open dead letter has this pattern any more")
    page = _page()
    ids = found.ids()[page * PAGE : (page + 1) * PAGE]
    return render_template(
        "group.html",
        group=found,
        entries=[_shown(e) for e in console().queue.get_many(ids)],
        page=page,
        pages=max(1, -(-found.count // PAGE)),
        as_of=found.last_seen,
    )


def _as_of() -> float:
    try:
        return float(request.form["as_of"])
    except (KeyError, ValueError):
        abort(400, "as_of: the time of the page the action was taken on is missing")


def _group_action(key: str, act: Any, verb: str) -> Response:
    snapshot = Grouping(console().queue).snapshot()
    found = snapshot.group(key)
    if found is None:
        notify("No open dead letter has this pattern any more.", "error")
        return redirect(url_for("dead_letters.groups"))
    ids = found.ids(as_of=_as_of())
    deadline = time.monotonic() + ACTION_BUDGET_SECONDS
    done, refused, left = 0, [], 0
    for index, entry_id in enumerate(ids):
        if time.monotonic() > deadline:
            left = len(ids) - index
            break
        try:
            act(entry_id)
            done += 1
        except (EntryNotFound, EntryStateError) as exc:
            refused.append(str(exc))
    message = f"{done} {verb} (by {actor()})"
    if refused:
        message += f"; {len(refused)} refused: {refused[0]}"
    if left:
        message += f"; {left} left: press the button again to go on"
    notify(message, "error" if refused or left else "ok")
    return redirect(url_for("dead_letters.groups"))


@bp.post("/group/<key>/resolve")
def resolve_group(key: str) -> Response:
    queue, note = console().queue, request.form.get("note", "")[:500]
    return _group_action(key, lambda i: queue.resolve(i, by=actor(), note=note), "resolved")


@bp.post("/group/<key>/replay")
def replay_group(key: str) -> Response:
    queue, publish = console().queue, publisher()
    from_start = request.form.get("from_start") == "1"
    verb = "rerun from the start" if from_start else "replayed"
    return _group_action(
        key, lambda i: queue.replay(i, publish, by=actor(), from_start=from_start), verb
    )


@bp.get("/audit")
def audit() -> str:
    return render_template("audit.html", records=console().queue.audit_log(500))


def _entry(entry_id: str) -> DeadLetter:
    try:
        return console().queue.get(entry_id)
    except EntryNotFound:
        abort(404, "no such dead letter (or an id prefix matching several)")


def _shown(entry: DeadLetter) -> DeadLetter:
    """The entry as a viewer may see it: its message and field reasons with personal values
    masked (an operator sees them whole on the entry's page)."""
    known = personal_values([entry.args, entry.kwargs, entry.payload, entry.error_details])
    entry.error_message = scrub_text(entry.error_message, known)
    entry.field_errors = {
        scrub_text(str(k), known): scrub_text(str(v), known)
        for k, v in (entry.field_errors or {}).items()
    }
    return entry


@bp.get("/<entry_id>")
def entry(entry_id: str) -> str:
    found = _entry(entry_id)
    user = current_user()
    operator = bool(user and user.operator)
    retention = timedelta(days=console().settings.dlq_retention_days)
    return render_template(
        "entry.html",
        entry=found if operator else _shown(found),
        operator=operator,
        expires=expires_at(found, retention),
        items=entry_suggestions(found) if found.status == "open" else [],
        pretty=lambda value: json.dumps(value, indent=2, default=str, ensure_ascii=False),
    )


@bp.post("/<entry_id>/replay")
def replay(entry_id: str) -> Response:
    found = _entry(entry_id)
    from_start = request.form.get("from_start") == "1"
    try:
        task_id = console().queue.replay(
            found.id,
            publisher(),
            by=actor(),
            from_start=from_start,
            force=request.form.get("force") == "1",
        )
    except EntryStateError as exc:
        notify(f"Not replayed: {exc}", "error")
    else:
        notify(f"Replayed as task {task_id}.")
    return redirect(url_for("dead_letters.entry", entry_id=found.id))


@bp.post("/<entry_id>/resolve")
def resolve(entry_id: str) -> Response:
    found = _entry(entry_id)
    try:
        console().queue.resolve(found.id, by=actor(), note=request.form.get("note", "")[:500])
    except EntryStateError as exc:
        notify(f"Not resolved: {exc}", "error")
    else:
        notify("Resolved; its data was dropped.")
    return redirect(url_for("dead_letters.entry", entry_id=found.id))


@bp.route("/<entry_id>/edit", methods=["GET", "POST"])
@operator_only
def edit(entry_id: str) -> Any:
    found = _entry(entry_id)
    if not found.holds_data:
        notify("Its arguments were dropped: replay it from the start instead.", "error")
        return redirect(url_for("dead_letters.entry", entry_id=found.id))
    if request.method == "GET":
        return render_template("edit.html", entry=found, text=edits.document(found), refused=None)
    text = request.form.get("arguments", "")
    try:
        change = edits.validate(found, edits.parse(found, text))
        task_id = console().queue.replay(
            found.id, publisher(), by=actor(), args=change.args, kwargs=change.kwargs
        )
    except (edits.EditRefused, EntryStateError) as exc:
        return render_template("edit.html", entry=found, text=text, refused=exc), 422
    said = "; ".join(filter(None, [change.validated, *change.notes]))
    notify(f"Edited and replayed as task {task_id}" + (f" ({said})." if said else "."))
    return redirect(url_for("dead_letters.entry", entry_id=found.id))
