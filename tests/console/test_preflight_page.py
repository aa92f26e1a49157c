"""``/preflight``: an operator runs the go-live checks from the console against the sandboxes
and everyone reads the results; a check made to fail shows as a failure with what to do."""

from __future__ import annotations

import html
import re
import time

import pytest

from sync_workers.settings import get_settings
from sync_workers.task import get_dlq
from tests.cli.test_preflight import configure, receiver, subscribed  # noqa: F401 (fixtures)
from tests.console.conftest import OPERATOR, USERS, VIEWER, form_token, sign_in

HTML = {"Accept": "text/html"}


def finished(client, run_page: str) -> str:
    deadline = time.monotonic() + 120
    while 'id="run-status">running' in (text := client.get(run_page, headers=HTML).text):
        assert time.monotonic() < deadline, "the preflight did not finish"
        time.sleep(0.3)
    return text


def rows(page: str) -> dict[str, tuple[str, str, str]]:
    """Check name -> (outcome, summary, advice) from the page's table."""
    found = re.findall(
        r'<tr class="outcome-(\w+)"><td>.*?</td><td><code>([^<]+)</code></td><td>(.*?)</td>'
        r"<td>(.*?)</td></tr>",
        page,
    )
    return {name: (outcome, html.unescape(s), html.unescape(a)) for outcome, name, s, a in found}


@pytest.mark.usefixtures("subscribed", "clean_ledger")
def test_an_operator_runs_the_preflight_and_a_viewer_reads_it(console_app) -> None:
    operator = console_app.test_client()
    csrf = sign_in(operator, OPERATOR)

    started = operator.post("/preflight", data={"csrf_token": csrf, "orders": "5"})

    assert started.status_code == 302
    page = finished(operator, started.headers["Location"])
    checks = rows(page)
    assert 'id="run-status">done' in page and "Ready:" in page, page[-3000:]
    assert {"access.acumatica_sign_in", "access.xcart_key_writes"} <= set(checks)
    assert all(outcome == "pass" for outcome, _, _ in checks.values()), checks
    audit = [r for r in get_dlq().audit_log() if r["action"] == "preflight"]
    assert audit and audit[0]["by"] == f"console:{OPERATOR}" and audit[0]["orders"] == 5

    viewer = console_app.test_client()
    sign_in(viewer, VIEWER)
    listed = viewer.get("/preflight", headers=HTML).text
    assert rows(listed) == checks  # the latest results, for everyone
    assert 'id="run-preflight"' not in listed  # a viewer starts nothing
    assert started.headers["Location"] in listed


def test_a_wrong_password_shows_as_a_failed_check_with_what_to_do(
    configure,  # noqa: F811
    sandboxes,
    clean_ledger,
) -> None:
    from sync_workers.console.app import create_app
    from sync_workers.console.users import parse_users

    configure(ACUMATICA_PASSWORD="not-the-password")
    app = create_app(get_settings(), users=parse_users(USERS))
    client = app.test_client()
    csrf = sign_in(client, OPERATOR)

    started = client.post("/preflight", data={"csrf_token": csrf, "orders": "3"})
    page = finished(client, started.headers["Location"])

    assert "Not ready:" in page
    outcome, summary, advice = rows(page)["access.acumatica_sign_in"]
    assert outcome == "fail" and "refuses" in summary and "ACUMATICA_PASSWORD" in advice
    assert "not-the-password" not in page


def test_an_order_count_out_of_range_is_refused(client) -> None:
    csrf = sign_in(client, OPERATOR)
    listed = client.get("/preflight", headers=HTML).text
    assert form_token(listed) == csrf

    for value in ("-1", "201", "many"):
        answer = client.post("/preflight", data={"csrf_token": csrf, "orders": value})
        assert answer.status_code == 400
    assert not [r for r in get_dlq().audit_log() if r["action"] == "preflight"]
