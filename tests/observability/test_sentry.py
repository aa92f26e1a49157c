"""Sentry through a capturing transport: one alert per dead letter, no personal data."""

from __future__ import annotations

import copy
import json
import os

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from sync_workers.dlq import DeadLetter
from sync_workers.observability.scrubbing import before_send, scrub_text
from sync_workers.observability.sentry import init_sentry
from sync_workers.settings import get_settings, load_settings
from sync_workers.task import dead_lettered
from tests.observability import sentry_tasks

EMAIL = "jane.o'neil@example.com"
STREET = "12 Rue de l'Église"
PHONE = "+1 555 010 0199"
TOKEN = "xc-token-4f9a8b7c6d"
COOKIE = ".ASPXAUTH=AB12CD34EF56"
FORWARDED_FOR = "203.0.113.9"
CLIENT_ADDRESS = "198.51.100.7"
PERSONAL = (EMAIL, STREET, PHONE, TOKEN, "AB12CD34EF56", "Jane", "O'Neil")


class CapturingTransport(Transport):
    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.events: list[dict] = []
        self.item_types: list[str] = []

    def capture_envelope(self, envelope) -> None:
        self.item_types.extend(item.type or "" for item in envelope.items)
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


@pytest.fixture
def sentry_transport():
    transport = CapturingTransport()
    env = {**os.environ, "SENTRY_DSN": "https://public@sentry.invalid/1"}
    assert init_sentry(load_settings(env), transport=transport)
    yield transport
    sentry_sdk.flush()
    dead_lettered.disconnect(dispatch_uid="sentry-dead-letter-alert")
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: a disabled client for the rest of the run


@pytest.fixture
def sentry_events(sentry_transport):
    return sentry_transport.events


def customer() -> dict:
    return {
        "email": EMAIL,
        "firstname": "Jane",
        "lastname": "O'Neil",
        "phone": PHONE,
        "address": {"street": STREET, "city": "Lyon", "zipcode": "69001"},
        "token": TOKEN,
    }


def entry(**changes) -> DeadLetter:
    values = dict(
        flow="customers",
        record_id="cust-42",
        task="tasks.customers.push_customer",
        step="push_customer",
        task_id="task-1",
        args=[],
        kwargs={"record_id": "cust-42", "customer": customer()},
        error_class="PermanentError",
        error_message=f"customer {EMAIL} at {STREET} has no valid state; cookie {COOKIE}",
        field_errors={"billing_address.state": "unknown state 'Rhône'"},
        payload={"customer": customer(), "headers": {"Cookie": COOKIE}},
    )
    values.update(changes)
    return DeadLetter(**values)


def test_without_a_dsn_sentry_stays_off() -> None:
    assert init_sentry(load_settings({**os.environ, "SENTRY_DSN": ""})) is False


def test_dead_letter_alert_carries_flow_record_and_reason_and_no_personal_data(
    sentry_events,
) -> None:
    dead_lettered.send(sender=None, entry=entry())
    sentry_sdk.flush()

    assert len(sentry_events) == 1
    event = sentry_events[0]
    assert event["tags"]["flow"] == "customers"
    assert event["tags"]["record_id"] == "cust-42"
    assert event["contexts"]["dead_letter"]["reason"].startswith("PermanentError: customer ")
    assert "no valid state" in event["message"] or "no valid state" in json.dumps(event)
    text = json.dumps(event, ensure_ascii=False)
    for value in PERSONAL:
        assert value not in text, value


def test_each_dead_lettered_record_is_its_own_alert(sentry_events) -> None:
    for n in range(3):
        dead_lettered.send(sender=None, entry=entry(record_id=f"cust-{n}", task_id=f"t{n}"))
    sentry_sdk.flush()

    assert sorted(e["tags"]["record_id"] for e in sentry_events) == ["cust-0", "cust-1", "cust-2"]
    assert len({tuple(e["fingerprint"]) for e in sentry_events}) == 3


