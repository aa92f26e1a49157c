"""``/mapping``: the templates in effect and their validation; values no mapping covers, with
the mapping assistant's suggestions and, for operators, a button to accept one.

The pages rank from the grouped snapshot of the dead letters (no entry is read again) and
Acumatica's lists kept a few minutes in the process; the orders resolved by hand in Acumatica,
which cost two calls per order, are weighed by ``celery mapping suggest`` only.

Accepting writes the entry to the template in ``MAPPING_TEMPLATES_DIR`` (validated, the previous
file kept) and replays the open dead letters it fixes (:mod:`sync_workers.mapping.assistant.accept`);
the action is audited with ``by`` = ``console:<user>``. Like every change, it needs the operator
role and the session's CSRF token (:mod:`sync_workers.console.security`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sync_workers.console.context import actor, console, notify, publisher
from sync_workers.console.grouping import Grouping
from sync_workers.dlq import DeadLetter
from sync_workers.errors import SyncError
from sync_workers.flows import NAMES
from sync_workers.mapping import templates
from sync_workers.mapping.assistant import reference as ref
from sync_workers.mapping.assistant.accept import AcceptError, accept
from sync_workers.mapping.assistant.fields import BY_KIND, STATE, STATE_ID, Field, field_named
from sync_workers.mapping.assistant.profile import values_of
from sync_workers.mapping.assistant.suggest import Item, suggestions_for

bp = Blueprint("mapping", __name__)
log = logging.getLogger("sync_workers.console")

#: Longest value or target an accept form may carry.
FORM_LIMIT = 200


@dataclass
class TemplateState:
    flow: str
    path: Path
    version: object
    problems: list[str]
    text: str


def _state(flow: str) -> TemplateState:
    path = templates.template_path(flow)
    try:
        data = templates.read_template(path)
        text = path.read_text(encoding="utf-8")
    except templates.TemplateError as exc:
        return TemplateState(flow, path, None, [str(exc)], "")
    return TemplateState(
        flow, path, data.get("version"), templates.validate_template(flow, data), text
    )


def _acumatica() -> Any:
    """The engine's Acumatica client (``None`` when it cannot be built)."""
    from sync_workers import clients

    try:
        return clients.acumatica()
    except Exception as exc:  # a misconfigured ERP must not take the page down
        log.warning("mapping page: no Acumatica client (%s)", type(exc).__name__)
        return None


def _suggested(spec: Field, value: str, count: int, flows: list[str], ids: list[str]) -> Item:
    if spec is STATE and value.strip().isdigit():
        spec = STATE_ID
    item = Item(spec, value, count, flows, ids)
    try:
        item.suggestions = suggestions_for(
            spec, value, ref.KeptReference(_acumatica()), count=count
        )
    except LookupError as exc:
        item.problem = str(exc)
    except SyncError as exc:
        item.problem = f"Acumatica's codes could not be read: {exc}"
    return item


def entry_suggestions(entry: DeadLetter) -> list[Item]:
    """The assistant's suggestions for each unmapped value a dead letter names."""
    return [
        _suggested(spec, value, 1, [entry.flow], [entry.id]) for spec, value in values_of(entry)
    ]


@bp.get("/mapping")
def index() -> str:
    snapshot = Grouping(console().queue).snapshot()
    unmapped = [
        {"kind": kind, "value": value, "count": count, "flows": sorted(flows)}
        for (kind, value), (count, flows) in sorted(
            snapshot.unmapped.items(), key=lambda item: (-item[1][0], item[0])
        )
    ]
    items = [
        _suggested(BY_KIND[kind], value, count, sorted(flows), [])
        for (kind, value), (count, flows) in sorted(
            snapshot.unmapped.items(), key=lambda item: (-item[1][0], item[0])
        )
        if kind in BY_KIND
    ]
    return render_template(
        "mapping.html",
        directory=templates.templates_dir(),
        bundled=templates.templates_dir() == templates.BUNDLED_DIR,
        states=[_state(flow) for flow in NAMES],
        unmapped=unmapped,
        pending=snapshot.pending,
        items=items,
    )


@bp.post("/mapping/accept")
def accept_suggestion() -> Response:
    """Apply one mapping chosen by the operator; back to the page the form was on (the
    mapping page, or the dead letter's page when the form names its ``entry``)."""
    field = request.form.get("field", "")
    value = request.form.get("value", "")[:FORM_LIMIT]
    target = request.form.get("target", "")[:FORM_LIMIT]
    entry = request.form.get("entry", "")[:FORM_LIMIT]
    back = url_for("dead_letters.entry", entry_id=entry) if entry else url_for("mapping.index")
    try:
        spec = field_named(field)
        result = accept(
            spec,
            value,
            target,
            by=actor(),
            queue=console().queue,
            acumatica=_acumatica(),
            publish=publisher(),
        )
    except KeyError as exc:
        notify(f"Not applied: {exc.args[0]}", "error")
    except (AcceptError, templates.TemplateError) as exc:
        notify(f"Not applied: {exc}", "error")
    else:
        refused = f"; {len(result.refused)} could not be replayed" if result.refused else ""
        notify(
            f"{spec.label} {result.value!r} now maps to {result.target} in "
            f"{result.template.name} (previous kept as previous/{result.previous.name if result.previous else '-'}); "
            f"{len(result.replayed)} dead letter(s) replayed{refused}."
        )
    return redirect(back)
