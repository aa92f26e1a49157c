"""Each page says what it promises: search, a record's timeline, groups, an entry, edit and
replay through the flow's validation, mapping gaps, reconcile."""

from __future__ import annotations

import json
import time

import pytest

from sync_workers.task import get_dlq
from tests.console.conftest import (
    BAD_ORDER,
    OPERATOR,
    VALID_ORDER,
    VIEWER,
    add_entry,
    add_record,
    form_token,
    sign_in,
)

HTML = {"Accept": "text/html"}


@pytest.fixture
def ledger_rows(clean_ledger):
    add_record(
        clean_ledger,
        source_id="42",
        data={"order_number": "1042", "status": "Open"},
        runs=[
            {
                "outcome": "retry",
                "error_class": "TransientError",
                "error": "timed out",
                "attempt": 1,
            },
            {"outcome": "ok", "steps": "fetch,validate,customer,transform,push", "attempt": 2},
        ],
    )
    add_record(
        clean_ledger,
        "customers",
        "profile:5",
        target_key="C000005",
        data={"email": "ana@example.com"},
    )
    add_record(
        clean_ledger, "products", "AA-0001", direction="acumatica_to_xcart", target_key="product:7"
    )
    return clean_ledger


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("42", "/records/orders/42"),  # X-Cart order id
        ("1042", "/records/orders/42"),  # X-Cart order number, kept in the ledger
        ("SO/000042", "/records/orders/42"),  # Acumatica key
        ("000042", "/records/orders/42"),  # Acumatica number without its type
        ("ana@example.com", "/records/customers/profile:5"),  # a customer's e-mail
        ("5", "/records/customers/profile:5"),  # a profile id, without its ledger prefix
        ("AA-0001", "/records/products/AA-0001"),  # a SKU
    ],
)
def test_search_finds_a_record_by_any_of_its_names(client, ledger_rows, term, found) -> None:
    sign_in(client, VIEWER)

    page = client.get("/records", query_string={"q": term}, headers=HTML)

    assert page.status_code == 200
    assert f'href="{found}' in page.text


def test_a_records_page_shows_both_ids_and_its_timeline(client, ledger_rows) -> None:
    sign_in(client, OPERATOR)

    page = client.get("/records/orders/42", headers=HTML)

    assert page.status_code == 200
    assert "<code>42</code>" in page.text and "SO/000042" in page.text
    assert page.text.count('class="outcome-') == 2
    assert "TransientError" in page.text and "trace-42" in page.text
    assert 'id="resync"' in page.text


def test_the_overview_draws_each_flows_last_24_hours(client, ledger_rows) -> None:
    add_entry("77")
    sign_in(client, VIEWER)

    page = client.get("/", headers=HTML)

    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 6
    assert "dead letter(s) in orders/validate" in page.text  # what needs attention first


def test_dead_letters_are_grouped_by_pattern_with_ids_and_numbers_taken_out(client) -> None:
    for record in ("1", "22", "333"):
        add_entry(record)
    add_entry("4", message="order 4 is invalid: items[0].sku: SKU 'X' is not known in Acumatica and not mapped",
              field_errors={"items[0].sku": "SKU 'X' is not known in Acumatica and not mapped"})  # fmt: skip
    sign_in(client, VIEWER)

    page = client.get("/dead-letters", headers=HTML)

    assert page.text.count("data-group=") == 2
    assert (
        "order # is invalid: shipping_method_name: unmapped shipping method &#39;Drone&#39;"
        in page.text
    )
    assert 'class="replay-group"' not in page.text  # a viewer is offered no action


def test_an_operator_sees_an_entrys_arguments_and_its_audit_trail(client) -> None:
    entry = add_entry("42")
    sign_in(client, OPERATOR)

    page = client.get(f"/dead-letters/{entry.id}", headers=HTML)

    assert page.status_code == 200
    assert "jane@example.com" in page.text  # the payload: customer data, for an operator
    assert "dead-lettered" in page.text and 'id="edit"' in page.text


def test_an_edit_the_flows_validation_refuses_is_not_published(
    client, known_skus, redis_client
) -> None:
    entry = add_entry("42")
    csrf = sign_in(client, OPERATOR)
    edited = {"record_id": "42", "order": {**BAD_ORDER, "id": 42, "total": 1.0}, "verify": False}

    answer = client.post(
        f"/dead-letters/{entry.id}/edit",
        data={"csrf_token": csrf, "arguments": json.dumps(edited)},
        headers=HTML,
    )

    assert answer.status_code == 422
    assert "validation refused it" in answer.text and "shipping_method_name" in answer.text
    assert get_dlq().get(entry.id).status == "open"
    assert redis_client.llen(get_dlq().prefix + "orders") == 0


def test_an_edit_that_passes_the_flows_validation_is_replayed(
    client, known_skus, redis_client
) -> None:
    entry = add_entry("42")
    csrf = sign_in(client, OPERATOR)
    form = client.get(f"/dead-letters/{entry.id}/edit", headers=HTML)
    assert "&#34;Drone&#34;" in form.text
    edited = {"record_id": "42", "order": {**VALID_ORDER, "id": 42}, "verify": False}

    answer = client.post(
        f"/dead-letters/{entry.id}/edit",
        data={"csrf_token": csrf, "arguments": json.dumps(edited)},
    )

    assert answer.status_code == 302
    replayed = get_dlq().get(entry.id)
    assert replayed.status == "replayed" and replayed.replays[0]["edited"] is True
    assert replayed.replays[0]["by"] == f"console:{OPERATOR}"
    assert redis_client.llen(get_dlq().prefix + "orders") == 1
    assert (
        "passed the tasks.orders.sync chain"
        in client.get(f"/dead-letters/{entry.id}", headers=HTML).text
    )


def test_an_edit_that_changes_the_record_is_refused(client) -> None:
    entry = add_entry("42")
    csrf = sign_in(client, OPERATOR)
    edited = {"record_id": "43", "order": VALID_ORDER, "verify": False}

    answer = client.post(
        f"/dead-letters/{entry.id}/edit", data={"csrf_token": csrf, "arguments": json.dumps(edited)}
    )

    assert answer.status_code == 422 and "identifies the record" in answer.text


def test_the_mapping_page_lists_values_no_mapping_covers_with_counts(client) -> None:
    for record in ("1", "2", "3"):
        add_entry(record)
    sign_in(client, VIEWER)

    page = client.get("/mapping", headers=HTML)

    assert page.status_code == 200
    assert page.text.count('<span class="status synced">valid</span>') == 6
    row = page.text.split('id="unmapped"')[1]
    assert (
        "shipping method" in row and "<code>Drone</code>" in row and '<td class="num">3</td>' in row
    )


def test_reconcile_runs_a_flows_drift_and_shows_it(client, sandboxes, clean_ledger) -> None:
    csrf = sign_in(client, OPERATOR)

    started = client.post("/reconcile", data={"csrf_token": csrf, "flow": "customers", "since": ""})

    assert started.status_code == 302
    run_page = started.headers["Location"]
    deadline = time.monotonic() + 60
    while 'id="run-status">running' in (text := client.get(run_page, headers=HTML).text):
        assert time.monotonic() < deadline, "the drift check did not finish"
        time.sleep(0.2)
    assert 'id="run-status">done' in text and 'id="drift-count"' in text
    audit = [r for r in get_dlq().audit_log() if r["action"] == "reconcile"]
    assert audit and audit[0]["by"] == f"console:{OPERATOR}" and audit[0]["flow"] == "customers"
    listed = client.get("/reconcile", headers=HTML).text
    assert form_token(listed) == csrf and run_page in listed
