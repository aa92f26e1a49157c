"""The Acumatica sandbox's part of the ``/_sandbox/`` control surface.

Shared endpoints (faults, stats, reset, seed) come from ``common/control.py``; this adds
``licence``, ``behaviour``, ``push``, ``push/log``, ``push/resend`` and ``sessions``.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from sandboxes.common.control import error, json_body, make_control_blueprint

from .sandbox import Sandbox
from .seed import seed


def make_sandbox_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = make_control_blueprint(
        injector=sandbox.faults,
        stats=sandbox.stats,
        on_reset=sandbox.reset,
        on_seed=lambda options: seed(sandbox.env, options),
        extra_stats=sandbox.extra_stats,
        name="acumatica_sandbox",
    )

    @bp.after_request
    def _also_reset_own_counters(response: Response) -> Response:
        if request.method == "POST" and request.path.rstrip("/") == "/_sandbox/stats/reset":
            sandbox.reset_stats()
        return response

    def update(apply: object) -> Response | None:
        try:
            apply(json_body())  # type: ignore[operator]
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))
        return None

    @bp.get("/licence")
    def get_licence() -> Response:
        return jsonify(sandbox.limits.to_json())

    @bp.post("/licence")
    def set_licence() -> Response:
        return update(sandbox.set_limits) or jsonify(sandbox.limits.to_json())

    @bp.get("/behaviour")
    def get_behaviour() -> Response:
        return jsonify(sandbox.settings.to_json())

    @bp.post("/behaviour")
    def set_behaviour() -> Response:
        return update(sandbox.set_behaviour) or jsonify(sandbox.settings.to_json())

    @bp.get("/push")
    def get_push() -> Response:
        return jsonify(sandbox.push.describe())

    @bp.post("/push")
    def set_push() -> Response:
        return update(sandbox.push.configure) or jsonify(sandbox.push.describe())

    @bp.get("/push/log")
    def push_log() -> Response:
        return jsonify(sandbox.push.log())

    @bp.post("/push/resend")
    def push_resend() -> Response:
        try:
            body = json_body()
        except ValueError as exc:
            return error(400, str(exc))
        ids = body.get("ids")
        return jsonify({"resent": sandbox.push.resend(list(ids) if ids is not None else None)})

    @bp.get("/sessions")
    def sessions() -> Response:
        return jsonify(
            {
                "sessions_in_use": sandbox.auth.sessions_in_use,
                "peak_sessions": sandbox.auth.peak_sessions,
            }
        )

    @bp.post("/sessions/drop")
    def drop_sessions() -> Response:
        """Sign everybody out, as an application-pool recycle does (clients then get 401)."""
        sandbox.auth.clear()
        return jsonify({"sessions_in_use": 0})

    return bp
