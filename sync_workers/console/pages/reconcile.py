"""``/reconcile``: run a flow's drift check from a date, see the differences, repair."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sync_workers.celery import FLOW_QUEUES
from sync_workers.console.audit import ActionAudit
from sync_workers.console.context import actor, console, notify
from sync_workers.console.drift_jobs import DriftJobs

bp = Blueprint("reconcile", __name__, url_prefix="/reconcile")


def _jobs() -> DriftJobs:
    app = console()
    return DriftJobs(app.redis, app.prefix)


@bp.get("")
def index() -> str:
    return render_template("reconcile.html", flows=FLOW_QUEUES, runs=_jobs().recent())


def _since(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        abort(400, f"since: {text!r} is not a date (YYYY-MM-DD) or an ISO time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@bp.post("")
def run() -> Response:
    flow = request.form.get("flow", "")
    if flow not in FLOW_QUEUES:
        abort(400, f"flow: one of {', '.join(FLOW_QUEUES)}")
    since = _since(request.form.get("since", "").strip())
    app = console()
    job_id = _jobs().start(flow, since, by=actor())
    ActionAudit(app.redis, app.prefix).record(
        "reconcile", by=actor(), flow=flow, since=since.isoformat() if since else None, run=job_id
    )
    return redirect(url_for("reconcile.result", job_id=job_id))


@bp.get("/<job_id>")
def result(job_id: str) -> str:
    job = _jobs().get(job_id)
    if job is None:
        abort(404, "no such reconcile run (runs are kept for a day)")
    return render_template("reconcile_run.html", job=job)


@bp.post("/<job_id>/repair")
def repair(job_id: str) -> Response:
    from sync_workers.cli.reconcile import repair as publish_repairs

    jobs = _jobs()
    job = jobs.get(job_id)
    if job is None or job.get("status") != "done":
        abort(404, "no finished reconcile run with this id")
    if job.get("repair"):
        notify("This run was repaired already: run the check again first.", "error")
        return redirect(url_for("reconcile.result", job_id=job_id))
    enqueued, manual = publish_repairs(job.get("drift") or [])
    app = console()
    repaired = {"by": actor(), "enqueued": enqueued, "manual": len(manual)}
    jobs.repaired(job, repaired)
    ActionAudit(app.redis, app.prefix).record(
        "reconcile repair",
        by=actor(),
        flow=job["flow"],
        run=job_id,
        tasks=[item["task_id"] for item in enqueued],
        records=sum(len(item["ids"]) for item in enqueued),
    )
    records = sum(len(item["ids"]) for item in enqueued)
    notify(f"Repair enqueued for {records} record(s); {len(manual)} need a person.")
    return redirect(url_for("reconcile.result", job_id=job_id))
