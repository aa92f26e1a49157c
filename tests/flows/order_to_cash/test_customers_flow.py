"""Customers: matched before created, linked in the ledger, changes per system of record."""

from __future__ import annotations

import time

import yaml

from sync_workers import clients
from sync_workers.flows import customers as customer_flow
from sync_workers.flows import runner
from sync_workers.ledger import Status, history
from sync_workers.mapping import templates
from tasks import customers as customer_tasks
from tasks import orders as order_tasks  # noqa: F401  (registers the orders tasks)
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import (
    acumatica_stats,
    address,
    checkout,
    ledger_rows,
    linked,
    open_dead_letters,
    wait_for,
)

CUSTOMER_PUT = "PUT /entity/Default/24.200.001/Customer"
CUSTOMER_GET = "GET /entity/Default/24.200.001/Customer"
#: The customers poll's change query (DAC-based OData, ``poll.source: odata`` as shipped).
CUSTOMER_CHANGES = "GET /t/Company/api/odata/dac/Customer"


def acumatica_calls(by_path: dict[str, int]) -> dict[str, int]:
    """Calls to the contract-based API and the OData services (sign-in excluded)."""
    return {k: v for k, v in by_path.items() if "/entity/Default/" in k or "/api/odata/" in k}


def order_for(xcart: str, email: str, **extra) -> dict:
    body = {
        "email": email,
        "items": [{"sku": "AA-0010", "amount": 1}],
        "billing_address": address("Wanda", "Ng", "OR"),
        "payment_method": "Credit Card",
        **extra,
    }
    return checkout(xcart, body)


def customer_of(order: dict) -> str:
    key = wait_for(lambda: linked("orders").get(str(order["id"])))
    order_type, order_nbr = key.split("/")
    return clients.acumatica().get_by_keys("SalesOrder", order_type, order_nbr)["CustomerID"]


def xc_customers() -> list[dict]:
    rows = clients.acumatica().get_list("Customer", select=["CustomerID", "Email", "Status"])
    return [
        r for r in rows if str(r["CustomerID"]).startswith("XC") and r["CustomerID"] != "XCGUEST"
    ]


