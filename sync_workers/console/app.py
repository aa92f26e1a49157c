"""The console's Flask app: blueprints per page, templates and static files in the package."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask, Response, g, jsonify, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from sync_workers.console import security
from sync_workers.console.context import (
    EXTENSION,
    Console,
    console,
    current_session,
    current_user,
    take_messages,
)
from sync_workers.console.svg import seconds
from sync_workers.console.users import User, parse_users
from sync_workers.settings import Settings, get_settings

log = logging.getLogger("sync_workers.console")


def create_app(settings: Settings | None = None, *, users: dict[str, User] | None = None) -> Flask:
    """The console for ``settings``; ``users`` defaults to those of ``CONSOLE_USERS``."""
    from sync_workers.console.pages import (
        auth,
        dead_letters,
        mapping,
        overview,
        preflight,
        reconcile,
        records,
    )

    settings = settings or get_settings()
    if users is None:
        configured = settings.console_users
        users = parse_users(configured.reveal()) if configured else {}
    app = Flask("sync_workers.console", static_folder="static", template_folder="templates")
    app.extensions[EXTENSION] = Console(settings=settings, users=users)
    app.jinja_env.autoescape = True
    app.jinja_env.filters.update(
        when=_when,
        ago=_ago,
        seconds=seconds,
        number=lambda n: f"{n:,}" if n is not None else "\N{EN DASH}",
    )
    app.context_processor(_globals)
    app.before_request(security.check_request)
    app.after_request(security.harden)
    for blueprint in (auth, overview, records, dead_letters, mapping, reconcile, preflight):
        app.register_blueprint(blueprint.bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(redis.RedisError, _unavailable)
    app.register_error_handler(SQLAlchemyError, _unavailable)

    @app.get("/healthz")
    def health() -> tuple[Response, int]:
        try:
            console().redis.ping()
        except redis.RedisError as exc:
            return jsonify({"status": "unavailable", "redis": type(exc).__name__}), 503
        return jsonify({"status": "ok"}), 200

    return app


def _globals() -> dict[str, Any]:
    session = current_session()
    started = getattr(g, "started", None)
    return {
        "user": current_user(),
        "csrf_token": session.csrf if session else "",
        "messages": take_messages,
        "elapsed_ms": lambda: (time.perf_counter() - started) * 1000 if started else 0.0,
    }


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _when(value: Any) -> str:
    moment = _moment(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "\N{EN DASH}"


def _ago(value: Any) -> str:
    moment = _moment(value)
    if moment is None:
        return "never"
    delta = (datetime.now(UTC) - moment).total_seconds()
    return f"{seconds(abs(delta))} ago" if delta >= 0 else f"in {seconds(-delta)}"


def _http_error(exc: HTTPException) -> Any:
    code = exc.code or 500
    if request.accept_mimetypes.accept_html and not request.path.startswith("/static/"):
        return render_template("error.html", code=code, name=exc.name, text=exc.description), code
    return jsonify({"error": exc.description, "status": code}), code


def _unavailable(exc: Exception) -> Any:
    what = "Redis" if isinstance(exc, redis.RedisError) else "the ledger"
    log.warning("console: %s unavailable: %s", what, type(exc).__name__)
    text = f"{what} is unavailable ({type(exc).__name__}); the page cannot be shown. Try again."
    if isinstance(exc, SQLAlchemyError):
        text += " Is the ledger migrated (python -m sync_workers.ledger upgrade)?"
    return render_template("error.html", code=503, name="Unavailable", text=text), 503
