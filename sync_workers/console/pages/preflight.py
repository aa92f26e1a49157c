"""``/preflight``: the go-live checks of ``celery preflight``, run from the console (operators),
their last results for everyone."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sync_workers.console.audit import ActionAudit
from sync_workers.console.context import actor, console
from sync_workers.console.jobs import Jobs
from sync_workers.preflight import DEFAULT_ORDERS, OUTCOMES

bp = Blueprint("preflight", __name__, url_prefix="/preflight")
#: The most recent orders a run may read.
MAX_ORDERS = 200


def _jobs() -> Jobs:
    app = console()
    return Jobs(app.redis, app.prefix, "preflight")


def start(orders: int, *, by: str, wait: bool = False) -> str:
    """Start a preflight reading the last ``orders`` orders; the run's id."""
    app = console()
    settings, client = app.settings, app.redis

    def work(_job: dict[str, Any]) -> dict[str, Any]:
        from sync_workers.preflight import run_preflight

        return {"report": run_preflight(settings, client, orders=orders).as_dict()}

    return _jobs().begin({"orders": orders}, work, by=by, wait=wait)


@bp.get("")
def index() -> str:
    runs = _jobs().recent()
    latest = next((run for run in runs if run.get("status") == "done"), None)
    return render_template(
        "preflight.html", runs=runs, latest=latest, orders=DEFAULT_ORDERS, outcomes=OUTCOMES
    )


@bp.post("")
def run() -> Response:
    text = request.form.get("orders", "").strip() or str(DEFAULT_ORDERS)
    if not text.isdigit() or not 0 <= int(text) <= MAX_ORDERS:
        abort(400, f"orders: a whole number from 0 to {MAX_ORDERS}")
    job_id = start(int(text), by=actor())
    app = console()
    ActionAudit(app.redis, app.prefix).record(
        "preflight", by=actor(), flow=None, orders=int(text), run=job_id
    )
    return redirect(url_for("preflight.result", job_id=job_id))


@bp.get("/<job_id>")
def result(job_id: str) -> str:
    job = _jobs().get(job_id)
    if job is None:
        abort(404, "no such preflight run (runs are kept for a day)")
    return render_template("preflight_run.html", job=job, outcomes=OUTCOMES)