def test_existing_acumatica_customer_is_matched_by_email_then_phone(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    by_email = order_for(xcart, "ORDERS@bartending.example")
    bartender = clients.acumatica().get_by_keys("Customer", "ABARTENDE", expand=["MainContact"])
    phone = bartender["MainContact"]["Phone1"]
    by_phone = order_for(
        xcart, "someone.else@example.com", billing_address=address("Al", "B", "NY", phone=phone)
    )
    runner.start("orders", by_email["id"])
    runner.start("orders", by_phone["id"])

    assert customer_of(by_email) == "ABARTENDE"
    assert customer_of(by_phone) == "ABARTENDE"
    assert xc_customers() == []
    assert not open_dead_letters()


def test_guests_share_the_guest_customer_or_get_one_per_email(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    xcart = sandboxes["xcart"].url
    first = order_for(xcart, "guest.one@example.com", guest=True)
    runner.start("orders", first["id"])
    assert customer_of(first) == "XCGUEST"

    path = fast_templates / "customers.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["guest_mode"] = "per_email"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    templates.clear_cache()
    again = order_for(xcart, "guest.one@example.com", guest=True)
    other = order_for(xcart, "guest.two@example.com", guest=True,
                      billing_address=address("Gus", "Two", "OR"))  # fmt: skip
    more = order_for(xcart, "guest.one@example.com", guest=True)
    for order in (again, other, more):
        runner.start("orders", order["id"])

    ids = {customer_of(o) for o in (again, other, more)}
    assert len(ids) == 2 and all(i.startswith("XCE") for i in ids)
    assert customer_of(again) == customer_of(more)
    assert sorted(c["Email"] for c in xc_customers()) == [
        "guest.one@example.com",
        "guest.two@example.com",
    ]


def profile_pages(xcart: str) -> int:
    return sum(n for path, n in acumatica_stats(xcart).items() if path == "GET /api/profiles")


def test_profile_changes_flow_per_system_of_record(
    sandboxes, clean_ledger, redis_client, celery_worker, worker_activity
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    redis_client.delete(customer_flow.profile_scan_key())  # this poll scans the profiles
    order = order_for(xcart, "owner@example.com")
    runner.start("orders", order["id"])
    customer_id = customer_of(order)
    profile_id = order["customer_id"]
    client = clients.xcart()
    [book] = client.addresses(profile_id)
    client.update_address(profile_id, book["id"], {"phone": "+1 (555) 999-0000", "city": "Salem"})
    clients.acumatica().put("Customer", {"CustomerID": customer_id, "Status": "Inactive"})

    customer_tasks.poll.delay()

    def synced() -> bool:
        customer = clients.acumatica().get_by_keys(
            "Customer", customer_id, expand=["MainContact/Address"]
        )
        contact = customer["MainContact"]
        return contact["Phone1"] == "+15559990000" and contact["Address"]["City"] == "Salem"

    wait_for(synced)
    wait_for(lambda: client.get_profile(profile_id)["status"] == "D")
    customer = clients.acumatica().get_by_keys("Customer", customer_id)
    assert customer["Status"] == "Inactive"  # Acumatica owns the status: not overwritten
    worker_activity.idle()  # the first poll's runs are done: what follows is the second's
    # the poll also brought every other registered profile of the store over, once each, and
    # every Acumatica customer but the guest customer to the store (create_store_profiles)
    profiles = [p for p in clients.xcart().iter_profiles() if p["access_level"] == 0]
    assert len(linked("customers")) == len(profiles)
    everyone = clients.acumatica().get_list("Customer", select=["CustomerID", "Email"])
    emails = sorted(c["Email"].casefold() for c in everyone if c["CustomerID"] != "XCGUEST")
    assert emails == sorted(p["login"].casefold() for p in profiles)
    before = dict(acumatica_calls(acumatica_stats(acumatica)))
    pages = profile_pages(xcart)
    assert pages >= 1
    customer_tasks.poll.delay()  # nothing changed since: no write to Acumatica
    worker_activity.idle()  # the poll and every run it started have finished
    after = acumatica_calls(acumatica_stats(acumatica))
    assert after.get(CUSTOMER_PUT) == before.get(CUSTOMER_PUT)
    # The profile scan is not due yet: that poll read Acumatica once (its OData change query,
    # no contract-API read) and no profile page.
    assert profile_pages(xcart) == pages
    assert after.get(CUSTOMER_CHANGES, 0) == before.get(CUSTOMER_CHANGES, 0) + 1
    assert after.get(CUSTOMER_GET, 0) == before.get(CUSTOMER_GET, 0)
    redis_client.delete(customer_flow.profile_scan_key())
    customer_tasks.poll.delay()
    wait_for(lambda: profile_pages(xcart) > pages)  # due again: every page is read
    assert not open_dead_letters()


def test_our_own_customer_writes_are_not_read_back_by_the_poll(
    sandboxes, clean_ledger, redis_client, celery_worker
) -> None:
    """A profile change we wrote to Acumatica comes back in the next poll's window as a changed
    customer; the ledger knows the LastModifiedDateTime our write left, so the poll skips it
    instead of reading the customer and the profile (two calls) to find nothing to do."""
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order = order_for(xcart, "echo@example.com")
    runner.start("orders", order["id"])
    customer_id = customer_of(order)
    list(customer_flow.changed_acumatica_customers())  # the cursor starts here
    client = clients.xcart()
    [book] = client.addresses(order["customer_id"])
    client.update_address(order["customer_id"], book["id"], {"city": "Bend"})
    runner.start("customers", order["customer_id"], chain="profile")

    def city() -> str:
        found = clients.acumatica().get_by_keys(
            "Customer", customer_id, expand=["MainContact/Address"]
        )
        return found["MainContact"]["Address"]["City"]

    wait_for(lambda: city() == "Bend")
    source_id = f"profile:{order['customer_id']}"
    [run] = wait_for(lambda: history.runs_of("customers", "xcart_to_acumatica", source_id))
    assert (run["task"], run["steps"], run["outcome"]) == (
        "tasks.customers.profile",
        "fetch,match,push,write_back",
        "ok",
    )
    time.sleep(6.0)  # past the poll's settle time: our write is inside its window now
    before = acumatica_calls(acumatica_stats(acumatica))
    assert customer_id not in list(customer_flow.changed_acumatica_customers())
    after = acumatica_calls(acumatica_stats(acumatica))
    assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)} == {
        CUSTOMER_CHANGES: 1
    }
    # Someone else's change to that customer is still seen.
    clients.acumatica().put("Customer", {"CustomerID": customer_id, "Status": "On Hold"})
    time.sleep(6.0)
    assert customer_id in list(customer_flow.changed_acumatica_customers())


def test_a_customers_push_brings_acumatica_owned_fields_to_the_profile(
    sandboxes, clean_ledger, celery_worker
) -> None:
    order = order_for(sandboxes["xcart"].url, "pushed@example.com")
    runner.start("orders", order["id"])
    customer_id = customer_of(order)
    clients.acumatica().put("Customer", {"CustomerID": customer_id, "Status": "Inactive"})
    notification = {
        "Id": "n-1",
        "Query": "Customers",
        "Deleted": [],
        "Inserted": [{"CustomerID": customer_id}, {"CustomerID": "ABARTENDE"}],
    }

    customer_tasks.realtime_on_push.delay(notification=notification)

    wait_for(lambda: clients.xcart().get_profile(order["customer_id"])["status"] == "D")
    [run] = wait_for(lambda: history.runs_of("customers", "acumatica_to_xcart", customer_id))
    assert (run["task"], run["steps"], run["outcome"]) == (
        "tasks.customers.customer",
        "fetch,link,write_back,finish",
        "ok",
    )
    # a customer linked to no X-Cart profile becomes one
    [other] = wait_for(lambda: history.runs_of("customers", "acumatica_to_xcart", "ABARTENDE"))
    assert other["outcome"] == "ok"
    assert clients.xcart().find_profile_by_login("orders@bartending.example") is not None
    assert not open_dead_letters()


def test_a_profile_webhook_that_fails_dead_letters_the_profile_ledger_row(
    sandboxes, clean_ledger, celery_worker
) -> None:
    customer_tasks.realtime_on_webhook.delay(
        event="profile.updated", data={"id": 1, "access_level": 100}
    )  # a staff account: nothing to start
    customer_tasks.realtime_on_webhook.delay(
        event="profile.updated", data={"id": 999999, "access_level": 0}
    )

    [entry] = wait_for(lambda: open_dead_letters("customers"))
    assert (entry.task, entry.step, entry.record_id) == (
        "tasks.customers.profile",
        "fetch",
        "999999",
    )
    [row] = wait_for(
        lambda: [r for r in ledger_rows("customers") if r.status == Status.DEAD_LETTERED.value]
    )
    assert row.source_id == "profile:999999"
    assert not history.runs_of("customers", "xcart_to_acumatica", "profile:1")
