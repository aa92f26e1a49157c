"""``post_as: journal``: each captured X-Cart transaction becomes one GL journal entry (and a
refund its reverse entry), exactly once, with the accounts checked before anything is posted."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import runner
from sync_workers.mapping import templates
from sync_workers.validation import journal as journal_check
from tasks import orders as order_tasks
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import (
    address,
    checkout,
    linked,
    open_dead_letters,
    sandbox,
    wait_for,
)


def use_journal(directory: Any, **journal: Any) -> None:
    path = directory / "payments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["post_as"] = "journal"
    data["journal"].update(journal)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()
    journal_check.forget()


@pytest.fixture
def journal_mode(fast_templates):
    use_journal(fast_templates)
    yield fast_templates
    journal_check.forget()


def place(xcart: str, email: str) -> dict:
    return checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0014", "amount": 2}],
            "billing_address": address("Gene", "Ledger " + email.split("@")[0], "OR"),
            "payment_method": "Credit Card",
        },
    )


def entries(description: str) -> list[dict]:
    return clients.acumatica().get_list(
        "JournalTransaction", filter=F("Description") == description, expand=["Details"]
    )


def lines(entry: dict) -> list[tuple]:
    return sorted((d["Account"], d["DebitAmount"], d["CreditAmount"]) for d in entry["Details"])


def test_a_paid_order_posts_one_journal_entry_and_no_ar_payment(
    sandboxes, clean_ledger, celery_worker, journal_mode
) -> None:
    xcart = sandboxes["xcart"].url
    order = place(xcart, "journal.paid@example.com")
    [txn] = clients.xcart().payment_transactions(order["id"])

    order_tasks.poll.delay()
    order_tasks.realtime_on_webhook.delay(event="order.updated", data={"id": order["id"]})
    runner.start("payments", txn["id"], order_id=str(order["id"]), verify=True)

    wait_for(lambda: str(txn["id"]) in linked("payments"))
    time.sleep(1.5)  # the duplicated triggers have run too
    [entry] = entries(f"XC-{txn['id']}")
    assert entry["Status"] == "Posted" and entry["Module"] == "GL"
    assert lines(entry) == sorted([("10250", order["total"], 0.0), ("40100", 0.0, order["total"])])
    assert {d["ReferenceNbr"] for d in entry["Details"]} == {str(order["order_number"])}
    assert linked("payments") == {str(txn["id"]): f"GL/{entry['BatchNbr']}"}
    assert clients.acumatica().get_list("Payment") == []
    order_type, order_nbr = linked("orders")[str(order["id"])].split("/")
    so = clients.acumatica().get_by_keys("SalesOrder", order_type, order_nbr, expand=["Payments"])
    assert so["Status"] == "Open" and not so.get("Payments")
    assert not open_dead_letters()


def test_a_journal_entry_committed_then_timed_out_is_found_not_doubled(
    sandboxes, clean_ledger, celery_worker, journal_mode
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order = place(xcart, "journal.lost@example.com")
    [txn] = clients.xcart().payment_transactions(order["id"])
    rule = {"path": "JournalTransaction$", "method": "PUT", "preset": 1.0, "after_commit": True}
    sandbox(acumatica, "faults", {"rules": [rule]})
    try:
        order_tasks.poll.delay()
        wait_for(lambda: sandbox(acumatica, "stats")["faults_injected"].get("preset", 0) >= 1)
    finally:
        sandbox(acumatica, "faults", {"rules": []})

    wait_for(lambda: str(txn["id"]) in linked("payments"), timeout=40)
    [entry] = entries(f"XC-{txn['id']}")
    assert entry["Status"] == "Posted"  # released by the retry that found it
    assert linked("payments")[str(txn["id"])] == f"GL/{entry['BatchNbr']}"
    assert not open_dead_letters()


def test_a_refund_posts_the_reverse_entry_once(
    sandboxes, clean_ledger, celery_worker, journal_mode
) -> None:
    xcart = sandboxes["xcart"].url
    order = place(xcart, "journal.refund@example.com")
    [txn] = clients.xcart().payment_transactions(order["id"])
    runner.start("orders", order["id"])
    wait_for(lambda: str(txn["id"]) in linked("payments"))
    sandbox(xcart, f"orders/{order['id']}/refund", {"amount": 6.5})
    made = clients.xcart().payment_transactions(order["id"])[0]["backend_transactions"][-1]

    order_tasks.poll.delay()
    runner.start("orders", order["id"])

    wait_for(lambda: f"refund:{made['id']}" in linked("payments"))
    time.sleep(1.0)
    [reverse] = entries(f"XC-R{made['id']}")
    assert lines(reverse) == sorted([("10250", 0.0, 6.5), ("40100", 6.5, 0.0)])
    assert reverse["Status"] == "Posted"
    assert len(entries(f"XC-{txn['id']}")) == 1
    assert clients.acumatica().get_list("Payment") == []
    assert not open_dead_letters()


def test_accounts_missing_in_acumatica_are_refused_before_anything_is_posted(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    use_journal(fast_templates, credit_account="99999", debit_accounts={
        "CREDITCARD": "49000", "PAYPAL": "10300", "CHECK": "10200", "CASH": "10100",
    })  # fmt: skip
    xcart = sandboxes["xcart"].url
    order = place(xcart, "journal.badaccount@example.com")
    [txn] = clients.xcart().payment_transactions(order["id"])

    runner.start("orders", order["id"])

    [entry] = wait_for(lambda: open_dead_letters("payments"))
    assert entry.record_id == str(txn["id"]) and entry.step == "push"
    assert "journal.credit_account: GL account '99999' does not exist" in entry.error_message
    assert "journal.debit_accounts.CREDITCARD: GL account '49000' is inactive" in (
        entry.error_message
    )
    assert clients.acumatica().get_list("JournalTransaction") == []
    assert str(order["id"]) in linked("orders")  # the order itself is synced
    journal_check.forget()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"post_as": "ledger"}, "post_as: must be one of payment, journal"),
        ({"journal": "40100"}, "journal: must be a mapping"),
        ({"journal": {"debit_accounts": {"CREDITCARD": "10250"}}}, "journal.credit_account"),
        (
            {"journal": {"credit_account": "40100", "debit_accounts": {"CREDITCARD": "10250"}}},
            "journal.debit_accounts: no account for PAYPAL",
        ),
        (
            {"journal": {"credit_account": "40100", "debit_accounts": [], "release": "yes"}},
            "journal.release: must be true or false",
        ),
    ],
)
def test_a_bad_journal_setting_is_refused_when_the_templates_are_checked(
    fast_templates, change: dict, problem: str
) -> None:
    path = fast_templates / "payments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update({"post_as": "journal", **change})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()

    problems = templates.validate_all(["payments"])

    assert any(problem in line for line in problems), problems


def test_the_preflight_checks_the_journal_accounts_before_any_entry(
    sandboxes, fast_templates, redis_client
) -> None:
    from sync_workers.preflight import run_preflight
    from sync_workers.preflight.reference import journal_accounts
    from sync_workers.settings import get_settings

    def checked():
        return run_preflight(get_settings(), redis_client, checks=[journal_accounts]).results

    assert checked() == ()  # AR payments (the default): nothing to check
    use_journal(fast_templates)
    [fine] = checked()
    assert fine.check == "reference.journal_accounts" and fine.outcome == "pass"

    use_journal(fast_templates, credit_account="99999")
    [wrong] = checked()

    assert wrong.outcome == "fail"
    assert "journal.credit_account: GL account '99999' does not exist" in wrong.summary
    assert "GL202500" in wrong.advice
    journal_check.forget()
