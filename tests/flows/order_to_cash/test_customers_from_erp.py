"""Customers from Acumatica to the store: one profile each, field groups both ways, no echo."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import yaml

from sync_workers import clients
from sync_workers.flows import customers as customer_flow
from sync_workers.flows import runner
from sync_workers.flows.customers import matching, steps
from sync_workers.flows.customers.poll import drift, plan, poll, profiles_scanned
from sync_workers.flows.shape import PollRequest, Start
from sync_workers.ledger import (
    Status,
    claim_record,
    find_by_target,
    history,
    mark_status,
    session_scope,
)
from sync_workers.mapping import addresses, templates
from tasks import customers as customer_tasks
from tasks import orders as order_tasks  # noqa: F401  (registers the orders tasks)
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import (
    acumatica_stats,
    address,
    backdate,
    checkout,
    ledger_rows,
    linked,
    open_dead_letters,
    sandbox,
    wait_for,
)

REVERSE = "acumatica_to_xcart"
STATES = addresses.state_table({})
OREGON = STATES.state_id("US", "OR")


def resolve_state(fields: dict) -> dict:
    """An address as the store's API takes it: the state as its id."""
    fields = dict(fields)
    fields["state"] = STATES.state_id(fields["country_code"], fields.pop("state_code"))
    return fields


def new_customer(customer_id: str, email: str | None, **extra: Any) -> dict:
    contact: dict[str, Any] = {
        "FirstName": "Nora",
        "LastName": "Quinn",
        "Phone1": "+15035550199",
        "Address": {
            "AddressLine1": "12 Alder St",
            "City": "Portland",
            "State": "OR",
            "PostalCode": "97205",
            "Country": "US",
        },
    }
    body: dict[str, Any] = {
        "CustomerID": customer_id,
        "CustomerName": "Nora Quinn",
        "CustomerClass": "RETAIL",
        "MainContact": contact,
        **extra,
    }
    if email is not None:
        body["Email"] = email
    return clients.acumatica().put("Customer", body)


def profiles_with(login: str) -> list[dict]:
    return [p for p in clients.xcart().iter_profiles() if p["login"].casefold() == login.casefold()]


def profile_of(customer_id: str) -> int:
    source = wait_for(lambda: {v: k for k, v in linked("customers").items()}.get(customer_id))
    return int(source.removeprefix("profile:"))


def run_customer(customer_id: str) -> dict:
    """Start the customer's chain and wait for the run it makes."""
    before = len(history.runs_of("customers", REVERSE, customer_id))
    runner.start("customers", customer_id, chain="customer")
    runs = wait_for(
        lambda: (r := history.runs_of("customers", REVERSE, customer_id)) and len(r) > before and r
    )
    return runs[0]


def run_profile(profile_id: int) -> dict:
    source_id = f"profile:{profile_id}"
    before = len(history.runs_of("customers", "xcart_to_acumatica", source_id))
    runner.start("customers", profile_id, chain="profile")
    runs = wait_for(
        lambda: (
            (r := history.runs_of("customers", "xcart_to_acumatica", source_id))
            and len(r) > before
            and r
        )
    )
    return runs[0]


def set_owners(directory, **owners: str) -> None:
    path = directory / "customers.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["system_of_record"].update(owners)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    templates.clear_cache()


