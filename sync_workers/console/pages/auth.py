"""Sign-in and sign-out."""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, abort, g, make_response, redirect, render_template, request
from werkzeug.wrappers import Response

from sync_workers.console.context import console
from sync_workers.console.security import safe_next
from sync_workers.console.sessions import COOKIE, IDLE_SECONDS, SIGNIN_COOKIE, same
from sync_workers.console.users import authenticate

log = logging.getLogger("sync_workers.console")
bp = Blueprint("auth", __name__)


def _form(error: str | None = None, status: int = 200) -> Response:
    """The sign-in page; the browser's sign-in token is kept when it has one, so a second
    page load (another tab, a redirected favicon request) does not make the first form stale."""
    token = request.cookies.get(SIGNIN_COOKIE, "")
    if not 32 <= len(token) <= 64:
        token = secrets.token_urlsafe(32)
    page = render_template(
        "sign_in.html",
        signin_token=token,
        error=error,
        next=request.values.get("next", ""),
        configured=bool(console().users),
    )
    response = make_response(page, status)
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )
    return response


@bp.route("/login", methods=["GET", "POST"])
def sign_in() -> Response:
    if request.method == "GET":
        return _form()
    if not same(request.cookies.get(SIGNIN_COOKIE), request.form.get("signin_token")):
        abort(400, "the sign-in form is stale: reload the page and try again")
    app = console()
    name = request.form.get("name", "")[:100]
    password = request.form.get("password", "")[:1000]
    address = request.remote_addr or "?"
    who = name if name in app.users else "an unknown name"  # a mistyped password stays out
    if app.sessions.throttled(name, address):
        log.warning("console: sign-in refused for %s: too many failures", who)
        return _form("Too many failed attempts: wait 15 minutes.", 429)
    user = authenticate(app.users, name, password)
    if user is None:
        app.sessions.failed(name, address)
        log.warning("console: sign-in failed for %s", who)
        return _form("Wrong name or password.", 401)
    app.sessions.succeeded(name, address)
    old = request.cookies.get(COOKIE)
    if old:
        app.sessions.delete(old)
    session = app.sessions.create(user.name)
    log.info("console: %s signed in (%s)", user.name, user.role)
    response = redirect(safe_next(request.form.get("next")))
    response.set_cookie(
        COOKIE,
        session.token,
        max_age=IDLE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    response.delete_cookie(SIGNIN_COOKIE)
    return response


@bp.post("/logout")
def sign_out() -> Response:
    app = console()
    token = request.cookies.get(COOKIE)
    if token:
        app.sessions.delete(token)
    log.info("console: %s signed out", g.user.name)
    response = redirect("/login")
    response.delete_cookie(COOKIE)
    return response
