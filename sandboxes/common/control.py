"""The ``/_sandbox/`` control surface: credentials-free, loopback only, not an emulated API.

It never answers with a secret: what a client set as one (a webhook secret, a push header's
value) is shown as :data:`SECRET_MASK` when set.

:func:`make_control_blueprint` builds the endpoints both sandboxes share; an app adds its own
routes to the returned blueprint before registering it::

    bp = make_control_blueprint(injector=faults, stats=stats, on_reset=reset, on_seed=seed)
    @bp.post("/checkout")
    def checkout(): ...
    app.register_blueprint(bp)

Shared endpoints:

* ``GET /_sandbox/faults``: the fault configuration; ``POST`` replaces it (a 400 names the
  bad field).
* ``GET /_sandbox/stats``: request counters (plus the app's ``extra_stats()``);
  ``POST /_sandbox/stats/reset`` zeroes them.
* ``POST /_sandbox/reset``: clears the data (``on_reset``), the faults and the stats; with
  ``{"seed": true}`` seeds again afterwards.
* ``POST /_sandbox/seed``: ``on_seed(options)`` with the JSON body as options; answers its summary.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandboxes.common.faults import FaultConfigError, FaultInjector
from sandboxes.common.stats import RequestStats

ResetHook = Callable[[], None]
SeedHook = Callable[[dict[str, Any]], dict[str, Any] | None]
StatsHook = Callable[[], dict[str, Any]]

SECRET_MASK = "***"


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def masked(value: Any) -> str | None:
    """How the control surface shows a secret: :data:`SECRET_MASK` when set, else ``None``."""
    return SECRET_MASK if value else None


def json_body() -> dict[str, Any]:
    """The request's JSON object, ``{}`` when empty; raises ``ValueError`` on anything else."""
    if not request.get_data():
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def error(status: int, message: str, **extra: Any) -> Response:
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


def make_control_blueprint(
    *,
    injector: FaultInjector,
    stats: RequestStats,
    on_reset: ResetHook,
    on_seed: SeedHook,
    extra_stats: StatsHook | None = None,
    name: str = "sandbox_control",
) -> Blueprint:
    bp = Blueprint(name, __name__, url_prefix="/_sandbox")

    @bp.before_request
    def _loopback_only() -> Response | None:
        if not is_loopback(request.remote_addr):
            return error(403, "the sandbox control surface answers loopback clients only")
        return None

    @bp.get("/faults")
    def get_faults() -> Response:
        return jsonify(injector.config.to_json())

    @bp.post("/faults")
    def set_faults() -> Response:
        try:
            config = injector.configure(json_body())
        except (FaultConfigError, ValueError) as exc:
            return error(400, str(exc))
        return jsonify(config.to_json())

    @bp.get("/stats")
    def get_stats() -> Response:
        data = stats.snapshot()
        if extra_stats is not None:
            data.update(extra_stats())
        return jsonify(data)

    @bp.post("/stats/reset")
    def reset_stats() -> Response:
        stats.reset()
        return jsonify({"ok": True})

    @bp.post("/reset")
    def reset() -> Response:
        try:
            body = json_body()
        except ValueError as exc:
            return error(400, str(exc))
        on_reset()
        injector.configure(None)
        stats.reset()
        result: dict[str, Any] = {"ok": True}
        if body.get("seed"):
            result["seeded"] = on_seed({k: v for k, v in body.items() if k != "seed"}) or {}
        return jsonify(result)

    @bp.post("/seed")
    def seed() -> Response:
        try:
            body = json_body()
        except ValueError as exc:
            return error(400, str(exc))
        try:
            summary = on_seed(body) or {}
        except ValueError as exc:
            return error(400, str(exc))
        return jsonify({"ok": True, **summary})

    return bp