def test_an_acumatica_customer_becomes_one_profile_and_the_next_poll_finds_nothing(
    sandboxes, clean_ledger, redis_client, celery_worker, worker_activity
) -> None:
    profiles_scanned()  # cursor polls read only Acumatica until the scan is asked for below
    list(customer_flow.changed_acumatica_customers())  # the cursor starts here
    new_customer("NQUINN", "Nora.Quinn@Example.com")
    before = sum(1 for _ in clients.xcart().iter_profiles())

    customer_tasks.poll.delay()

    profile_id = profile_of("NQUINN")
    worker_activity.idle()
    [profile] = profiles_with("nora.quinn@example.com")
    assert profile["id"] == profile_id
    assert (profile["login"], profile["status"], profile["access_level"]) == (
        "Nora.Quinn@Example.com",
        "E",
        0,
    )
    [book] = clients.xcart().addresses(profile_id)
    assert {k: book[k] for k in ("firstname", "lastname", "phone", "street", "city")} == {
        "firstname": "Nora",
        "lastname": "Quinn",
        "phone": "+15035550199",
        "street": "12 Alder St",
        "city": "Portland",
    }
    assert (book["zipcode"], book["country_code"], book["state"]) == ("97205", "US", OREGON)
    assert book["is_billing"] and book["is_shipping"]

    # Run again (a retry, a second notification): the profile is found, not made twice.
    run = run_customer("NQUINN")
    assert (run["steps"], run["outcome"]) == ("fetch,link,write_back,finish", "ok")
    assert len(profiles_with("nora.quinn@example.com")) == 1
    assert len(clients.xcart().addresses(profile_id)) == 1
    assert sum(1 for _ in clients.xcart().iter_profiles()) == before + 1

    # No echo: the next poll, scanning every profile too, has nothing of this pair to do.
    redis_client.delete(customer_flow.profile_scan_key())
    handed: list[Start] = []
    found = poll(PollRequest(), lambda starts: handed.extend(starts) or [])
    assert "NQUINN" not in found["customers"]
    assert str(profile_id) not in found["profiles"]
    assert not [s for s in handed if s.record_id in ("NQUINN", str(profile_id))]
    assert not open_dead_letters()


def test_an_existing_profile_with_that_email_is_linked_not_duplicated(
    sandboxes, clean_ledger, redis_client, celery_worker
) -> None:
    xcart = clients.xcart()
    existing = xcart.create_profile({"login": "dana.ray@example.com", "status": "E"})
    bend = {"street": "3 Wall St", "city": "Bend", "zipcode": "97701", "state_code": "OR"}
    store_address = {**address("Nora", "Quinn", "OR", phone="541-555-0142"), **bend}
    xcart.create_address(existing["id"], resolve_state(store_address))
    new_customer("DANARAY", "DANA.RAY@example.com", CustomerName="Dana Ray")
    creates = acumatica_stats(sandboxes["xcart"].url).get("POST /api/profiles", 0)

    run = run_customer("DANARAY")

    assert run["outcome"] == "ok"
    # looked up by login before any create (no create refused as a duplicate either)
    assert acumatica_stats(sandboxes["xcart"].url).get("POST /api/profiles", 0) == creates
    assert linked("customers")[f"profile:{existing['id']}"] == "DANARAY"
    assert [p["id"] for p in profiles_with("dana.ray@example.com")] == [existing["id"]]
    [book] = xcart.addresses(existing["id"])  # the store's address kept: it owns the group
    assert book["city"] == "Bend"
    # The store's phone and address differ from Acumatica's: the profile is left for the
    # profile chain (its content not recorded as synced), which writes them to the customer.
    [row] = [r for r in ledger_rows("customers") if r.target_key == "DANARAY"]
    assert row.content_hash is None and row.data["how"] == "matched"
    run_profile(existing["id"])
    customer = clients.acumatica().get_by_keys(
        "Customer", "DANARAY", expand=["MainContact/Address"]
    )
    assert customer["MainContact"]["Address"]["City"] == "Bend"
    assert customer["MainContact"]["Phone1"] == "5415550142"
    redis_client.delete(customer_flow.profile_scan_key())
    found = poll(PollRequest(), lambda starts: list(starts) and [])
    assert "DANARAY" not in found["customers"]
    assert str(existing["id"]) not in found["profiles"]


