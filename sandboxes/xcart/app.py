"""``create_app``: the X-Cart 5.5 REST API emulator with its ``/_sandbox/`` control surface."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from sandboxes.common.control import error, make_control_blueprint
from sandboxes.common.faults import FaultConfig, FaultInjector
from sandboxes.common.server import CLOCK
from sandboxes.common.stats import RequestStats
from sandboxes.xcart import jwt
from sandboxes.xcart import seed as seeding
from sandboxes.xcart.api import orders, products, profiles
from sandboxes.xcart.api.attributes import bp as attributes_bp
from sandboxes.xcart.api.memberships import bp as memberships_bp
from sandboxes.xcart.context import EXTENSION_KEY, Sandbox
from sandboxes.xcart.control import add_xcart_routes
from sandboxes.xcart.http import ApiError, error_response
from sandboxes.xcart.settings import Settings
from sandboxes.xcart.store import Store
from sandboxes.xcart.webhooks import WebhookDispatcher

DEFAULT_TOKENS = {"rw": "sandbox-rw", "ro": "sandbox-ro"}
FAULTS_ENV = "XCART_SANDBOX_FAULTS"
DB_NAME = "xcart.sqlite3"


def _fault_error(status: int) -> Response:
    titles = {500: "Internal Server Error", 503: "Service Unavailable", 429: "Too Many Requests"}
    response = error_response(ApiError(status, titles.get(status, "Error")))
    if status in (429, 503):
        response.headers["Retry-After"] = "1"
    return response


def _plain_401(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=401, mimetype="application/json")


def create_app(
    data_dir: Path,
    *,
    tokens: dict[str, str] | None = None,
    switches: dict[str, Any] | None = None,
    faults: FaultConfig | dict[str, Any] | None = None,
    seed: bool = False,
) -> Flask:
    """Build the sandbox app; data lives in ``data_dir/xcart.sqlite3`` and survives restarts.

    ``switches`` override saved switches (see ``settings.Switches``); ``faults`` (or the
    ``XCART_SANDBOX_FAULTS`` environment variable) sets the start-up fault configuration;
    ``seed`` loads the seed data when the store has no products yet.
    """
    app = Flask("xcart_sandbox")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    store = Store(Path(data_dir) / DB_NAME)
    settings = Settings(store, switches)
    stats = RequestStats()
    injector = FaultInjector(render_error=_fault_error, env_var=FAULTS_ENV)
    if faults is not None:
        injector.configure(faults)
    sandbox = Sandbox(
        store=store,
        settings=settings,
        webhooks=WebhookDispatcher(store, settings),
        stats=stats,
        faults=injector,
        tokens={**DEFAULT_TOKENS, **(tokens or {})},
    )
    app.extensions[EXTENSION_KEY] = sandbox
    app.config[CLOCK] = settings.now  # the Date header follows /_sandbox/clock
    injector.attach(app, stats)

    @app.before_request
    def authenticate() -> Response | None:
        if not request.path.startswith("/api/"):
            return None
        if request.routing_exception is not None:
            return None  # Symfony routes (404/405) before the firewall runs
        token = request.headers.get("X-Auth-Token")
        if token is None:
            bearer = request.headers.get("Authorization", "")
            if bearer.startswith("Bearer "):
                problem = jwt.verify(sandbox, bearer.removeprefix("Bearer ").strip())
                return jwt.unauthorized(problem) if problem else None
            return _plain_401({"code": 401, "message": "JWT Token not found"})
        if token == sandbox.tokens["rw"]:
            return None
        if token == sandbox.tokens["ro"]:
            if request.method not in ("GET", "HEAD"):
                raise ApiError(403, "Access Denied.")
            return None
        return _plain_401({"message": "Invalid credentials."})

    for blueprint in (orders.bp, products.bp, profiles.bp, jwt.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(memberships_bp)
    app.register_blueprint(attributes_bp)

    def reset() -> None:
        store.wipe()
        settings.reset()
        sandbox.webhooks.clear()

    control = make_control_blueprint(
        injector=injector,
        stats=stats,
        on_reset=reset,
        on_seed=lambda options: seeding.seed(sandbox, options),
        extra_stats=lambda: {
            "orders": store.scalar("SELECT COUNT(*) FROM orders"),
            "products": store.scalar("SELECT COUNT(*) FROM products"),
            "webhook_deliveries": len(sandbox.webhooks.deliveries()),
        },
        name="xcart_sandbox_control",
    )
    add_xcart_routes(control)
    app.register_blueprint(control)

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if request.path.startswith("/_sandbox"):
            return error(status, exc.description or exc.name)
        if status == 404:
            detail = f'No route found for "{request.method} {request.path}"'
        elif isinstance(exc, MethodNotAllowed):
            methods = set(exc.valid_methods or []) - {"OPTIONS", "HEAD"}
            allowed = ", ".join(m for m in ("GET", "POST", "PUT", "DELETE") if m in methods)
            detail = (
                f'No route found for "{request.method} {request.url}": Method Not Allowed '
                f"(Allow: {allowed})"
            )
            return error_response(ApiError(405, detail, {"Allow": allowed}))
        elif status == 500:
            detail = "Internal Server Error"
        else:
            detail = exc.description or exc.name
        return error_response(ApiError(status, detail))

    if seed and not store.scalar("SELECT COUNT(*) FROM products"):
        seeding.seed(sandbox, {})
    return app


def data_dir_from_env() -> Path:
    return Path(os.environ.get("XCART_SANDBOX_DATA_DIR", "data/sandboxes/xcart"))
