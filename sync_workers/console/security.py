"""Every request is checked here before any page runs.

* Signed in, or sent to the sign-in page (a page) or answered 401 (anything else). Only the
  sign-in page, ``/healthz`` and the static files are open.
* A change (any method but GET and HEAD) needs the operator role (a viewer gets 403, whatever
  else the request holds) and the session's CSRF token, as the form field ``csrf_token`` or the
  header ``X-CSRF-Token`` (400 without it). The sign-in form has its own token.
* Pages that show customer data beyond ids (a dead letter's arguments and payload) are for
  operators only (:func:`operator_only`).
* Every answer forbids framing, inline scripts and caching, and sends no referrer off the site.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Response, abort, g, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from sync_workers.console.context import console, current_user
from sync_workers.console.sessions import COOKIE, same

log = logging.getLogger("sync_workers.console")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Endpoints open without a session.
OPEN = frozenset({"auth.sign_in", "static", "health"})
#: Changes a viewer may make: signing out.
ANYONE_MAY = frozenset({"auth.sign_out"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

F = TypeVar("F", bound=Callable[..., Any])


def safe_next(target: str | None) -> str:
    """A path on this site to go back to after signing in (anything else: the overview)."""
    if not target:
        return url_for("overview.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("overview.index")
    return target


def check_request() -> BaseResponse | None:
    """``before_request``: sign-in, role and CSRF (see the module's docstring)."""
    g.started = time.perf_counter()
    endpoint = request.endpoint or ""  # none for an unknown path: 404 only once signed in
    if endpoint in OPEN:
        return None
    app = console()
    session = app.sessions.get(request.cookies.get(COOKIE))
    user = app.users.get(session.user) if session else None
    if session is None or user is None:
        if request.method in SAFE_METHODS and request.accept_mimetypes.accept_html:
            return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
        abort(401)
    g.session, g.user = session, user
    if request.method in SAFE_METHODS:
        return None
    if not user.operator and endpoint not in ANYONE_MAY:
        abort(403, "your role is viewer: it changes nothing")
    given = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
    if not same(session.csrf, given):
        abort(400, "the form's CSRF token is missing or stale: reload the page and try again")
    return None


def operator_only(view: F) -> F:
    """A page for operators only (it shows customer data beyond ids): 403 for a viewer."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None or not user.operator:
            abort(403, "this page is for operators")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def harden(response: Response) -> Response:
    """``after_request``: headers on every answer, and one access-log line without the path's
    values (a record's page has its id in the path, a search its terms in the query)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    started = getattr(g, "started", None)
    elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
    rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
    user = current_user()
    log.info(
        "%s %s %s %.0fms %s",
        request.method,
        rule,
        response.status_code,
        elapsed,
        user.name if user else "-",
    )
    return response