def test_a_task_dead_lettered_by_a_real_worker_alerts_once_without_personal_data(
    sentry_events, redis_client, celery_worker, task_runs
) -> None:
    sentry_tasks.reject_customer.apply_async(
        kwargs={"record_id": "cust-77", "customer": customer()}
    )

    [run] = task_runs.wait("cust-77", 1)  # every event of the run is captured by its end
    sentry_sdk.flush()

    assert run.state == "FAILURE"

    assert [e["tags"]["record_id"] for e in sentry_events] == ["cust-77"]
    assert sentry_events[0]["tags"]["flow"] == "customers"
    text = json.dumps(sentry_events, ensure_ascii=False)
    for value in PERSONAL:
        assert value not in text, value


def test_unexpected_errors_are_reported_with_frames_but_without_locals(sentry_events) -> None:
    def crash(customer_email: str) -> None:
        raise RuntimeError(f"could not parse reply for {customer_email}")

    try:
        crash(EMAIL)
    except RuntimeError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush()

    assert len(sentry_events) == 1
    frames = sentry_events[0]["exception"]["values"][0]["stacktrace"]["frames"]
    assert frames and all("vars" not in frame for frame in frames)
    assert EMAIL not in json.dumps(sentry_events[0], ensure_ascii=False)


def test_a_failed_http_request_is_reported_without_body_cookies_query_or_client_address(
    sentry_events,
) -> None:
    from flask import Flask

    app = Flask("receiver-under-test")

    @app.post("/webhooks/boom")
    def boom():
        raise RuntimeError("the handler broke")

    response = app.test_client().post(
        f"/webhooks/boom?email={EMAIL}&token={TOKEN}",
        json=customer(),
        headers={"Cookie": COOKIE, "X-Forwarded-For": FORWARDED_FOR, "X-Sync-Secret": TOKEN},
        environ_base={"REMOTE_ADDR": CLIENT_ADDRESS},
    )
    sentry_sdk.flush()

    assert response.status_code == 500
    assert len(sentry_events) == 1
    request = sentry_events[0]["request"]
    assert request["url"].endswith("/webhooks/boom")
    assert "data" not in request and "cookies" not in request and "query_string" not in request
    assert "user" not in sentry_events[0]
    text = json.dumps(sentry_events[0], ensure_ascii=False)
    for value in (*PERSONAL, FORWARDED_FOR, CLIENT_ADDRESS):
        assert value not in text, value


def test_log_lines_become_scrubbed_breadcrumbs_and_never_sentry_logs(sentry_transport) -> None:
    import logging

    logging.getLogger("sync_workers.flows.customers").info("customer %s moved to %s", EMAIL, STREET)
    sentry_sdk.capture_message("after the log line")
    sentry_sdk.flush()

    assert "log" not in sentry_transport.item_types
    crumbs = sentry_transport.events[0]["breadcrumbs"]["values"]
    assert any(c.get("category") == "sync_workers.flows.customers" for c in crumbs)
    text = json.dumps(sentry_transport.events[0], ensure_ascii=False)
    assert EMAIL not in text and STREET not in text


def test_scrubber_masks_emails_phones_credentials_and_personal_keys() -> None:
    event = {
        "message": f"mail {EMAIL}, call (555) 010-0199 or 555.010.0199, Authorization: Bearer abc.def",
        "extra": {
            "celery-job": {"task_name": "t", "args": [EMAIL], "kwargs": {"c": customer()}},
            "order": {"shipping_address": {"street": STREET}, "total": "19.99"},
            "when": "2026-11-27T05:00:00+00:00",
        },
        "request": {
            "headers": {
                "Cookie": COOKIE,
                "X-Auth-Token": TOKEN,
                "X-Erp-Key": "custom-header-secret",
                "Content-Type": "application/json",
            },
            "cookies": {"a": "b"},
            "query_string": f"token={TOKEN}",
        },
        "user": {"email": EMAIL, "ip_address": "10.1.2.3"},
    }

    scrubbed = before_send(event, {})

    text = json.dumps(scrubbed, ensure_ascii=False)
    for value in (*PERSONAL, "555", "abc.def", "10.1.2.3", "custom-header-secret"):
        assert value not in text, value
    assert scrubbed["request"]["headers"] == {"Content-Type": "application/json"}
    assert scrubbed["extra"]["order"]["total"] == "19.99"
    assert scrubbed["extra"]["when"] == "2026-11-27T05:00:00+00:00"
    assert scrubbed["extra"]["celery-job"] == {"task_name": "t"}
    assert scrub_text("order 000123 of 2026-11-27") == "order 000123 of 2026-11-27"


