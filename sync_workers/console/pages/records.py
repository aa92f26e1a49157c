"""``/records?q=…`` and ``/records/<flow>/<source_id>``: find a record, read its timeline,
resync it."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sync_workers.console import records as ledger
from sync_workers.console.audit import ActionAudit
from sync_workers.console.context import actor, console, notify
from sync_workers.console.resync import ResyncRefused, resync
from sync_workers.flows import NAMES
from sync_workers.observability.scrubbing import scrub_value

log = logging.getLogger("sync_workers.console")
bp = Blueprint("records", __name__)


@bp.get("/records")
def search() -> str:
    term = request.args.get("q", "").strip()[:200]
    found = ledger.search(console().engine, term) if term else []
    return render_template("records.html", term=term, found=found, systems=ledger.systems)


def _direction(flow: str, source_id: str) -> str:
    if flow not in NAMES:
        abort(404, f"no flow {flow!r}")
    direction = request.values.get("direction")
    if direction:
        if direction not in ledger.directions(flow):
            abort(404, f"the {flow} flow has no direction {direction!r}")
        return direction
    rows = ledger.records_at(console().engine, flow, source_id, None)
    return str(rows[0]["direction"]) if rows else ledger.directions(flow)[0]


@bp.get("/records/<flow>/<path:source_id>")
def record(flow: str, source_id: str) -> str:
    direction = _direction(flow, source_id)
    app = console()
    page = ledger.record_page(app.engine, flow, direction, source_id)
    if page.row is None and not page.runs:
        abort(404, "the ledger has no such record (or its history was pruned)")
    open_entry = app.queue.open_entry_of(flow, page.record_id)
    data = scrub_value(dict((page.row or {}).get("data") or {}))
    source_system, target_system = ledger.systems(direction)
    return render_template(
        "record.html",
        page=page,
        data=data,
        open_entry=open_entry,
        source_system=source_system,
        target_system=target_system,
    )


@bp.post("/records/<flow>/<path:source_id>/resync")
def resync_record(flow: str, source_id: str) -> Response:
    direction = _direction(flow, source_id)
    app = console()
    rows = ledger.records_at(app.engine, flow, source_id, direction)
    data = dict((rows[0].get("data") or {}) if rows else {})
    back = url_for("records.record", flow=flow, source_id=source_id, direction=direction)
    try:
        done = resync(flow, direction, source_id, data, app.queue)
    except ResyncRefused as exc:
        notify(f"Not resynced: {exc}", "error")
        return redirect(back)
    chain = ledger.chain_of(flow, direction, source_id)
    ActionAudit(app.redis, app.prefix).record(
        "resync",
        by=actor(),
        flow=flow,
        record_id=ledger.record_id_of(chain, source_id) if chain else source_id,
        task=done.task,
        task_id=done.task_id,
        ids=done.ids,
    )
    notify(f"Resync enqueued: {done.task} as task {done.task_id}.")
    return redirect(back)
