"""Sign-in endpoints: ``/entity/auth/login|logout``, ``GET /entity``, OAuth 2.0 under ``/identity``."""

from __future__ import annotations

import secrets
from html import escape

from flask import Blueprint, Response, g, jsonify, request

from . import reference
from .auth import CLIENT_SECRET, TENANT, USER, InvalidGrant, LoginLimit
from .errors import http_error, invalid_request
from .rest import ENDPOINT, VERSIONS
from .sandbox import Sandbox

BUILD = "24.200.0041"
EXPIRED = "Tue, 12-Oct-1999 00:00:00 GMT"


def make_identity_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint("acumatica_identity", __name__)

    def login_limit() -> Response:
        return http_error(
            sandbox.settings.login_limit_status,
            "API Login Limit",
            "PX.Data.PXException",
        )

    @bp.post("/entity/auth/login")
    def login() -> Response:
        data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        if not isinstance(data, dict) or not data:
            return invalid_request("The request body should not be empty.")
        name = data.get("name")
        tenant = data.get("tenant") or data.get("company")
        if not sandbox.auth.check_credentials(name, data.get("password"), tenant):
            return http_error(500, "Error: Invalid credentials. Please try again.")
        branch = reference.branch_id(data.get("branch"))
        try:
            auth_value, session_id = sandbox.auth.login(str(name), tenant or TENANT, branch)
        except LoginLimit:
            return login_limit()
        response = Response(status=204)
        response.headers["X-Handled-By"] = "Acumatica-PX.Export/AuthenticationManagerModule"
        response.set_cookie(".ASPXAUTH", auth_value, path="/", httponly=True)
        response.set_cookie("ASP.NET_SessionId", session_id, path="/", httponly=True)
        response.set_cookie("CompanyID", tenant or TENANT, path="/", max_age=30 * 24 * 3600)
        user_branch = reference.branch_number(branch or reference.DEFAULT_BRANCH)
        response.set_cookie("UserBranch", str(user_branch), path="/")
        response.set_cookie("Locale", "Culture=en-US&TimeZone=GMTP0000U", path="/")
        response.set_cookie("requestid", secrets.token_hex(16).upper(), path="/")
        return response

    @bp.post("/entity/auth/logout")
    def logout() -> Response:
        sandbox.auth.logout(g.get("session"))
        response = Response(status=204)
        response.set_cookie(".ASPXAUTH", "", path="/", expires=EXPIRED, httponly=True)
        return response

    @bp.get("/entity")
    def endpoints() -> Response:
        return jsonify(
            {
                "version": {"acumaticaBuildVersion": BUILD, "databaseVersion": BUILD},
                "endpoints": [
                    {"name": ENDPOINT, "version": v, "href": f"/entity/{ENDPOINT}/{v}/"}
                    for v in sorted(VERSIONS)
                ],
            }
        )

    @bp.get("/Frames/Login.aspx")
    def sign_in_page() -> Response:
        """The sign-in form's fields only: clients read the tenant from ``txtSingleCompany``."""
        return Response(_sign_in_page(TENANT), mimetype="text/html")

    @bp.get("/identity/.well-known/openid-configuration")
    def discovery() -> Response:
        root = request.host_url.rstrip("/")
        return jsonify(
            {
                "issuer": f"{root}/identity",
                "token_endpoint": f"{root}/identity/connect/token",
                "authorization_endpoint": f"{root}/identity/connect/authorize",
                "grant_types_supported": [
                    "authorization_code",
                    "implicit",
                    "hybrid",
                    "password",
                    "refresh_token",
                ],
                "scopes_supported": ["api", "offline_access", "api:concurrent_access", "openid"],
            }
        )

    @bp.post("/identity/connect/token")
    def token() -> Response:
        form = request.form
        grant = form.get("grant_type")
        client_id = form.get("client_id") or ""
        if (
            not client_id.lower().endswith("@" + TENANT.lower())
            or form.get("client_secret") != CLIENT_SECRET
        ):
            return _oauth_error("invalid_client", "The client credentials are invalid.", 400)
        try:
            if grant == "password":
                if not sandbox.auth.check_credentials(
                    form.get("username"), form.get("password"), None
                ):
                    return _oauth_error("invalid_grant", "invalid_username_or_password", 400)
                scope = form.get("scope") or "api"
                return jsonify(sandbox.auth.password_grant(form.get("username") or USER, scope))
            if grant == "refresh_token":
                return jsonify(sandbox.auth.refresh_grant(form.get("refresh_token") or ""))
        except LoginLimit:
            return _oauth_error("invalid_grant", "API Login Limit", 400)
        except InvalidGrant as exc:
            return _oauth_error(exc.error, exc.description, 400)
        return _oauth_error(
            "unsupported_grant_type", f"The grant type '{grant}' is not supported.", 400
        )

    return bp


def _oauth_error(error: str, description: str, status: int) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def _sign_in_page(tenant: str) -> str:
    """The fields of a single-tenant instance's sign-in form, with their real names.

    On a single-tenant instance the tenant is the value of a hidden input (a drop-down,
    ``ctl00$phUser$cmbCompany``, replaces it when there are several tenants).
    """
    return (
        "<!DOCTYPE html>\n<html>\n<head><title>Sign In</title></head>\n<body>\n"
        '<form method="post" action="./Login.aspx" id="form1">\n'
        '<input name="ctl00$phUser$txtSingleCompany" type="hidden" id="txtSingleCompany"'
        f' value="{escape(tenant)}" />\n'
        '<input name="ctl00$phUser$txtUser" type="text" />\n'
        '<input name="ctl00$phUser$txtPass" type="password" />\n'
        '<input type="submit" name="ctl00$phUser$btnLogin" value="Sign In" />\n'
        "</form>\n</body>\n</html>\n"
    )