def test_sentry_runs_with_beat_monitors_and_without_personal_data_options(sentry_events) -> None:
    from sentry_sdk.integrations.celery import CeleryIntegration

    client = sentry_sdk.get_client()
    celery = client.get_integration(CeleryIntegration)

    assert celery is not None and celery.monitor_beat_tasks is True
    collected = client.options["data_collection"]
    assert collected["user_info"] is False
    assert collected["stack_frame_variables"] is False
    assert collected["http_bodies"] == []
    assert collected["queues"] is False
    assert collected["cookies"]["mode"] == "off"
    assert collected["url_query_params"]["mode"] == "off"
    assert client.options["max_request_body_size"] == "never"


def test_only_whole_minute_beat_entries_become_cron_monitors() -> None:
    from sync_workers.celery import beat_schedule
    from sync_workers.observability.sentry import beat_entries_without_monitor

    settings = load_settings(
        {
            **os.environ,
            "POLL_INTERVAL_SECONDS": "30",
            "ORDERS_POLL_INTERVAL_SECONDS": "120",
            "INVENTORY_POLL_INTERVAL_SECONDS": "90",
        }
    )

    skipped = beat_entries_without_monitor(beat_schedule(settings))

    assert "poll-orders" not in skipped
    assert {"poll-inventory", "poll-customers", "poll-payments"} <= set(skipped)


PERSONAL_KEYS = (
    "name",
    "Name",
    "firstname",
    "lastname",
    "first_name",
    "FullName",
    "CustomerName",
    "company",
    "CompanyName",
    "login",
    "email",
    "e-mail",
    "customerEmail",
    "billing_address",
    "AddressLine1",
    "city",
    "ShipToCity",
    "zipcode",
    "PostalCode",
    "Phone1",
    "fax",
    "DocContact",
    "Attention",
    "password",
    "accessToken",
    "X-Api-Key",
    "Authorization",
    "oauth_token",
    "ASP.NET_SessionId",
    "remote_addr",
    "IPAddress",
    "card",
    "iban",
    "sentry_dsn",
)
HARMLESS_KEYS = (
    "tenacity",
    "capacity",
    "velocity",
    "cardinality",
    "discard",
    "gzip",
    "zipp",
    "authors",
    "hostname",
    "filename",
    "task_name",
    "server_name",
    "product_name",
    "state_name",
    "CustomerID",
    "order_number",
    "total",
    "status",
)


@pytest.mark.parametrize("key", PERSONAL_KEYS)
def test_personal_keys_are_recognised_by_their_words(key: str) -> None:
    from sync_workers.observability.scrubbing import is_personal_key

    assert is_personal_key(key)
    assert scrub_value_of({key: "Jane O'Neil"}) == {key: "[Filtered]"}


@pytest.mark.parametrize("key", HARMLESS_KEYS)
def test_harmless_keys_are_not_mistaken_for_personal_ones(key: str) -> None:
    from sync_workers.observability.scrubbing import is_personal_key

    assert not is_personal_key(key)
    assert scrub_value_of({key: "5.7.0"}) == {key: "5.7.0"}


def scrub_value_of(value: dict) -> dict:
    from sync_workers.observability.scrubbing import scrub_value

    return scrub_value(value)


