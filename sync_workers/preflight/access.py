"""Access: each system answers, the credentials work, the endpoint exists, the licence caps and
the clocks agree.

**Proving that the X-Cart key may write, without writing.** X-Cart 5.5 has no "who am I" call;
its access rule is by method: a GET needs the read-only or the read/write key, anything else
the read/write key, and the firewall applies it before the resource is looked up (reference
§2.1). So the check sends ``PUT /api/orders/0/shipping_status`` with an empty status code: an
order with id 0 cannot exist (ids start at 1) and an empty code is invalid, so the store changes
nothing either way, and the answer tells the key: 400 (the request got past the access rule to
validation: the key may write), 403 (the read-only key), 401 (a key the store does not know).
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime
from typing import Any

from sync_workers.clients import acumatica_config
from sync_workers.connectors.acumatica import auth
from sync_workers.connectors.errors import (
    ACUMATICA,
    AuthError,
    Forbidden,
    LoginLimitReached,
    NotFound,
    ValidationFailed,
)
from sync_workers.connectors.http import Transport, read_json
from sync_workers.errors import SyncError
from sync_workers.observability.status import acumatica_limits
from sync_workers.preflight.context import SYSTEM_NAMES, Context
from sync_workers.preflight.results import Result
from sync_workers.redaction import redact_url

GROUP = "access"
#: X-Cart's write probe: a status route of an order that cannot exist, with an invalid code.
WRITE_PROBE_PATH = "/api/orders/0/shipping_status"
#: A clock this far off is worth a look (X-Cart's dates have whole seconds, polls settle 2 s).
CLOCK_WARN_SECONDS = 5.0


def _short(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(text.split())[:200]


# -- X-Cart -------------------------------------------------------------------------------------


def xcart_answers(ctx: Context) -> Result:
    name = "access.xcart_answers"
    url = redact_url(ctx.settings.xcart_base_url)
    before = time.time()
    try:
        response = ctx.xcart().request("GET", "/api/orders", params={"itemsPerPage": 1})
    except AuthError:
        ctx.broken["xcart"] = "X-Cart refuses the API key"
        return Result(
            name,
            GROUP,
            "fail",
            f"X-Cart at {url} refuses the API key (401)",
            "set XCART_API_TOKEN to the store's read/write key (Settings -> API in the admin)",
        )
    except SyncError as exc:
        ctx.broken["xcart"] = f"X-Cart at {url} does not answer"
        return Result(
            name,
            GROUP,
            "fail",
            f"X-Cart at {url} does not answer: {_short(exc)}",
            "check XCART_BASE_URL (the store's address; the API is under /api) and that this "
            "machine reaches it",
        )
    after = time.time()
    ctx.memo("clock:xcart", lambda: (response.headers.get("Date"), before, after))
    return Result(
        name, GROUP, "pass", f"X-Cart answers at {url}/api ({(after - before) * 1000:.0f} ms)"
    )


def xcart_key_writes(ctx: Context) -> Result:
    name = "access.xcart_key_writes"
    ctx.require("xcart")
    try:
        ctx.xcart().request("PUT", WRITE_PROBE_PATH, json={"code": ""})
    except Forbidden:
        return Result(
            name,
            GROUP,
            "fail",
            "XCART_API_TOKEN is the store's read-only key: X-Cart refuses it anything but reads "
            "(403)",
            "the engine writes stock, order statuses and profiles: set XCART_API_TOKEN to the "
            "read/write key (Settings -> API); keep the read-only key for reporting tools",
        )
    except (NotFound, ValidationFailed):
        return Result(
            name,
            GROUP,
            "pass",
            "the key may write: a status change for order 0 (which cannot exist) got past "
            "X-Cart's access rule and was refused by validation; nothing changed",
        )
    except AuthError:
        return Result(
            name, GROUP, "fail", "X-Cart refuses the key for writes (401)", "check XCART_API_TOKEN"
        )
    except SyncError as exc:
        return Result(
            name,
            GROUP,
            "warn",
            f"could not tell whether the key may write: {_short(exc)}",
            "check on the store's Settings -> API page that XCART_API_TOKEN is the read/write key",
        )
    return Result(
        name,
        GROUP,
        "warn",
        "the store accepted a status change for order 0; the key may write",
        "look at the store's order 0: X-Cart should have refused it",
    )


# -- Acumatica ----------------------------------------------------------------------------------


def _transport(ctx: Context) -> Transport:
    """A transport of its own for signing in and out: outside the fleet's session pool, so the
    credentials are really tried (the pool would reuse a session opened with older ones)."""
    return Transport(
        ACUMATICA,
        connect_timeout=ctx.settings.acumatica_connect_timeout,
        read_timeout=ctx.settings.acumatica_read_timeout,
        headers={"Accept": "application/json"},
        read_retries=0,
    )


def _endpoints(answer: Any) -> list[str]:
    rows = answer.get("endpoints") if isinstance(answer, dict) else None
    return [f"{e.get('name')}/{e.get('version')}" for e in rows or () if isinstance(e, dict)]


def acumatica_answers(ctx: Context) -> Result:
    name = "access.acumatica_answers"
    url = redact_url(ctx.settings.acumatica_base_url)
    transport = _transport(ctx)
    before = time.time()
    try:
        response = transport.request("GET", f"{ctx.settings.acumatica_base_url.rstrip('/')}/entity")
        answer = read_json(response, ACUMATICA)
    except SyncError as exc:
        ctx.broken["acumatica"] = f"Acumatica at {url} does not answer"
        return Result(
            name,
            GROUP,
            "fail",
            f"Acumatica at {url} does not answer: {_short(exc)}",
            "check ACUMATICA_BASE_URL (the instance's address, with its virtual directory if "
            "it has one) and that this machine reaches it",
        )
    finally:
        transport.close()
    after = time.time()
    ctx.memo("clock:acumatica", lambda: (response.headers.get("Date"), before, after))
    ctx.memo("endpoints", lambda: _endpoints(answer))
    version = answer.get("version") if isinstance(answer, dict) else None
    build = version.get("acumaticaBuildVersion") if isinstance(version, dict) else None
    return Result(
        name,
        GROUP,
        "pass",
        f"Acumatica answers at {url}" + (f" (build {build})" if build else ""),
        details={"build": build},
    )


def acumatica_sign_in(ctx: Context) -> Result:
    """Sign in (cookie login, or OAuth token then a refresh) and out, as the workers do."""
    name = "access.acumatica_sign_in"
    ctx.require("acumatica")
    config = acumatica_config(ctx.settings)
    mode = "OAuth token" if config.auth_mode == "oauth" else "sign-in"
    transport = _transport(ctx)
    try:
        try:
            credential = auth.login(transport, config)
        except LoginLimitReached:
            return Result(
                name,
                GROUP,
                "warn",
                "every API user seat of the licence is taken, so the credentials could not be "
                "tried (API Login Limit)",
                "free a seat (sessions left open by other integrations close after 10 idle "
                "minutes; see SM604000) and run the preflight again",
            )
        except AuthError as exc:
            ctx.broken["acumatica"] = "Acumatica refuses the credentials"
            return Result(
                name,
                GROUP,
                "fail",
                f"Acumatica refuses the {mode} of user {config.username!r} on tenant "
                f"{config.tenant!r}: {_short(exc)}",
                "check ACUMATICA_USERNAME, ACUMATICA_PASSWORD and ACUMATICA_TENANT (the tenant's "
                "login name)"
                + (", ACUMATICA_CLIENT_ID and _SECRET (SM303010)" if mode == "OAuth token" else "")
                + "; the user needs API access rights",
            )
        except SyncError as exc:
            return Result(
                name, GROUP, "fail", f"the {mode} failed: {_short(exc)}", "run it again later"
            )
        steps = [mode]
        if config.auth_mode == "oauth":
            if not credential.get("refresh_token"):
                return _sign_out(
                    ctx,
                    transport,
                    credential,
                    Result(
                        name,
                        GROUP,
                        "fail",
                        "the OAuth token came without a refresh token",
                        "give the connected application (SM303010) the offline_access scope",
                    ),
                )
            try:
                credential = auth.refresh(transport, config, credential)
            except SyncError as exc:
                return _sign_out(
                    ctx,
                    transport,
                    credential,
                    Result(
                        name,
                        GROUP,
                        "fail",
                        f"the OAuth refresh failed: {_short(exc)}",
                        "check the connected application's refresh token settings (SM303010)",
                    ),
                )
            steps.append("refresh")
        try:
            listed = read_json(
                transport.request(
                    "GET",
                    f"{config.base_url.rstrip('/')}/entity",
                    headers=auth.headers_for(credential),
                ),
                ACUMATICA,
            )
            ctx.remember("endpoints", _endpoints(listed) or ctx.memo("endpoints", list))
        except SyncError:
            pass  # the unauthenticated list stays
        steps.append("sign-out")
        return _sign_out(
            ctx,
            transport,
            credential,
            Result(
                name,
                GROUP,
                "pass",
                f"user {config.username!r} on tenant {config.tenant!r}: {', '.join(steps)} work",
            ),
        )
    finally:
        transport.close()


def _sign_out(
    ctx: Context, transport: Transport, credential: auth.Credential, result: Result
) -> Result:
    url = f"{ctx.settings.acumatica_base_url.rstrip('/')}/entity/auth/logout"
    try:
        transport.request("POST", url, headers=auth.headers_for(credential), limited=False)
    except SyncError as exc:
        if result.outcome == "pass":
            return Result(
                result.check,
                GROUP,
                "warn",
                f"signed in, but the sign-out failed: {_short(exc)}",
                "the session holds a licence seat until Acumatica's idle timeout (10 minutes)",
            )
    return result


def acumatica_endpoint(ctx: Context) -> Result:
    name = "access.acumatica_endpoint"
    ctx.require("acumatica")
    wanted = f"{ctx.settings.acumatica_endpoint_name}/{ctx.settings.acumatica_endpoint_version}"
    listed: list[str] = ctx.memo("endpoints", list)
    if not listed:
        return Result(
            name,
            GROUP,
            "warn",
            f"Acumatica did not list its endpoints; {wanted} could not be checked",
            "check Web Service Endpoints (SM207060) for " + wanted,
        )
    if wanted.casefold() in (e.casefold() for e in listed):
        return Result(name, GROUP, "pass", f"endpoint {wanted} exists")
    ctx.broken["acumatica"] = f"Acumatica has no endpoint {wanted}"
    return Result(
        name,
        GROUP,
        "fail",
        f"endpoint {wanted} does not exist on this instance (it has {', '.join(sorted(listed))})",
        "set ACUMATICA_ENDPOINT to one it has (the engine is built for Default/24.200.001), or "
        "extend the endpoint on SM207060",
        {"endpoints": listed},
    )


def acumatica_licence(ctx: Context) -> Result:
    """The engine's caps and what it uses now, against the licence where it can be read (the
    sandbox's ``/_sandbox/licence``; a real licence is on SM604000, which no API shows)."""
    name = "access.acumatica_licence"
    settings = ctx.settings
    now = acumatica_limits(settings, ctx.redis)
    rate = now.requests_per_minute
    caps = (
        f"{now.max_sessions} API sessions, "
        + (f"{rate} requests/min" if rate else "no request cap")
        + f", {now.max_concurrent or 'no'} concurrent"
    )
    using = (
        f"sessions {now.sessions_in_use}/{now.max_sessions}"
        + (f", requests {now.requests_in_window}/{rate} this minute" if rate else "")
        + f", {now.in_flight} in flight"
    )
    details: dict[str, Any] = {"caps": caps, "in_use": using}
    licence = ctx.sandbox("acumatica", "licence")
    problems: list[str] = []
    if isinstance(licence, dict):
        details["licence"] = licence
        if now.max_sessions and now.max_sessions > int(licence.get("max_sessions") or 0):
            problems.append(
                f"ACUMATICA_MAX_SESSIONS={now.max_sessions} is above the licence's "
                f"{licence.get('max_sessions')} API users"
            )
        if licence.get("requests_per_minute") and (
            not rate or rate > int(licence["requests_per_minute"])
        ):
            problems.append(
                f"ACUMATICA_REQUESTS_PER_MINUTE={rate or 'unset'} is above the licence's "
                f"{licence['requests_per_minute']}"
            )
        if now.max_concurrent and now.max_concurrent > int(licence.get("max_concurrent") or 0):
            problems.append(
                f"ACUMATICA_MAX_CONCURRENT={now.max_concurrent} is above the licence's "
                f"{licence.get('max_concurrent')} concurrent requests"
            )
    if problems:
        return Result(
            name,
            GROUP,
            "fail",
            "; ".join(problems),
            "lower the engine's caps to the licence's (SM604000), leaving a seat for people",
            details,
        )
    if now.cooling_down_seconds:
        return Result(
            name,
            GROUP,
            "warn",
            f"the fleet pauses {now.cooling_down_seconds:.0f}s after a 429 ({using})",
            "another integration may share the licence; lower ACUMATICA_REQUESTS_PER_MINUTE",
            details,
        )
    seen = "the sandbox's licence allows them" if licence else "compare with SM604000"
    return Result(name, GROUP, "pass", f"engine caps {caps} ({seen}); now {using}", details=details)


