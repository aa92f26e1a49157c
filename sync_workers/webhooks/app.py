"""The receiver's Flask app: the two webhook endpoints, ``/healthz`` and ``/metrics``.

Every request under ``/webhooks/`` is authenticated before it is routed (:mod:`.auth`).
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

from sync_workers.settings import Settings, get_settings
from sync_workers.webhooks import acumatica, auth, xcart
from sync_workers.webhooks.context import EXTENSION, Receiver, receiver
from sync_workers.webhooks.enqueue import Enqueue, celery_enqueue
from sync_workers.webhooks.errors import json_error

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, enqueue: Enqueue | None = None) -> Flask:
    """The receiver for ``settings``; ``enqueue`` defaults to publishing on the Celery broker."""
    settings = settings or get_settings()
    app = Flask("sync_workers.webhooks")
    app.config["MAX_CONTENT_LENGTH"] = settings.webhook_max_body_bytes
    app.extensions[EXTENSION] = Receiver(
        settings=settings,
        enqueue=enqueue or celery_enqueue,
        redis_url=settings.redis_url.reveal(),
    )
    app.before_request(auth.authenticate)
    app.register_blueprint(acumatica.bp)
    app.register_blueprint(xcart.bp)
    app.register_error_handler(HTTPException, json_error)
    app.register_error_handler(Exception, _unexpected)

    @app.get("/healthz")
    def health() -> tuple[Response, int]:
        try:
            receiver().redis.ping()
        except redis.RedisError as exc:
            return jsonify({"status": "unavailable", "redis": type(exc).__name__}), 503
        return jsonify({"status": "ok"}), 200

    @app.get("/metrics")
    def metrics() -> Response | tuple[Response, int]:
        from sqlalchemy.exc import SQLAlchemyError

        from sync_workers.observability.metrics import render_latest

        try:
            body, content_type = render_latest(receiver().settings)
        except (SQLAlchemyError, redis.RedisError) as exc:
            log.warning("metrics unavailable: %s", type(exc).__name__)
            reason = f"metrics unavailable: {type(exc).__name__} (is the ledger migrated?)"
            return jsonify({"error": reason, "status": 503}), 503
        return Response(body, content_type=content_type)

    return app


def _unexpected(exc: Exception) -> Response:
    """A bug, not bad input: logged with its traceback, answered as JSON."""
    log.exception("webhook receiver error")
    return json_error(InternalServerError("internal error; the request was not enqueued"))
