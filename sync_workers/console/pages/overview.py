"""``/``: per flow its polls, cursors, lag (with the last 24 hours), backlog, retries and open
dead letters; the licence; what needs attention first."""

from __future__ import annotations

from flask import Blueprint, render_template

from sync_workers.console.context import console
from sync_workers.console.facts import collect
from sync_workers.console.grouping import Grouping
from sync_workers.console.svg import bar, lag_chart

bp = Blueprint("overview", __name__)


@bp.get("/")
def index() -> str:
    app = console()
    snapshot = Grouping(app.queue).snapshot()
    facts = collect(app.settings, app.redis, app.engine, snapshot)
    return render_template(
        "overview.html", facts=facts, pending=snapshot.pending, lag_chart=lag_chart, bar=bar
    )
