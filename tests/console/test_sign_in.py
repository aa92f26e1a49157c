"""Sign-in: required everywhere, a token on its own form, throttled, and no way to be sent off
the site afterwards."""

from __future__ import annotations

import pytest

from sync_workers.console.sessions import COOKIE, MAX_FAILURES
from sync_workers.console.users import UsersError, parse_users
from sync_workers.settings import SettingsError, load_settings
from tests.console.conftest import OPERATOR, PASSWORDS, VIEWER, form_token, sign_in


@pytest.mark.parametrize("path", ["/", "/records?q=42", "/dead-letters", "/mapping", "/reconcile"])
def test_every_page_sends_a_stranger_to_the_sign_in_page(client, path) -> None:
    answer = client.get(path, headers={"Accept": "text/html"})

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=")


def test_a_request_without_a_session_that_is_not_a_page_gets_401(client) -> None:
    assert client.get("/dead-letters", headers={"Accept": "application/json"}).status_code == 401
    assert client.post("/dead-letters/group/abc/resolve").status_code == 401
    assert client.get("/no-such-page", headers={"Accept": "application/json"}).status_code == 401


def test_the_right_password_signs_in_and_the_wrong_one_does_not(client) -> None:
    form = client.get("/login")
    wrong = client.post(
        "/login",
        data={
            "signin_token": form_token(form.text, "signin_token"),
            "name": VIEWER,
            "password": "x" * 20,
        },
    )
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text

    sign_in(client, VIEWER)
    page = client.get("/", headers={"Accept": "text/html"})

    assert page.status_code == 200
    assert f"{VIEWER} (viewer)" in page.text


def test_the_sign_in_form_needs_its_own_token(client) -> None:
    client.get("/login")
    answer = client.post("/login", data={"name": OPERATOR, "password": PASSWORDS[OPERATOR]})

    assert answer.status_code == 400
    assert client.get_cookie(COOKIE) is None


def test_sign_in_is_refused_after_too_many_failures_even_with_the_right_password(client) -> None:
    for _ in range(MAX_FAILURES):
        form = client.get("/login")
        client.post(
            "/login",
            data={
                "signin_token": form_token(form.text, "signin_token"),
                "name": OPERATOR,
                "password": "not-it-at-all",
            },
        )
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "signin_token": form_token(form.text, "signin_token"),
            "name": OPERATOR,
            "password": PASSWORDS[OPERATOR],
        },
    )

    assert answer.status_code == 429


def test_after_sign_in_the_next_page_stays_on_the_site(client) -> None:
    form = client.get("/login?next=//evil.example.com/x")
    answer = client.post(
        "/login",
        data={
            "signin_token": form_token(form.text, "signin_token"),
            "name": VIEWER,
            "password": PASSWORDS[VIEWER],
            "next": "//evil.example.com/x",
        },
    )

    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_sign_out_ends_the_session_for_good(client) -> None:
    csrf = sign_in(client, VIEWER)
    token = client.get_cookie(COOKIE).value

    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    client.set_cookie(COOKIE, token)  # the old cookie, replayed
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 302


def test_pages_forbid_framing_inline_scripts_and_caching(client) -> None:
    sign_in(client, VIEWER)
    answer = client.get("/", headers={"Accept": "text/html"})

    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "<script>" not in answer.text and " style=" not in answer.text


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ana:short:operator", "at least 12 characters"),
        ("ana:long-enough-pass:admin", "role must be viewer or operator"),
        ("ana-long-enough-pass-operator", "must be name:password:role"),
        ("ana:long-enough-pass:viewer,ana:long-enough-pass:operator", "listed twice"),
    ],
)
def test_console_users_are_checked_at_start_without_showing_a_password(value, reason) -> None:
    with pytest.raises(UsersError, match=reason):
        parse_users(value)
    with pytest.raises(SettingsError) as problem:
        load_settings({"CONSOLE_USERS": value})
    assert any(
        line.startswith("CONSOLE_USERS:") and reason in line for line in problem.value.problems
    )
    assert "long-enough-pass" not in str(problem.value) and "short" not in str(problem.value)


def test_a_password_may_hold_colons() -> None:
    users = parse_users("ana:pass:with:colons:ok:viewer")

    assert users["ana"].role == "viewer"


def test_loading_the_sign_in_page_again_leaves_the_first_form_valid(client) -> None:
    first = form_token(client.get("/login").text, "signin_token")
    client.get("/login")  # another tab, or the browser's favicon request sent here

    answer = client.post(
        "/login",
        data={"signin_token": first, "name": OPERATOR, "password": PASSWORDS[OPERATOR]},
    )

    assert answer.status_code == 302
    assert client.get_cookie(COOKIE) is not None