def test_names_companies_and_logins_are_masked_and_machine_facts_are_kept() -> None:
    event = {
        "modules": {"tenacity": "9.1.2", "celery": "5.7.0", "google-auth": "2.40.0"},
        "sdk": {"name": "sentry.python", "version": "3.0.0"},
        "contexts": {
            "runtime": {"name": "CPython", "version": "3.11.9"},
            "dead_letter": {"reason": f"customer {EMAIL} has no valid state"},
        },
        "extra": {
            "celery-job": {"task_name": "tasks.customers.sync"},
            "customer": {
                "CustomerName": "Jane O'Neil",
                "company": "O'Neil Bakery",
                "login": "jane.oneil",
                "name": "Jane O'Neil",
                "city": "Lyon",
                "CustomerID": "XC42",
            },
        },
    }

    scrubbed = before_send(event, {})

    assert scrubbed["modules"] == {
        "tenacity": "9.1.2",
        "celery": "5.7.0",
        "google-auth": "2.40.0",
    }
    assert scrubbed["sdk"] == {"name": "sentry.python", "version": "3.0.0"}
    assert scrubbed["contexts"]["runtime"] == {"name": "CPython", "version": "3.11.9"}
    assert scrubbed["extra"]["celery-job"] == {"task_name": "tasks.customers.sync"}
    assert scrubbed["extra"]["customer"]["CustomerID"] == "XC42"
    text = json.dumps(scrubbed, ensure_ascii=False)
    for value in (EMAIL, "Jane", "O'Neil", "jane.oneil", "Lyon"):
        assert value not in text, value


def test_personal_values_are_masked_as_whole_words() -> None:
    known = ("Ana", "Núñez")

    assert scrub_text("Ana Núñez ordered", known) == "[Filtered] [Filtered] ordered"
    assert scrub_text("Analytics run", known) == "Analytics run"


def test_streets_are_masked_and_words_that_end_like_a_street_are_not() -> None:
    for street in ("Main St 5", "Hauptstraße 5", "Lindenweg 12", "221B Baker Street", STREET):
        scrubbed = scrub_text(f"ships to {street}.")
        assert street not in scrubbed and "[Filtered]" in scrubbed, street
    for line in (
        "record 42 dead-lettered at step validate",
        "forward 3 items",
        "record 7, step push",
    ):
        assert scrub_text(line) == line


def test_a_dead_letter_for_an_unmapped_value_carries_the_assistants_suggestions(
    sentry_events, sandboxes
) -> None:
    from bench.mapping_assistant import _refusal, dead_letter
    from sync_workers.mapping.assistant.reference import forget_lists
    from sync_workers.mapping.templates import load_template

    forget_lists()
    value = "DHL Worldwide"
    reasons = _refusal("shipping_method", value, lambda flow: copy.deepcopy(load_template(flow)))
    assert reasons  # the bundled template does not map it

    dead_lettered.send(sender=None, entry=dead_letter("shipping_method", value, reasons, 7))
    sentry_sdk.flush()

    [event] = sentry_events
    suggestions = event["contexts"]["mapping_suggestions"]
    assert list(suggestions) == [f"shipping_method {value}"]
    ranked = suggestions[f"shipping_method {value}"]
    assert ranked[0]["target"] == "DHL" and 1 <= len(ranked) <= 3
    assert ranked == sorted(ranked, key=lambda s: -s["score"])


def test_an_alert_goes_out_without_suggestions_when_acumatica_cannot_be_read(
    sentry_events, monkeypatch
) -> None:
    from bench.mapping_assistant import _refusal, dead_letter
    from sync_workers import clients
    from sync_workers.mapping.assistant.reference import forget_lists
    from sync_workers.mapping.templates import load_template

    forget_lists()
    monkeypatch.setenv("ACUMATICA_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    get_settings.cache_clear()
    clients.close_all()
    value = "DHL Worldwide"
    reasons = _refusal("shipping_method", value, lambda flow: copy.deepcopy(load_template(flow)))
    try:
        dead_lettered.send(sender=None, entry=dead_letter("shipping_method", value, reasons, 8))
        sentry_sdk.flush()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        clients.close_all()
        forget_lists()

    [event] = sentry_events
    assert event["tags"]["record_id"] == "bench-8"
    assert "mapping_suggestions" not in event["contexts"]
