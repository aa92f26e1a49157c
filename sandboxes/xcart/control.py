"""X-Cart-specific ``/_sandbox/`` endpoints: switches, clock, shopper simulator, staff actions,
webhook subscriptions (extension) and the state-id table."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, jsonify

from sandboxes.common.control import error, json_body, masked
from sandboxes.xcart import checkout, staff
from sandboxes.xcart.checkout import CheckoutError
from sandboxes.xcart.context import current
from sandboxes.xcart.http import ApiError
from sandboxes.xcart.reference import STATES
from sandboxes.xcart.webhooks import EVENTS


def _api_error(exc: ApiError) -> Response:
    if isinstance(exc, CheckoutError):
        return error(exc.status, exc.detail, field=exc.field)
    return error(exc.status, exc.detail)


def _body() -> dict:
    try:
        return json_body()
    except ValueError as exc:
        raise CheckoutError("body", str(exc)) from exc


def _shown(subscription: dict) -> dict:
    return {**subscription, "secret": masked(subscription.get("secret"))}


def add_xcart_routes(bp: Blueprint) -> None:
    bp.register_error_handler(ApiError, _api_error)

    @bp.get("/config")
    def get_config() -> Response:
        return jsonify(asdict(current().settings.switches))

    @bp.post("/config")
    def set_config() -> Response:
        try:
            switches = current().settings.update(_body())
        except ValueError as exc:
            return error(400, str(exc))
        return jsonify(asdict(switches))

    @bp.get("/clock")
    def get_clock() -> Response:
        sb = current()
        return jsonify({"now": sb.now(), "offset_seconds": sb.settings.clock_offset})

    @bp.post("/clock")
    def set_clock() -> Response:
        sb = current()
        body = _body()
        try:
            if "offset_seconds" in body:
                sb.settings.set_clock_offset(float(body["offset_seconds"]))
            if "advance_seconds" in body:
                sb.settings.set_clock_offset(
                    sb.settings.clock_offset + float(body["advance_seconds"])
                )
        except (TypeError, ValueError):
            return error(400, "offset_seconds and advance_seconds must be numbers")
        return jsonify({"now": sb.now(), "offset_seconds": sb.settings.clock_offset})

    @bp.get("/states")
    def states() -> Response:
        return jsonify([s.to_json() for s in STATES.values()])

    @bp.post("/checkout")
    def place_order() -> tuple[Response, int]:
        return jsonify(checkout.place_order(current(), _body())), 201

    @bp.post("/orders/<int:order_id>/cancel")
    def cancel(order_id: int) -> Response:
        return jsonify(staff.cancel(current(), order_id, _body()))

    @bp.post("/orders/<int:order_id>/refund")
    def refund(order_id: int) -> Response:
        return jsonify(staff.refund(current(), order_id, _body()))

    @bp.post("/orders/<int:order_id>/edit")
    def edit(order_id: int) -> Response:
        return jsonify(staff.edit(current(), order_id, _body()))

    @bp.get("/webhooks")
    def list_webhooks() -> Response:
        sb = current()
        return jsonify(
            {
                "enabled": sb.settings.switches.webhooks_enabled,
                "subscriptions": [_shown(s) for s in sb.webhooks.subscriptions()],
            }
        )

    @bp.post("/webhooks")
    def subscribe() -> Response | tuple[Response, int]:
        body = _body()
        url, secret = body.get("url"), body.get("secret")
        events = body.get("events", ["*"])
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return error(400, "url must be an http(s) URL", field="url")
        if not isinstance(secret, str) or not secret:
            return error(400, "secret is required", field="secret")
        if not isinstance(events, list) or any(e != "*" and e not in EVENTS for e in events):
            return error(
                400, f"events must be a list of {', '.join(EVENTS)} or '*'", field="events"
            )
        return jsonify(_shown(current().webhooks.subscribe(url, events, secret))), 201

    @bp.delete("/webhooks/<int:sub_id>")
    def unsubscribe(sub_id: int) -> Response:
        if not current().webhooks.unsubscribe(sub_id):
            return error(404, f"no subscription {sub_id}")
        return Response(status=204)

    @bp.get("/webhooks/deliveries")
    def deliveries() -> Response:
        return jsonify(current().webhooks.deliveries())
