"""The payments flow's Acumatica-side poll over the DAC-based OData service (``poll.source:
odata``, the default): payments whose status changed are read from the ARPayment DAC, an idle
poll is one OData request with no contract-API request and no API seat, and what it finds is
what the contract API's Payment entity would have given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
import yaml

from sync_workers import clients
from sync_workers.errors import PermanentError
from sync_workers.flows.payments import changes
from sync_workers.flows.runner import run_inline
from sync_workers.mapping import templates
from tasks import payments as payment_tasks
from tests.flows.order_to_cash.helpers import (
    acumatica_stats,
    address,
    checkout,
    linked,
    open_dead_letters,
    wait_for,
)
from tests.flows.order_to_cash.test_payment_status import check_order, payment_code, received_check

ODATA = "GET /t/Company/api/odata/dac/ARPayment"
PAYMENT_LIST = "GET /entity/Default/24.200.001/Payment"


def set_source(directory, value: str) -> None:
    path = directory / "payments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["poll"]["source"] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()


def reset_stats(url: str) -> None:
    requests.post(f"{url}/_sandbox/stats/reset", json={}, timeout=10).raise_for_status()


def take_every_seat(url: str) -> list[requests.Session]:
    """Someone else signs in until the licence has no API seat left."""
    taken = []
    while True:
        http = requests.Session()
        answer = http.post(
            f"{url}/entity/auth/login",
            json={"name": "admin", "password": "sandbox", "tenant": "Company"},
            timeout=10,
        )
        if answer.status_code != 204:
            assert "API Login Limit" in answer.text
            return taken
        taken.append(http)


def check_order_inline(xcart: str, email: str) -> tuple[dict, str, str]:
    """An order paid by check, synced in this process (no worker): its sales order's keys."""
    order = checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0012", "amount": 1}],
            "billing_address": address("Chuck", email.split("@")[0], "OR"),
            "payment_method": "Check",
        },
    )
    run_inline("orders", "sync", str(order["id"]))
    order_type, order_nbr = linked("orders")[str(order["id"])].split("/")
    return order, order_type, order_nbr


def contract_rows() -> set[tuple[str, str, str]]:
    rows = clients.acumatica().iter_list("Payment", select=["Type", "ReferenceNbr", "Status"])
    return {(r["Type"], r["ReferenceNbr"], r["Status"]) for r in rows}


def odata_rows() -> set[tuple[str, str, str]]:
    rows = changes._odata_rows(None, datetime.now(UTC))
    return {(r["Type"], r["ReferenceNbr"], r["Status"]) for r in rows}