# -- Clocks -------------------------------------------------------------------------------------


def _clock_limit(ctx: Context) -> float:
    """Half the shortest poll overlap of the templates: past it, late records slip by."""
    overlaps = [
        float((ctx.template(flow).get("poll") or {}).get("overlap_seconds", 300))
        for flow in ("orders", "customers", "payments", "shipments", "products", "inventory")
    ]
    return min(overlaps) / 2


def clock(system: str) -> Any:
    def check(ctx: Context) -> Result:
        name = f"access.{system}_clock"
        shown = SYSTEM_NAMES[system]
        ctx.require(system)
        header, before, after = ctx.memo(f"clock:{system}", lambda: (None, 0.0, 0.0))
        try:
            remote = email.utils.parsedate_to_datetime(header) if header else None
        except (TypeError, ValueError):
            remote = None
        if remote is None:
            return Result(
                name,
                GROUP,
                "warn",
                f"{shown} sent no usable Date header; its clock could not be compared",
                "keep both machines on NTP",
            )
        if remote.tzinfo is None:
            remote = remote.replace(tzinfo=UTC)
        here = datetime.fromtimestamp((before + after) / 2, UTC)
        # The header has whole seconds: the server's clock was somewhere in the next one.
        offset = (remote - here).total_seconds() + 0.5
        way = "ahead of" if offset > 0 else "behind"
        summary = (
            f"{shown}'s clock is {abs(offset):.0f}s {way} this machine's"
            if abs(offset) >= 1
            else f"{shown}'s clock agrees with this machine's to the second"
        )
        limit = _clock_limit(ctx)
        details = {"offset_seconds": round(offset, 1), "fail_above_seconds": limit}
        if abs(offset) > limit:
            return Result(
                name,
                GROUP,
                "fail",
                f"{summary}: more than the polls' overlap allows ({limit:.0f}s)",
                f"set the clock of {shown}'s server or of this machine right (NTP); records "
                "changed near a poll could be missed",
                details,
            )
        if abs(offset) > CLOCK_WARN_SECONDS:
            return Result(
                name, GROUP, "warn", summary, "keep both machines on NTP (chrony, timesyncd)",
                details,
            )  # fmt: skip
        return Result(name, GROUP, "pass", summary, details=details)

    check.__name__ = f"{system}_clock"
    return check