def test_a_profile_create_whose_answer_is_lost_is_found_not_made_again(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    rule = {"path": "/api/profiles$", "method": "POST", "preset": 1.0, "after_commit": True}
    sandbox(xcart, "faults", {"rules": [rule]})
    new_customer("LOSTANS", "lost.answer@example.com")
    creates = acumatica_stats(xcart).get("POST /api/profiles", 0)
    try:
        runner.start("customers", "LOSTANS", chain="customer")
        profile_id = profile_of("LOSTANS")
    finally:
        sandbox(xcart, "faults", {"rules": []})

    assert sandbox(xcart, "stats")["faults_injected"].get("preset", 0) >= 1
    assert [p["id"] for p in profiles_with("lost.answer@example.com")] == [profile_id]
    assert acumatica_stats(xcart).get("POST /api/profiles", 0) == creates + 1
    assert len(clients.xcart().addresses(profile_id)) == 1
    assert not open_dead_letters()


def test_customers_that_do_not_become_profiles_say_why(
    sandboxes, clean_ledger, celery_worker
) -> None:
    new_customer("NOMAIL", None)

    run = run_customer("NOMAIL")
    again = run_customer("NOMAIL")

    assert run["outcome"] == again["outcome"] == "skipped"
    [row] = [r for r in ledger_rows("customers", REVERSE) if r.source_id == "NOMAIL"]
    assert row.status == Status.SKIPPED.value
    assert row.last_error == "no e-mail: an X-Cart profile needs one as its login"
    new_customer("BADMAIL", "not an address")
    assert run_customer("BADMAIL")["outcome"] == "skipped"
    [bad] = [r for r in ledger_rows("customers", REVERSE) if r.source_id == "BADMAIL"]
    assert bad.last_error == "its e-mail is not one X-Cart takes as a login"
    # the guest customer stays out of the store
    assert run_customer("XCGUEST")["outcome"] == "skipped"
    assert not profiles_with("guest@example.com")
    assert not open_dead_letters()


def test_a_store_profile_whose_customer_was_made_for_a_guest_email_is_left_alone(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    path = fast_templates / "customers.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["guest_mode"] = "per_email"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    templates.clear_cache()
    body = {
        "email": "walk.in@example.com",
        "items": [{"sku": "AA-0010", "amount": 1}],
        "billing_address": address("Walk", "In", "OR"),
        "payment_method": "Credit Card",
        "guest": True,
    }
    order = checkout(sandboxes["xcart"].url, body)
    runner.start("orders", order["id"])
    customer_id = wait_for(lambda: linked("customers").get("email:walk.in@example.com"))

    run = run_customer(customer_id)

    assert run["outcome"] == "skipped"
    assert linked("customers") == {"email:walk.in@example.com": customer_id}


def test_field_groups_go_the_way_the_template_says(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    acumatica, xcart = clients.acumatica(), clients.xcart()
    new_customer("GROUPS", "groups@example.com")
    run_customer("GROUPS")
    profile_id = profile_of("GROUPS")
    [book] = xcart.addresses(profile_id)
    change = {
        "CustomerID": "GROUPS",
        "Status": "Inactive",
        "MainContact": {
            "LastName": "Quinn-Hart",
            "Phone1": "+15035550100",
            "Address": {"City": "Salem", "PostalCode": "97301"},
        },
    }
    acumatica.put("Customer", change)

    # As shipped: Acumatica owns name and status; the store owns contact and address.
    run_customer("GROUPS")
    profile = xcart.get_profile(profile_id)
    [book] = xcart.addresses(profile_id)
    assert profile["status"] == "D"
    assert book["lastname"] == "Quinn-Hart"
    assert (book["phone"], book["city"], book["zipcode"]) == ("+15035550199", "Portland", "97205")

    # The profile chain writes the store's contact and address over Acumatica's.
    run_profile(profile_id)
    customer = acumatica.get_by_keys("Customer", "GROUPS", expand=["MainContact/Address"])
    assert customer["MainContact"]["Phone1"] == "+15035550199"
    assert customer["MainContact"]["Address"]["City"] == "Portland"
    assert customer["Status"] == "Inactive"
    assert customer["MainContact"]["LastName"] == "Quinn-Hart"

    # Turned around: Acumatica's identity, contact and address win, the store's name and
    # status do.
    set_owners(
        fast_templates,
        identity="acumatica",
        name="xcart",
        contact="acumatica",
        address="acumatica",
        status="xcart",
    )
    acumatica.put("Customer", {**change, "Email": "groups.new@example.com"})
    run_customer("GROUPS")
    [book] = xcart.addresses(profile_id)
    assert (book["phone"], book["city"], book["zipcode"]) == ("+15035550100", "Salem", "97301")
    assert book["state"] == OREGON
    assert xcart.get_profile(profile_id)["login"] == "groups.new@example.com"
    xcart.update_address(profile_id, book["id"], {"firstname": "Eleanor"})
    xcart.update_profile(profile_id, {"status": "E"})
    run_profile(profile_id)
    customer = acumatica.get_by_keys("Customer", "GROUPS", expand=["MainContact/Address"])
    assert customer["CustomerName"] == "Eleanor Quinn-Hart"
    assert customer["MainContact"]["FirstName"] == "Eleanor"
    assert customer["Status"] == "Active"
    assert customer["MainContact"]["Address"]["City"] == "Salem"  # not written back
    assert not open_dead_letters()


def test_plan_and_drift_list_the_fields_that_differ_per_owned_group(
    sandboxes, clean_ledger, celery_worker
) -> None:
    acumatica, xcart = clients.acumatica(), clients.xcart()
    new_customer("DRIFTY", "drifty@example.com")
    run_customer("DRIFTY")
    profile_id = profile_of("DRIFTY")
    source_id = f"profile:{profile_id}"
    assert not [d for d in drift() if d.source_id == source_id]
    [book] = xcart.addresses(profile_id)
    xcart.update_address(profile_id, book["id"], {"city": "Eugene"})
    acumatica.put("Customer", {"CustomerID": "DRIFTY", "MainContact": {"LastName": "Q"}})

    [found] = [d for d in drift() if d.source_id == source_id]

    assert (found.kind, found.target_key) == ("mismatch", "DRIFTY")
    assert found.details == {
        "address": {
            "acumatica:MainContact.Address.City": {"now": "Portland", "expected": "Eugene"}
        },
        "name": {"xcart:address.lastname": {"now": "Quinn", "expected": "Q"}},
    }
    [planned] = plan(ids=[source_id])
    assert (planned.action, planned.target_key) == ("update", "DRIFTY")
    assert {(c.field, c.current, c.proposed) for c in planned.changes} == {
        ("acumatica:MainContact.Address.City", "Portland", "Eugene"),
        ("xcart:address.lastname", "Quinn", "Q"),
    }
    new_customer("NOTYET", "not.yet@example.com")
    assert [(d.direction, d.kind) for d in drift() if d.source_id == "NOTYET"] == [
        (REVERSE, "missing_in_target")
    ]


def test_a_new_customer_gets_the_class_of_the_buyers_membership(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    path = fast_templates / "customers.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["membership_to_customer_class"] = {"Wholesale": "WHOLESALE"}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    templates.clear_cache()
    body = {
        "email": "member@example.com",
        "items": [{"sku": "AA-0010", "amount": 1}],
        "billing_address": address("Mem", "Ber", "OR"),
        "payment_method": "Credit Card",
    }
    member = checkout(sandboxes["xcart"].url, body)
    clients.xcart().update_profile(member["customer_id"], {"membership_id": 1})
    other = {"email": "plain@example.com", "billing_address": address("Plain", "Buyer", "MA")}
    plain = checkout(sandboxes["xcart"].url, {**body, **other})
    runner.start("orders", member["id"])
    runner.start("orders", plain["id"])

    classes = {}
    for order in (member, plain):
        customer_id = wait_for(
            lambda o=order: linked("customers").get(f"profile:{o['customer_id']}")
        )
        classes[order["email"]] = clients.acumatica().get_by_keys("Customer", customer_id)[
            "CustomerClass"
        ]
    assert classes == {"member@example.com": "WHOLESALE", "plain@example.com": "ECOMMERCE"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"system_of_record": {"phone": "xcart"}},
            "customers.yaml: system_of_record.phone: unknown field group",
        ),
        (
            {
                "system_of_record": {
                    "identity": "none",
                    "name": "none",
                    "contact": "none",
                    "address": "none",
                    "status": "none",
                }
            },
            "customers.yaml: system_of_record: every group is none",
        ),
        ({"create_store_profiles": "yes"}, "customers.yaml: create_store_profiles: must be"),
        (
            {"membership_to_customer_class": {"Wholesale": ""}},
            "customers.yaml: membership_to_customer_class.Wholesale: must be a CustomerClass ID",
        ),
        (
            {"membership_to_customer_class": {"VIP": "VERYIMPORTANTPEOPLE"}},
            "customers.yaml: membership_to_customer_class.VIP: 'VERYIMPORTANTPEOPLE' is longer",
        ),
        (
            {"membership_to_customer_class": ["Wholesale"]},
            "customers.yaml: membership_to_customer_class: must map",
        ),
    ],
)
def test_settings_that_would_do_nothing_stop_the_workers(fast_templates, change, problem) -> None:
    assert templates.validate_all(["customers"]) == []  # as shipped
    path = fast_templates / "customers.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in change.items():
        if key == "system_of_record" and "phone" in value:
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    problems = templates.validate_all(["customers"])

    assert [p for p in problems if p.startswith(problem)], problems


FAULTS = {
    "rules": [
        {"path": "^/(api|entity)/", "method": "PUT", "p500": 0.15, "p429": 0.05,
         "ptimeout": 0.02, "after_commit": True},
        {"path": "^/(api|entity)/", "method": "POST", "p500": 0.15, "p429": 0.05,
         "ptimeout": 0.02, "after_commit": True},
        {"path": "^/(api|entity)/", "method": "GET", "p500": 0.10, "p429": 0.05,
         "ptimeout": 0.02},
    ],
    "timeout_seconds": 1,
    "seed": 5,
}  # fmt: skip


def test_under_faults_each_customer_becomes_one_profile_and_nothing_echoes(
    sandboxes, clean_ledger, redis_client, celery_worker, worker_activity
) -> None:
    """Errors and lost answers on both sides (after commit for writes): every customer still
    ends as exactly one profile with one address, and the next poll finds nothing to do."""
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    profiles_scanned()
    list(customer_flow.changed_acumatica_customers())
    ids = [f"FLT{n}" for n in range(6)]
    for customer_id in ids:
        new_customer(customer_id, f"{customer_id.lower()}@faults.example")
    for url in (xcart, acumatica):
        sandbox(url, "faults", FAULTS)
    try:
        customer_tasks.poll.delay()
        wait_for(lambda: set(ids) <= set(linked("customers").values()), timeout=90, interval=0.5)
    finally:
        for url in (xcart, acumatica):
            sandbox(url, "faults", {"rules": []})
    worker_activity.idle()

    injected = sum(sum(sandbox(u, "stats")["faults_injected"].values()) for u in (xcart, acumatica))
    assert injected > 0
    by_customer = {v: int(k.removeprefix("profile:")) for k, v in linked("customers").items()}
    for customer_id in ids:
        [profile] = profiles_with(f"{customer_id.lower()}@faults.example")
        assert profile["id"] == by_customer[customer_id]
        assert len(clients.xcart().addresses(profile["id"])) == 1
    redis_client.delete(customer_flow.profile_scan_key())
    found = poll(PollRequest(), lambda starts: list(starts) and [])
    assert not set(ids) & set(found["customers"])
    assert not {str(by_customer[c]) for c in ids} & set(found["profiles"])


def test_a_customer_name_without_contact_names_is_split_at_its_last_space() -> None:
    from sync_workers.mapping import customers as customer_map

    def names(name: str, contact: dict | None = None) -> tuple[str, str]:
        return customer_map.contact_name({"CustomerName": name, "MainContact": contact or {}})

    assert names("USA Bartending School") == ("USA Bartending", "School")
    assert names("Cher") == ("", "Cher")
    assert names("Anything", {"FirstName": "Zoë", "LastName": "Łukasiewicz"}) == (
        "Zoë",
        "Łukasiewicz",
    )
    dublin = {"MainContact": {"Address": {"AddressLine1": "1 Quay", "City": "Dublin",
                                          "PostalCode": "D01", "Country": "ie", "State": "D"}}}  # fmt: skip
    fields = customer_map.to_xcart_address(dublin, STATES, ("address",))
    assert fields == {
        "street": "1 Quay",
        "city": "Dublin",
        "zipcode": "D01",
        "country_code": "IE",
        "state": None,
        "state_name": "D",
    }


def test_a_customer_chain_whose_message_is_lost_is_restarted_once_it_stalls(
    sandboxes, clean_ledger, redis_client, celery_worker, worker_activity, monkeypatch
) -> None:
    """A customer's chain lost with its message (a broker restart, or a killed worker's
    prefetched message on Redis): its ledger row, made pending by the hand-out, stalls and the
    poll restarts it; the cursor had moved past the customer already."""
    profiles_scanned()
    list(customer_flow.changed_acumatica_customers())
    new_customer("LOSTMSG", "lost.message@example.com")
    with monkeypatch.context() as lost:
        lost.setattr(runner, "_publish", lambda flow, start: "never-published")
        found = poll(PollRequest(), partial(runner.hand_out, "customers"))
    assert found["customers"] == ["LOSTMSG"]
    [row] = [r for r in ledger_rows("customers", REVERSE) if r.source_id == "LOSTMSG"]
    assert row.status == Status.PENDING.value
    handed: list[Start] = []
    again = poll(PollRequest(), lambda starts: handed.extend(starts) or [])
    assert again["customers"] == [] and again["restarted"] == []  # not stalled yet
    backdate("customers", "LOSTMSG")

    customer_tasks.poll.delay()

    profile_id = profile_of("LOSTMSG")
    worker_activity.idle()
    assert [p["id"] for p in profiles_with("lost.message@example.com")] == [profile_id]
    # done with: the pending row is gone, and no later poll restarts the customer
    assert not [r for r in ledger_rows("customers", REVERSE) if r.source_id == "LOSTMSG"]
    assert poll(PollRequest(), lambda starts: handed.extend(starts) or [])["restarted"] == []
    assert not open_dead_letters()


def test_an_order_linking_a_customer_another_buyer_linked_that_moment_shares_it(
    sandboxes, clean_ledger, monkeypatch
) -> None:
    """Two buyers matched to one customer (here by phone) at the same moment: the second link,
    refused by the ledger's unique target key, is made again as a shared one, not a failure."""
    new_customer("SHAREDC", "first.buyer@example.com")
    looked_up: list[str] = []

    def other_commits_first(session, flow, direction, source_id, **kwargs):
        if not looked_up:  # the other buyer's link commits as this transaction begins ...
            with session_scope() as other:
                record = claim_record(other, flow, direction, "profile:9901")
                record.target_key = "SHAREDC"
                mark_status(other, record, Status.SYNCED)
        return claim_record(session, flow, direction, source_id, **kwargs)

    def missed_once(session, flow, direction, target_key):
        looked_up.append(target_key)  # ... and this look-up is as of before that commit
        return None if len(looked_up) == 1 else find_by_target(session, flow, direction, target_key)

    monkeypatch.setattr(matching, "claim_record", other_commits_first)
    monkeypatch.setattr(matching, "find_by_target", missed_once)
    order = {
        "id": 1,
        "customer_id": 9902,
        "email": "second.buyer@example.com",
        "billing_address": address("Sam", "Second", "OR", phone="+1 503 555 0199"),
    }
    profile = {"id": 9902, "login": "second.buyer@example.com", "first_login_date": 1}

    assert customer_flow.ensure_for_order(order, profile) == "SHAREDC"

    assert looked_up == ["SHAREDC", "SHAREDC"]
    assert linked("customers") == {"profile:9901": "SHAREDC"}
    assert customer_flow.linked_customer("profile:9902") == "SHAREDC"
    assert customer_flow.ensure_for_order(order, profile) == "SHAREDC"  # from the ledger now


def test_a_customer_chain_racing_an_order_for_the_customer_keeps_the_order_link(
    sandboxes, clean_ledger, celery_worker, monkeypatch
) -> None:
    """While a new Acumatica customer's chain links the profile with its e-mail, an order of
    another buyer links that customer first: the chain goes on as if it had found that link."""
    xcart = clients.xcart()
    buyer = xcart.create_profile({"login": "order.buyer@example.com", "status": "E"})
    new_customer("RACEDC", "race.customer@example.com")
    real = steps._store_changes

    def order_links_first(profile_id, profile, customer):
        with session_scope() as other:
            source = f"profile:{buyer['id']}"
            record = claim_record(other, "customers", "xcart_to_acumatica", source)
            record.target_key = "RACEDC"
            mark_status(other, record, Status.SYNCED)
        return real(profile_id, profile, customer)

    monkeypatch.setattr(steps, "_store_changes", order_links_first)

    run = run_customer("RACEDC")

    assert (run["steps"], run["outcome"]) == ("fetch,link,write_back,finish", "ok")
    assert linked("customers") == {f"profile:{buyer['id']}": "RACEDC"}
    [book] = xcart.addresses(buyer["id"])  # the customer's fields went to the linked profile
    assert (book["firstname"], book["lastname"]) == ("Nora", "Quinn")
    assert not open_dead_letters()