def test_released_check_reaches_xcart_through_the_odata_poll(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    full, f_type, f_nbr = check_order(xcart, "odata.full@example.com")
    part, p_type, p_nbr = check_order(xcart, "odata.part@example.com")
    received_check(f_type, f_nbr, full["total"])
    received_check(p_type, p_nbr, round(part["total"] / 2, 2))
    reset_stats(acumatica)

    payment_tasks.poll.delay()  # no push: only the poll can find the released checks

    wait_for(lambda: payment_code(full["id"]) == "P")
    wait_for(lambda: payment_code(part["id"]) == "PP")
    by_path = acumatica_stats(acumatica)
    assert by_path[ODATA] == 1
    assert PAYMENT_LIST not in by_path  # the window was not listed through the contract API
    assert not open_dead_letters()
    payment_tasks.poll.delay()  # the cursor handed both out: nothing again
    wait_for(lambda: acumatica_stats(acumatica).get(ODATA) == 2)
    assert payment_code(full["id"]) == "P" and payment_code(part["id"]) == "PP"


def test_idle_payments_poll_is_one_odata_request_and_needs_no_api_seat(
    sandboxes, clean_ledger
) -> None:
    acumatica = sandboxes["acumatica"].url
    list(changes.changed_acumatica_payments())  # the cursor starts
    reset_stats(acumatica)
    taken = take_every_seat(acumatica)
    try:
        assert taken, "the licence has API seats to take"
        assert list(changes.changed_acumatica_payments()) == []
    finally:
        for http in taken:
            http.post(f"{acumatica}/entity/auth/logout", timeout=10)
    by_path = acumatica_stats(acumatica)
    assert {p: n for p, n in by_path.items() if "/api/odata/" in p} == {ODATA: 1}
    assert not [p for p in by_path if "/entity/Default/" in p]


def test_odata_rows_carry_the_contract_api_labels(sandboxes, clean_ledger) -> None:
    xcart = sandboxes["xcart"].url
    order = checkout(
        xcart,
        {
            "email": "labels@example.com",
            "items": [{"sku": "AA-0011", "amount": 1}],
            "billing_address": address("La", "Bels", "OR"),
            "payment_method": "Credit Card",
        },
    )
    run_inline("orders", "sync", str(order["id"]))  # a Prepayment with its sales order
    check, c_type, c_nbr = check_order_inline(xcart, "labels.check@example.com")
    received_check(c_type, c_nbr, check["total"])  # a Payment, Closed
    client = clients.acumatica()
    so = client.get_by_keys("SalesOrder", c_type, c_nbr)
    held = client.put(
        "Payment",
        {"Type": "Payment", "CustomerID": so["CustomerID"], "PaymentMethod": "CHECK",
         "CashAccount": "10200WH", "PaymentAmount": 5.0, "Hold": True},
    )  # fmt: skip

    found = odata_rows()

    assert found == contract_rows()
    assert ("Payment", held["ReferenceNbr"], "On Hold") in found
    assert {t for t, _n, _s in found} >= {"Payment", "Prepayment"}
    assert {s for _t, _n, s in found} >= {"Closed", "On Hold"}
    assert linked("payments")


def test_odata_and_rest_polls_hand_out_the_same_payments(
    sandboxes, clean_ledger, fast_templates
) -> None:
    xcart = sandboxes["xcart"].url
    orders = [check_order_inline(xcart, f"same.{n}@example.com") for n in range(3)]
    for order, order_type, order_nbr in orders:
        received_check(order_type, order_nbr, order["total"])

    over_odata = sorted(changes.changed_acumatica_payments())
    second_poll = list(changes.changed_acumatica_payments())
    set_source(fast_templates, "rest")
    again_over_rest = list(changes.changed_acumatica_payments())

    assert len(over_odata) == 3 and all(t == "Payment" for t, _n in over_odata)
    assert second_poll == []  # handed out once
    assert again_over_rest == []  # the same versions: REST finds nothing the cursor has not had
    with clean_ledger.begin() as conn:  # a fresh cursor: REST finds the same three
        from sync_workers.ledger.models import Base

        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    assert sorted(changes.changed_acumatica_payments()) == over_odata


def test_keyset_pages_of_arpayment_return_every_payment_once(sandboxes, clean_ledger) -> None:
    xcart = sandboxes["xcart"].url
    for n in range(3):
        order, order_type, order_nbr = check_order_inline(xcart, f"pages.{n}@example.com")
        received_check(order_type, order_nbr, order["total"])
    reader = clients.acumatica().odata
    whole = list(reader.changes("ARPayment", key=("DocType", "RefNbr"), start=None, end=None))
    paged = list(
        reader.changes("ARPayment", key=("DocType", "RefNbr"), start=None, end=None, page_size=1)
    )
    keys = [(r["DocType"], r["RefNbr"]) for r in paged]
    assert len(whole) >= 3
    assert keys == [(r["DocType"], r["RefNbr"]) for r in whole]
    assert len(set(keys)) == len(keys)


def test_a_bad_poll_source_is_a_clear_error(sandboxes, clean_ledger, fast_templates) -> None:
    set_source(fast_templates, "graphql")
    with pytest.raises(
        PermanentError, match=r"payments\.yaml: poll\.source must be one of odata, rest"
    ):
        list(changes.changed_acumatica_payments())
