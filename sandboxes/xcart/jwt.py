"""The optional JWT login of X-Cart 5.5 (lexik bundle): ``POST /api-login/check``.

An admin profile's ``{"username", "password"}`` buys an HS256 token valid 3600 s, sent as
``Authorization: Bearer <token>``. Role mapping for JWT users is unconfirmed in the reference;
here an admin token may do everything, like the read/write token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from flask import Blueprint, Response, request

from sandboxes.xcart.context import Sandbox, current
from sandboxes.xcart.profiles import find_by_login, hash_password

TTL_SECONDS = 3600
bp = Blueprint("xcart_jwt", __name__)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _secret(sb: Sandbox) -> bytes:
    with sb.store.tx():
        secret = sb.store.get_meta("jwt_secret")
        if secret is None:
            secret = secrets.token_hex(32)
            sb.store.set_meta("jwt_secret", secret)
    return str(secret).encode()


def issue(sb: Sandbox, username: str) -> str:
    now = sb.now()
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    payload = _b64(
        json.dumps(
            {"iat": now, "exp": now + TTL_SECONDS, "roles": ["ROLE_ADMIN"], "username": username}
        ).encode()
    )
    signature = hmac.new(_secret(sb), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def verify(sb: Sandbox, token: str) -> str | None:
    """``None`` when valid, else lexik's message (``Invalid JWT Token``/``Expired JWT Token``)."""
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(_secret(sb), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            return "Invalid JWT Token"
        claims: dict[str, Any] = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return "Invalid JWT Token"
    if int(claims.get("exp", 0)) < sb.now():
        return "Expired JWT Token"
    return None


def unauthorized(message: str) -> Response:
    return Response(
        json.dumps({"code": 401, "message": message}), status=401, mimetype="application/json"
    )


@bp.post("/api-login/check")
def login() -> Response:
    sb = current()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return Response(
            json.dumps({"type": "https://tools.ietf.org/html/rfc2616#section-10",
                        "title": "An error occurred", "detail": "Invalid JSON."}),
            status=400, mimetype="application/problem+json",
        )  # fmt: skip
    username, password = body.get("username"), body.get("password")
    profile = find_by_login(sb, username) if isinstance(username, str) else None
    if (
        profile is None
        or profile.get("access_level") != 100
        or not isinstance(password, str)
        or profile.get("password_hash") != hash_password(password)
    ):
        return unauthorized("Invalid credentials.")
    return Response(json.dumps({"token": issue(sb, profile["login"])}), mimetype="application/json")
