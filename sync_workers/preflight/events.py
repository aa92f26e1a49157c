"""Events: Acumatica push notifications reach the receiver, and the store module's signed
webhooks where they are configured.

Read-only, so no test notification is made (it would take a change in Acumatica): a flow passes
when the receiver has accepted a push notification for it (``ops:last_push``, what
``sync-status`` shows) or, on the Acumatica sandbox, when the sandbox is subscribed to push the
flow's inquiry to the receiver, its last delivery (if any) was accepted, and the receiver at the
subscription's address answers an unsigned probe with 401 (it runs and has its secret; the probe
is refused before it is read, so nothing is enqueued). Polling covers every
flow without push, except the sales-order status write-back, which only push notifications
carry: a flow with nothing seen fails when it is that one, and warns otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from sync_workers.mapping.inventory import load_config
from sync_workers.observability import ops_keys
from sync_workers.preflight.context import Context
from sync_workers.preflight.results import Result
from sync_workers.redaction import redact_url
from sync_workers.webhooks.acumatica import PUSH_QUERIES

GROUP = "events"
SM302000 = "docs/operations.md#push-notifications-sm302000"
PROBE_TIMEOUT_SECONDS = 5


def push_queries() -> dict[str, str]:
    """Flow -> the generic inquiry whose notifications it reads (inventory's from its template)."""
    return {**PUSH_QUERIES, "inventory": load_config().push_query}


def _ago(iso: str) -> str:
    try:
        seconds = int((datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds())
    except ValueError:
        return iso
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


def _push_only(ctx: Context, flow: str) -> str | None:
    """What only push notifications carry for this flow (``None``: the poll carries it all)."""
    if flow == "orders" and any(
        v is not None
        for v in (ctx.template("orders").get("order_status_to_shipping") or {}).values()
    ):
        return "sales-order status changes reach the store (orders.yaml order_status_to_shipping)"
    return None


def _interval(ctx: Context, flow: str) -> float:
    own = getattr(ctx.settings, f"{flow}_poll_interval_seconds", None)
    return float(own or ctx.settings.poll_interval_seconds)


def acumatica_push(ctx: Context) -> list[Result]:
    seen = ops_keys.last_pushes(ctx.redis, ctx.settings.redis_key_prefix)
    described = ctx.sandbox("acumatica", "push")
    if ctx.settings.webhook_acumatica_secret is None and not described and not any(seen.values()):
        return [
            Result(
                "events.push",
                GROUP,
                "fail",
                "WEBHOOK_ACUMATICA_SECRET is not set, so the receiver refuses every push "
                f"notification (403): no flow gets any ({', '.join(push_queries())})",
                "set it to a long random value and give the same value as the Header Value of the "
                f"push notifications (SM302000, {SM302000})",
            )
        ]
    results = []
    for flow, query in push_queries().items():
        name = f"events.push.{flow}"
        if seen.get(flow):
            results.append(
                Result(
                    name,
                    GROUP,
                    "pass",
                    f"{flow}: the receiver last accepted a push notification {_ago(seen[flow])}",
                )
            )
        elif isinstance(described, dict):
            results.append(_sandbox_push(ctx, flow, query, described))
        else:
            results.append(_real_push(ctx, flow, query))
    return results


def _sandbox_push(ctx: Context, flow: str, query: str, described: dict[str, Any]) -> Result:
    name = f"events.push.{flow}"
    subscriptions = [
        s
        for s in described.get("subscriptions") or ()
        if s.get("active")
        and str(s.get("url") or "").rstrip("/").endswith(f"/webhooks/acumatica/{flow}")
        and query in (s.get("queries") or ())
    ]
    if not subscriptions:
        return Result(
            name,
            GROUP,
            "fail",
            f"{flow}: the Acumatica sandbox has no push subscription for {query} to the receiver",
            "`make run` subscribes the receiver; by hand: POST /_sandbox/push "
            f'{{"name", "url": ".../webhooks/acumatica/{flow}", "queries": ["{query}"], '
            '"header_name", "header_value"} (the receiver\'s WEBHOOK_ACUMATICA_SECRET)',
        )
    names = {s.get("name") for s in subscriptions}
    log = ctx.sandbox("acumatica", "push/log") or {}
    mine = [d for d in log.get("deliveries") or () if d.get("subscription") in names]
    if mine and not mine[-1].get("ok"):
        last = mine[-1]
        why = last.get("status") or last.get("error") or "no answer"
        return Result(
            name,
            GROUP,
            "fail",
            f"{flow}: the sandbox's last push of {query} to the receiver failed ({why})",
            "401: the subscription's header value is not the receiver's "
            "WEBHOOK_ACUMATICA_SECRET; 403: the receiver has none; no answer: start the "
            "receiver (python -m sync_workers.webhooks)",
            {"delivery": {k: last.get(k) for k in ("status", "error", "attempt", "at")}},
        )
    url = str(subscriptions[0].get("url"))
    answer = _probe_receiver(ctx, url)
    if answer != 401:
        why = (
            "does not answer"
            if answer is None
            else "has no WEBHOOK_ACUMATICA_SECRET, so it refuses every notification (403)"
            if answer == 403
            else f"answered an unsigned notification with {answer} instead of refusing it (401)"
        )
        return Result(
            name,
            GROUP,
            "fail",
            f"{flow}: the receiver at {redact_url(url)} {why}",
            "start the receiver (python -m sync_workers.webhooks, or `make run`) with "
            "WEBHOOK_ACUMATICA_SECRET set to the subscription's header value",
            {"url": redact_url(url), "status": answer},
        )
    state = "its last delivery was accepted" if mine else "none sent yet"
    return Result(
        name,
        GROUP,
        "pass",
        f"{flow}: the Acumatica sandbox pushes {query} to the receiver, which answers ({state})",
    )


def _probe_receiver(ctx: Context, url: str) -> int | None:
    """The receiver's answer to an unsigned, empty notification (``None``: no answer). A
    receiver with its secret set refuses it (401) before reading it, so nothing is enqueued."""

    def ask() -> int | None:
        try:
            return requests.post(url, json={}, timeout=PROBE_TIMEOUT_SECONDS).status_code
        except requests.RequestException:
            return None

    return ctx.memo(f"receiver:{url}", ask)


def _real_push(ctx: Context, flow: str, query: str) -> Result:
    name = f"events.push.{flow}"
    missing = _push_only(ctx, flow)
    advice = (
        f"define the {query} push notification on SM302000 ({SM302000}); if it is defined, "
        "change a record in Acumatica and run the preflight again, and look for 401s in the "
        "receiver's log"
    )
    if missing:
        return Result(
            name,
            GROUP,
            "fail",
            f"{flow}: the receiver has accepted no push notification; without them no {missing}",
            advice,
        )
    return Result(
        name,
        GROUP,
        "warn",
        f"{flow}: the receiver has accepted no push notification; changes arrive with the poll "
        f"(every {_interval(ctx, flow):.0f}s)",
        advice,
    )


def xcart_webhooks(ctx: Context) -> Result:
    name = "events.xcart_webhooks"
    if ctx.settings.webhook_xcart_secret is None:
        return Result(
            name,
            GROUP,
            "pass",
            "signed X-Cart webhooks are not configured: the store is polled (X-Cart has none of "
            "its own)",
        )
    prefix = ctx.settings.redis_key_prefix
    accepted = sum(1 for _ in ctx.redis.scan_iter(match=f"{prefix}seen:xcart:*", count=500))
    if accepted:
        return Result(
            name,
            GROUP,
            "pass",
            f"the receiver accepted {accepted} signed store webhooks in the last "
            f"{ctx.settings.webhook_dedupe_seconds // 3600}h",
        )
    config = ctx.sandbox("xcart", "config")
    listed = ctx.sandbox("xcart", "webhooks")
    if isinstance(config, dict) and isinstance(listed, dict):
        subscriptions = [
            s
            for s in listed.get("subscriptions") or ()
            if str(s.get("url") or "").rstrip("/").endswith("/webhooks/xcart")
        ]
        if not config.get("webhooks_enabled") or not subscriptions:
            return Result(
                name,
                GROUP,
                "fail",
                "WEBHOOK_XCART_SECRET is set, but the X-Cart sandbox sends no webhooks to the "
                "receiver",
                'turn them on (POST /_sandbox/config {"webhooks_enabled": true}) and subscribe '
                '(POST /_sandbox/webhooks {"url": ".../webhooks/xcart", "secret", "events": '
                '["*"]}), or unset WEBHOOK_XCART_SECRET',
            )
        urls = {s.get("url") for s in subscriptions}
        deliveries = [
            d for d in ctx.sandbox("xcart", "webhooks/deliveries") or () if d.get("url") in urls
        ]
        if deliveries and deliveries[-1].get("given_up"):
            return Result(
                name,
                GROUP,
                "fail",
                "the X-Cart sandbox gave up delivering a webhook to the receiver",
                "the subscription's secret must be WEBHOOK_XCART_SECRET, and the receiver must run",
            )
        return Result(
            name, GROUP, "pass", "the X-Cart sandbox sends signed webhooks to the receiver"
        )
    return Result(
        name,
        GROUP,
        "warn",
        "WEBHOOK_XCART_SECRET is set, but the receiver accepted no signed store webhook in the "
        f"last {ctx.settings.webhook_dedupe_seconds // 3600}h",
        "check the store module's receiver URL (/webhooks/xcart) and key; 401s in the receiver's "
        "log mean a different key or a clock off by more than WEBHOOK_REPLAY_WINDOW_SECONDS; "
        "polling still carries every order",
    )


CHECKS = (acumatica_push, xcart_webhooks)
