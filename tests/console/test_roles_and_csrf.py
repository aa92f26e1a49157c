"""Roles and CSRF on every change the console offers: a viewer is refused with 403 whatever
the request, an operator's change needs the session's token."""

from __future__ import annotations

import pytest

from sync_workers.console.app import create_app
from sync_workers.redis_client import prefixed
from sync_workers.settings import get_settings
from tests.console.conftest import OPERATOR, VIEWER, add_entry, add_record, sign_in

#: Every URL rule that changes something, with values for its parts.
VALUES = {
    "key": "0123456789abcdef",
    "entry_id": "0" * 32,
    "job_id": "0" * 16,
    "flow": "orders",
    "source_id": "42",
}


def _changes() -> list[str]:
    app = create_app(get_settings(), users={})
    paths = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("auth.sign_in", "auth.sign_out"):
            continue
        if rule.methods and "POST" in rule.methods:
            paths.append(rule.rule)
    return sorted(paths)


def _fill(rule: str) -> str:
    for name, value in VALUES.items():
        rule = rule.replace(f"<{name}>", value).replace(f"<path:{name}>", value)
    return rule


CHANGES = _changes()


def test_the_console_offers_changes_on_every_page_that_acts() -> None:
    assert {
        "/dead-letters/group/<key>/resolve",
        "/dead-letters/group/<key>/replay",
        "/dead-letters/<entry_id>/replay",
        "/dead-letters/<entry_id>/resolve",
        "/dead-letters/<entry_id>/edit",
        "/records/<flow>/<path:source_id>/resync",
        "/reconcile",
        "/reconcile/<job_id>/repair",
    } <= set(CHANGES)


def _keys(redis_client) -> dict[str, object]:
    """This test run's keys (the Redis server is shared) with what each holds, but for record
    lock heartbeats: a process that has taken a lock renews its own from a thread, whatever
    requests come in meanwhile."""
    prefix = get_settings().redis_key_prefix
    heartbeats = prefixed("alive", "")
    return {
        key: redis_client.dump(key)
        for key in redis_client.scan_iter(match=prefix + "*")
        if not key.startswith(heartbeats)
    }


@pytest.mark.parametrize("rule", CHANGES)
def test_a_viewer_is_refused_every_change_with_403(client, rule, redis_client) -> None:
    csrf = sign_in(client, VIEWER)
    before = _keys(redis_client)

    answer = client.post(_fill(rule), data={"csrf_token": csrf, "as_of": "9e12", "flow": "orders"})

    assert answer.status_code == 403
    assert _keys(redis_client) == before  # nothing written, not even an audit line


@pytest.mark.parametrize("rule", CHANGES)
def test_an_operators_change_without_the_csrf_token_is_refused(client, rule) -> None:
    sign_in(client, OPERATOR)

    missing = client.post(_fill(rule), data={"as_of": "9e12", "flow": "orders"})
    forged = client.post(_fill(rule), data={"csrf_token": "forged", "as_of": "9e12"})

    assert missing.status_code == 400 and forged.status_code == 400


def test_a_viewer_reads_the_pages_but_not_a_dead_letters_arguments(client, clean_ledger) -> None:
    entry = add_entry("42")
    add_record(clean_ledger, source_id="42", runs=[{}])
    sign_in(client, VIEWER)

    page = client.get(f"/dead-letters/{entry.id}", headers={"Accept": "text/html"})
    edit = client.get(f"/dead-letters/{entry.id}/edit", headers={"Accept": "text/html"})
    record = client.get("/records/orders/42", headers={"Accept": "text/html"})

    assert page.status_code == 200 and "shown to operators only" in page.text
    assert "jane@example.com" not in page.text and "O&#39;Brien" not in page.text
    assert edit.status_code == 403
    assert record.status_code == 200 and 'id="resync"' not in record.text
