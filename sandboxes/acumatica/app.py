"""The Acumatica sandbox as a Flask app: wiring of sessions, licence, faults and blueprints."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from sandboxes.common.server import CLOCK

from . import values
from .control import make_sandbox_blueprint
from .errors import http_error, not_found_resource
from .identity import make_identity_blueprint
from .licence import Declined
from .odata import make_odata_blueprint
from .rest import make_rest_blueprint
from .sandbox import Sandbox
from .seed import seed

CONTROL_PREFIX = "/_sandbox"
UNQUEUED = ("/entity/auth/logout",)
UI_PREFIX = "/Frames/"  # web pages, not API requests: outside the licence's request queue
ODATA_PATH = re.compile(r"^/t/[^/]+/api/odata/")


class _TrailingSlashIgnored:
    """ASP.NET routing matches a URL with or without its trailing slash: so does the sandbox,
    on every route of the contract API, the OData services and the identity server."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if len(path) > 1 and path.endswith("/") and not path.startswith(CONTROL_PREFIX):
            environ["PATH_INFO"] = path.rstrip("/") or "/"
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


def create_app(data_dir: Path, **options: Any) -> Flask:
    """Build the app.

    Options: ``faults`` (dict, else ``$SANDBOX_FAULTS``), ``licence`` and ``behaviour`` (dicts
    merged into the stored settings), ``seed`` (load the seed data set when the store is empty).
    """
    sandbox = Sandbox(Path(data_dir), faults=options.get("faults"))
    if options.get("licence"):
        sandbox.set_limits(options["licence"])
    if options.get("behaviour"):
        sandbox.set_behaviour(options["behaviour"])
    if options.get("seed") and not sandbox.store.all("StockItem"):
        seed(sandbox.env)

    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["acumatica_sandbox"] = sandbox
    # the Date header follows behaviour.clock_offset_seconds / frozen_clock
    app.config[CLOCK] = lambda: values.now().timestamp()
    app.wsgi_app = _TrailingSlashIgnored(app.wsgi_app)  # type: ignore[method-assign]

    @app.before_request
    def _identify() -> None:
        session = sandbox.auth.session_for_cookie(request.cookies.get(".ASPXAUTH"))
        if session is None:
            session = sandbox.auth.session_for_bearer(request.headers.get("Authorization"))
        g.session = session

    @app.before_request
    def _licence() -> Response | None:
        if request.path.startswith((CONTROL_PREFIX, UI_PREFIX)) or request.path in UNQUEUED:
            return None
        if _basic_odata() and not sandbox.limits.odata_in_api_queue:
            return None  # a conventional user's request (licence.py: the switch)
        try:
            sandbox.gate.enter()
        except Declined as exc:
            sandbox.stats.begin(request.method, request.path)
            sandbox.stats.record_status(429)
            sandbox.stats.end()
            return http_error(429, f"API request limit exceeded. {exc}")
        g.in_gate = True
        return None

    sandbox.faults.attach(app, sandbox.stats)

    @app.teardown_request
    def _leave(_exc: BaseException | None) -> None:
        if g.pop("in_gate", False):
            sandbox.gate.leave()

    def _basic_odata() -> bool:
        return (
            ODATA_PATH.match(request.path) is not None
            and g.get("session") is None
            and (request.headers.get("Authorization") or "").lower().startswith("basic ")
        )

    def odata_authorised() -> bool:
        return g.get("session") is not None or sandbox.auth.basic_auth_ok(
            request.headers.get("Authorization")
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        if exc.code == 404:
            return not_found_resource(request.url)
        return http_error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return http_error(500, str(exc) or type(exc).__name__, "System.Exception")

    app.register_blueprint(make_identity_blueprint(sandbox))
    app.register_blueprint(make_rest_blueprint(sandbox))
    app.register_blueprint(make_odata_blueprint(sandbox, odata_authorised))
    app.register_blueprint(make_sandbox_blueprint(sandbox))
    return app


def sandbox_of(app: Flask) -> Sandbox:
    sandbox: Sandbox = app.extensions["acumatica_sandbox"]
    return sandbox
