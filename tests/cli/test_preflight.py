"""``preflight``: every check passes on the seeded sandboxes, writing nothing; each made to fail
fails with what to do about it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from sandboxes.common.server import serve_in_thread
from sync_workers.devrun import PushWiring
from sync_workers.mapping.templates import BUNDLED_DIR
from sync_workers.preflight import Context, events, run_preflight
from sync_workers.preflight.events import push_queries
from sync_workers.settings import get_settings
from sync_workers.webhooks import create_app
from tests.cli.conftest import queued
from tests.cli.test_resync import all_queued, ledger_counts, sandbox_state
from tests.flows.order_to_cash.helpers import address, checkout
from tests.webhooks.conftest import PUSH_SECRET, XCART_SECRET, Recorder, receiver_settings

ROOT = Path(__file__).resolve().parents[2]
NOBODY = "http://127.0.0.1:9"  # nothing listens there
PROBE = "PUT /api/orders/0/shipping_status"


def place_order(xcart_url: str, who: str, **extra) -> dict:
    body = {
        "email": f"{who}@example.com",
        "items": [{"sku": "AA-0001", "amount": 1}],
        "billing_address": address("Pre", who.title()),
        "payment_method": "Credit Card",
        "shipping_method": "Courier",
        "shipping_cost": 5.0,
        **extra,
    }
    return checkout(xcart_url, body)


def by_check(result) -> dict[str, dict]:
    return {c["check"]: c for c in result.json["checks"]}


def not_passing(result) -> list[str]:
    return [
        f"{c['check']}: {c['summary']}" for c in result.json["checks"] if c["outcome"] != "pass"
    ]


def subscribe(sandbox_url: str, receiver_url: str) -> None:
    PushWiring(
        sandbox_url=sandbox_url,
        receiver_url=receiver_url,
        header=get_settings().webhook_acumatica_header,
        queries=push_queries(),
        secret=PUSH_SECRET,
    ).subscribe()


@dataclass
class Receiver:
    url: str
    enqueued: Recorder


@pytest.fixture
def receiver(redis_client):
    """The webhook receiver, running, with its push secret; what it enqueues is recorded."""
    recorder = Recorder()
    server = serve_in_thread(create_app(receiver_settings(), enqueue=recorder))
    yield Receiver(server.url, recorder)
    server.stop()


@pytest.fixture
def subscribed(sandboxes, receiver):
    """The Acumatica sandbox pushes every flow's inquiry to the receiver, as ``make run`` wires it."""
    subscribe(sandboxes["acumatica"].url, receiver.url)
    return {**sandboxes, "receiver": receiver}


@pytest.fixture
def configure(monkeypatch):
    """Change settings for one test: environment variables, then fresh settings and clients."""
    from sync_workers import clients
    from sync_workers.mapping.templates import clear_cache

    def reload() -> None:
        get_settings.cache_clear()
        clear_cache()
        clients.close_all()

    def apply(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reload()

    yield apply
    monkeypatch.undo()
    reload()


def test_every_check_passes_on_the_seeded_sandboxes_and_nothing_is_written(
    cli, subscribed, clean_ledger, redis_client
) -> None:
    xcart, erp = subscribed["xcart"].url, subscribed["acumatica"].url
    placed = [place_order(xcart, "pre.one"), place_order(xcart, "pre.two", guest=True)]
    before = (sandbox_state(xcart), sandbox_state(erp), ledger_counts())

    result = cli("preflight", "--json")
    human = cli("preflight", "--orders", "5")

    assert result.exit_code == 0, not_passing(result)
    assert not_passing(result) == []
    checks = by_check(result)
    for name in (
        "access.xcart_key_writes",
        "access.acumatica_sign_in",
        "access.acumatica_endpoint",
        "access.acumatica_licence",
        "access.xcart_clock",
        "access.acumatica_clock",
        "reference.order_types",
        "reference.branches",
        "reference.payment_methods",
        "reference.cash_accounts",
        "reference.ship_vias",
        "reference.taxes",
        "reference.warehouses",
        "reference.customer_classes",
        "mapping.payment_methods",
        "mapping.shipping_methods",
        "mapping.tax_regions",
        "events.push.orders",
        "events.push.inventory",
        "events.xcart_webhooks",
        "dry_run.orders_validate",
        "dry_run.plan_orders",
        "dry_run.plan_products",
        "dry_run.plan_inventory",
    ):
        assert checks[name]["outcome"] == "pass", name
    assert checks["dry_run.plan_orders"]["details"]["counts"] == {"create": 2}
    assert "receiver" in checks["events.push.orders"]["summary"]
    assert subscribed["receiver"].enqueued.calls == []  # the probes were refused, not enqueued
    assert result.json["ok"] is True and result.json["counts"]["fail"] == 0
    assert human.exit_code == 0
    assert "PASS  access.xcart_key_writes" in human.output
    assert "ready: " in human.output and "0 fail" in human.output

    xcart_after, erp_after, ledger_after = (
        sandbox_state(xcart),
        sandbox_state(erp),
        ledger_counts(),
    )
    probes = xcart_after["writes"].pop(PROBE)  # the write check's refused status change
    assert probes == 2
    assert (xcart_after, erp_after, ledger_after) == before
    assert all_queued(redis_client) == 0 and queued(redis_client, "realtime") == []
    for order in placed:
        again = requests.get(
            f"{xcart}/api/orders/{order['id']}", headers={"X-Auth-Token": "sandbox-rw"}, timeout=10
        ).json()
        assert again["shipping_status"] == order["shipping_status"]
        assert again["update_date"] == order["update_date"]


def test_a_wrong_acumatica_password_fails_the_sign_in_and_the_rest_says_why_it_did_not_run(
    cli, subscribed, configure
) -> None:
    configure(ACUMATICA_PASSWORD="not-the-password")

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    checks = by_check(result)
    sign_in = checks["access.acumatica_sign_in"]
    assert sign_in["outcome"] == "fail"
    assert "refuses" in sign_in["summary"] and "ACUMATICA_PASSWORD" in sign_in["advice"]
    assert checks["reference.payment_methods"]["outcome"] == "warn"
    assert "Acumatica refuses the credentials" in checks["reference.payment_methods"]["summary"]
    assert "not-the-password" not in result.output + result.stderr


def test_a_payment_method_missing_in_acumatica_fails_naming_the_template_entry(
    cli, subscribed
) -> None:
    from sync_workers import clients

    client = clients.acumatica()
    client.request("DELETE", client.url("PaymentMethod", "PAYPAL"))

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    check = by_check(result)["reference.payment_methods"]
    assert check["outcome"] == "fail"
    assert "'PAYPAL' (payments.yaml methods.PayPal) is not in Acumatica" in check["summary"]
    assert "CA204000" in check["advice"]
    assert by_check(result)["reference.ship_vias"]["outcome"] == "pass"


def test_a_template_naming_a_code_acumatica_lacks_fails_with_the_closest_codes(
    cli, subscribed, configure, tmp_path
) -> None:
    shutil.copytree(BUNDLED_DIR, tmp_path, dirs_exist_ok=True)
    payments = yaml.safe_load((tmp_path / "payments.yaml").read_text())
    payments["methods"]["Check"]["payment_method"] = "CHEQUE"
    (tmp_path / "payments.yaml").write_text(yaml.safe_dump(payments))
    configure(MAPPING_TEMPLATES_DIR=str(tmp_path))

    result = cli("preflight", "--json")
    human = cli("preflight")

    assert result.exit_code == 1
    check = by_check(result)["reference.payment_methods"]
    assert check["outcome"] == "fail"
    assert check["details"]["problems"]["CHEQUE"]["where"] == "payments.yaml methods.Check"
    assert "CHECK" in check["details"]["problems"]["CHEQUE"]["suggestions"]
    assert "FAIL  reference.payment_methods" in human.output
    assert "-> create or activate it on CA204000" in human.output
    assert "not ready: " in human.output


def test_the_read_only_key_given_as_the_read_write_key_fails_the_write_check(
    cli, subscribed, configure
) -> None:
    configure(XCART_API_TOKEN="sandbox-ro")

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    checks = by_check(result)
    assert checks["access.xcart_answers"]["outcome"] == "pass"
    writes = checks["access.xcart_key_writes"]
    assert writes["outcome"] == "fail"
    assert "read-only key" in writes["summary"] and "read/write key" in writes["advice"]


@pytest.mark.parametrize("system", ["xcart", "acumatica"])
def test_a_clock_set_back_fails_with_the_difference(cli, subscribed, system) -> None:
    url = subscribed[system].url
    control = (
        ("clock", "offset_seconds") if system == "xcart" else ("behaviour", "clock_offset_seconds")
    )
    requests.post(
        f"{url}/_sandbox/{control[0]}", json={control[1]: -3600}, timeout=10
    ).raise_for_status()
    try:
        result = cli("preflight", "--json")
    finally:
        requests.post(f"{url}/_sandbox/{control[0]}", json={control[1]: 0}, timeout=10)

    assert result.exit_code == 1
    check = by_check(result)[f"access.{system}_clock"]
    assert check["outcome"] == "fail"
    assert "behind this machine's" in check["summary"] and "NTP" in check["advice"]
    assert 3590 <= -check["details"]["offset_seconds"] <= 3610


def test_no_push_subscription_fails_every_flow_with_how_to_subscribe(cli, sandboxes) -> None:
    result = cli("preflight", "--json")

    assert result.exit_code == 1
    checks = by_check(result)
    for flow, query in push_queries().items():
        check = checks[f"events.push.{flow}"]
        assert check["outcome"] == "fail", flow
        assert f"no push subscription for {query}" in check["summary"]
        assert "/_sandbox/push" in check["advice"]


def test_without_push_seen_a_real_acumatica_fails_the_status_write_back(
    redis_client, configure, monkeypatch
) -> None:
    from sync_workers.observability import ops_keys

    monkeypatch.setattr(Context, "sandbox", lambda self, system, path: None)
    unset = run_preflight(get_settings(), redis_client, checks=[events.acumatica_push])
    configure(WEBHOOK_ACUMATICA_SECRET="p" * 40)
    settings = get_settings()
    ops_keys.record_push(redis_client, settings.redis_key_prefix, "inventory")
    seen = run_preflight(settings, redis_client, checks=[events.acumatica_push])

    [no_secret] = unset.results
    assert no_secret.check == "events.push" and no_secret.outcome == "fail"
    assert "WEBHOOK_ACUMATICA_SECRET is not set" in no_secret.summary
    assert "SM302000" in no_secret.advice
    assert seen.of("events.push.orders").outcome == "fail"
    assert "status changes" in seen.of("events.push.orders").summary
    assert "SM302000" in seen.of("events.push.orders").advice
    assert seen.of("events.push.customers").outcome == "warn"
    assert seen.of("events.push.inventory").outcome == "pass"
    assert not seen.ok


def test_an_order_that_would_fail_is_listed_with_its_field(cli, subscribed, clean_ledger) -> None:
    xcart = subscribed["xcart"].url
    place_order(xcart, "pre.fine")
    bad = place_order(xcart, "pre.terms", payment_method="Purchase Order")

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    checks = by_check(result)
    validate = checks["dry_run.orders_validate"]
    assert validate["outcome"] == "fail"
    [failing] = validate["details"]["failing"]
    assert failing["order_number"] == bad["order_number"]
    assert failing["field_errors"] == {
        "transactions[0].payment_method": "unmapped payment method 'Purchase Order'"
    }
    assert f"#{bad['order_number']} transactions[0].payment_method" in validate["summary"]
    mapping = checks["mapping.payment_methods"]
    assert mapping["outcome"] == "fail"
    assert "'Purchase Order' (1 orders" in mapping["summary"]
    assert "payments.yaml" in mapping["advice"]


def test_the_command_is_installed_on_the_celery_command_line(redis_client) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "sync_workers", "preflight", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert listed.returncode == 0, listed.stderr
    assert "--orders" in listed.stdout and "--json" in listed.stdout


def test_orders_limits_how_many_recent_orders_are_read(cli, subscribed, clean_ledger) -> None:
    xcart = subscribed["xcart"].url
    place_order(xcart, "pre.older")
    time.sleep(1.1)  # X-Cart's order dates have whole seconds
    newest = place_order(xcart, "pre.newest")

    result = cli("preflight", "--orders", "1", "--json")

    plan = by_check(result)["dry_run.plan_orders"]
    assert plan["details"]["counts"] == {"create": 1}
    assert [c["source_id"] for c in plan["details"]["changes"]] == [str(newest["id"])]
    assert "the last 1 orders" in plan["summary"]


def test_a_price_changed_in_acumatica_is_planned_with_its_field(cli, subscribed) -> None:
    from sync_workers import clients

    client = clients.acumatica()
    item = client.get_by_keys("StockItem", "AA-0001", select=["InventoryID", "DefaultPrice"])
    client.put("StockItem", {"InventoryID": "AA-0001", "DefaultPrice": item["DefaultPrice"] + 7})

    result = cli("preflight", "--json")

    plan = by_check(result)["dry_run.plan_products"]
    assert plan["outcome"] == "pass"
    assert plan["details"]["counts"] == {"update": 1}
    [change] = plan["details"]["changes"]
    assert change["source_id"] == "AA-0001"
    [price] = [f for f in change["fields"] if f["field"] == "price"]
    assert price["proposed"] == pytest.approx(item["DefaultPrice"] + 7)
    assert price["current"] == pytest.approx(item["DefaultPrice"])
    assert "fields that differ: price (1)" in plan["summary"]


def test_oauth_passes_with_a_token_a_refresh_and_a_sign_out(cli, subscribed, configure) -> None:
    erp = subscribed["acumatica"].url
    configure(
        ACUMATICA_AUTH_MODE="oauth",
        ACUMATICA_CLIENT_ID="sync@Company",
        ACUMATICA_CLIENT_SECRET="sandbox",
    )

    result = cli("preflight", "--json")

    sign_in = by_check(result)["access.acumatica_sign_in"]
    assert sign_in["outcome"] == "pass", sign_in
    assert "OAuth token, refresh, sign-out work" in sign_in["summary"]
    assert by_check(result)["reference.payment_methods"]["outcome"] == "pass"
    from sync_workers import clients

    clients.close_all()
    left = requests.get(f"{erp}/_sandbox/sessions", timeout=10).json()
    assert left["sessions_in_use"] == 0


def test_a_wrong_oauth_client_secret_fails_naming_the_client_settings(
    cli, subscribed, configure
) -> None:
    configure(
        ACUMATICA_AUTH_MODE="oauth",
        ACUMATICA_CLIENT_ID="sync@Company",
        ACUMATICA_CLIENT_SECRET="not-the-secret",
    )

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    sign_in = by_check(result)["access.acumatica_sign_in"]
    assert sign_in["outcome"] == "fail"
    assert "OAuth token" in sign_in["summary"] and "ACUMATICA_CLIENT_ID" in sign_in["advice"]
    assert "not-the-secret" not in result.output + result.stderr


def test_an_endpoint_version_the_instance_lacks_fails_and_the_erp_checks_wait(
    cli, subscribed, configure
) -> None:
    configure(ACUMATICA_ENDPOINT="Default/99.200.001")

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    checks = by_check(result)
    endpoint = checks["access.acumatica_endpoint"]
    assert endpoint["outcome"] == "fail"
    assert "Default/99.200.001 does not exist" in endpoint["summary"]
    assert "Default/24.200.001" in endpoint["details"]["endpoints"]
    assert checks["reference.ship_vias"]["outcome"] == "warn"
    assert "no endpoint Default/99.200.001" in checks["reference.ship_vias"]["summary"]


def test_engine_caps_above_the_licence_fail(cli, subscribed, configure) -> None:
    erp = subscribed["acumatica"].url
    before = requests.get(f"{erp}/_sandbox/licence", timeout=10).json()
    requests.post(
        f"{erp}/_sandbox/licence", json={"max_sessions": 2, "max_concurrent": 4}, timeout=10
    ).raise_for_status()
    configure(ACUMATICA_MAX_SESSIONS="3", ACUMATICA_MAX_CONCURRENT="6")
    try:
        result = cli("preflight", "--json")
    finally:
        requests.post(f"{erp}/_sandbox/licence", json=before, timeout=10)

    assert result.exit_code == 1
    licence = by_check(result)["access.acumatica_licence"]
    assert licence["outcome"] == "fail"
    assert "ACUMATICA_MAX_SESSIONS=3 is above the licence's 2 API users" in licence["summary"]
    assert "ACUMATICA_MAX_CONCURRENT=6" in licence["summary"]
    assert "SM604000" in licence["advice"]


def test_an_acumatica_that_does_not_answer_fails_and_its_checks_say_why(
    cli, subscribed, configure
) -> None:
    configure(ACUMATICA_BASE_URL=NOBODY)

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    checks = by_check(result)
    assert checks["access.acumatica_answers"]["outcome"] == "fail"
    assert "ACUMATICA_BASE_URL" in checks["access.acumatica_answers"]["advice"]
    assert checks["access.xcart_answers"]["outcome"] == "pass"
    for name in ("access.acumatica_sign_in", "reference.payment_methods", "dry_run.plan_orders"):
        assert checks[name]["outcome"] == "warn", name
        assert "does not answer" in checks[name]["summary"], name


def test_an_inactive_payment_method_and_a_disallowed_cash_account_fail(
    cli, subscribed, configure, tmp_path
) -> None:
    from sync_workers import clients

    clients.acumatica().put("PaymentMethod", {"PaymentMethodID": "CHECK", "Active": False})
    shutil.copytree(BUNDLED_DIR, tmp_path, dirs_exist_ok=True)
    payments = yaml.safe_load((tmp_path / "payments.yaml").read_text())
    payments["methods"]["PayPal"]["cash_account"] = "10100"
    (tmp_path / "payments.yaml").write_text(yaml.safe_dump(payments))
    configure(MAPPING_TEMPLATES_DIR=str(tmp_path))

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    checks = by_check(result)
    methods = checks["reference.payment_methods"]
    assert methods["outcome"] == "fail"
    assert "'CHECK' (payments.yaml methods.Check) is inactive" in methods["summary"]
    accounts = checks["reference.cash_accounts"]
    assert accounts["outcome"] == "fail"
    assert "'10100' is not an allowed cash account of PAYPAL" in accounts["summary"]
    assert accounts["details"]["problems"]["PAYPAL/10100"]["allowed"] == ["10300PP"]


def test_a_receiver_that_does_not_answer_fails_the_push_checks(cli, sandboxes) -> None:
    subscribe(sandboxes["acumatica"].url, NOBODY)

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    for flow in push_queries():
        check = by_check(result)[f"events.push.{flow}"]
        assert check["outcome"] == "fail", flow
        assert "does not answer" in check["summary"] and "webhooks" in check["advice"]


def test_store_webhooks_configured_but_not_sent_fail(cli, subscribed, configure) -> None:
    configure(WEBHOOK_XCART_SECRET="x" * 40)

    result = cli("preflight", "--json")

    check = by_check(result)["events.xcart_webhooks"]
    assert check["outcome"] == "fail"
    assert "sends no webhooks" in check["summary"] and "webhooks_enabled" in check["advice"]


def test_store_webhooks_that_reach_the_receiver_pass(cli, subscribed, configure) -> None:
    xcart, receiver = subscribed["xcart"].url, subscribed["receiver"]
    requests.post(f"{xcart}/_sandbox/config", json={"webhooks_enabled": True}, timeout=10)
    requests.post(
        f"{xcart}/_sandbox/webhooks",
        json={"url": f"{receiver.url}/webhooks/xcart", "events": ["*"], "secret": XCART_SECRET},
        timeout=10,
    ).raise_for_status()
    configure(WEBHOOK_XCART_SECRET=XCART_SECRET)
    place_order(xcart, "pre.hooked")
    deadline = time.monotonic() + 15
    while not receiver.enqueued.calls and time.monotonic() < deadline:
        time.sleep(0.1)

    result = cli("preflight", "--json")

    check = by_check(result)["events.xcart_webhooks"]
    assert check["outcome"] == "pass", check
    assert (
        "the receiver accepted" in check["summary"] and "signed store webhooks" in check["summary"]
    )


def test_the_make_run_summary_gives_the_verdict_and_each_problem(
    subscribed, configure, clean_ledger
) -> None:
    from sync_workers.preflight.summary import run_summary

    ready = run_summary(get_settings())
    configure(XCART_API_TOKEN="sandbox-ro")
    not_ready = run_summary(get_settings())

    assert ready[0].startswith("preflight: ready (") and " 0 fail" in ready[0]
    assert not_ready[0].startswith("preflight: NOT READY (")
    assert any(line.startswith("  FAIL access.xcart_key_writes: ") for line in not_ready)
    assert all(line.startswith("  WARN") or line.startswith("  FAIL") for line in not_ready[1:])


def test_a_check_that_breaks_fails_alone_and_the_others_still_run(redis_client) -> None:
    def broken(ctx):
        raise RuntimeError("boom\nwith a second line")

    broken.__module__ = events.__name__
    report = run_preflight(
        get_settings(), redis_client, checks=[broken, events.xcart_webhooks], orders=0
    )

    failed = report.of("events.broken")
    assert failed.outcome == "fail"
    assert failed.summary == "the check could not finish: RuntimeError: boom with a second line"
    assert report.of("events.xcart_webhooks").outcome == "pass"
    assert not report.ok and report.counts == {"pass": 1, "warn": 0, "fail": 1}


def templates_with(tmp_path: Path, change) -> str:
    """A copy of the bundled templates with ``change(templates)`` applied; its directory."""
    shutil.copytree(BUNDLED_DIR, tmp_path, dirs_exist_ok=True)
    loaded = {p.stem: yaml.safe_load(p.read_text()) for p in tmp_path.glob("*.yaml")}
    change(loaded)
    for stem, data in loaded.items():
        (tmp_path / f"{stem}.yaml").write_text(yaml.safe_dump(data))
    return str(tmp_path)


def test_an_order_type_and_a_branch_acumatica_lacks_fail_through_odata(
    cli, subscribed, configure, tmp_path
) -> None:
    def change(t) -> None:
        t["orders"]["stores"]["default"].update(order_type="SX", branch="EAST")

    configure(MAPPING_TEMPLATES_DIR=templates_with(tmp_path, change))

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    checks = by_check(result)
    types, branches = checks["reference.order_types"], checks["reference.branches"]
    assert types["outcome"] == "fail" and branches["outcome"] == "fail"
    assert "'SX' (orders.yaml stores.default.order_type) is not in Acumatica" in types["summary"]
    assert "SO" in types["details"]["problems"]["SX"]["suggestions"]
    assert "SO201000" in types["advice"]
    assert branches["details"]["problems"]["EAST"]["suggestions"] == ["WEST"]
    assert "CS102000" in branches["advice"]


def test_store_values_without_a_mapping_fail_with_suggestions_and_the_plan_errors(
    cli, subscribed, configure, tmp_path, clean_ledger
) -> None:
    order = place_order(subscribed["xcart"].url, "pre.gaps")

    def change(t) -> None:
        del t["orders"]["ship_via"]["Courier"]
        del t["orders"]["tax"]["tax_id_by_region"]["US-NY"]
        del t["orders"]["payment_status"][order["payment_status"]["code"]]

    configure(MAPPING_TEMPLATES_DIR=templates_with(tmp_path, change))

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    checks = by_check(result)
    shipping = checks["mapping.shipping_methods"]
    assert shipping["outcome"] == "fail"
    courier = shipping["details"]["unmapped"]["Courier"]
    assert courier["orders"] == [str(order["order_number"])] and courier["count"] == 1
    assert "UPS" in courier["suggestions"] and "ship_via" in shipping["advice"]
    taxes = checks["mapping.tax_regions"]
    assert taxes["outcome"] == "fail"
    assert "NYSTATE" in taxes["details"]["unmapped"]["US-NY"]["suggestions"]
    statuses = checks["mapping.payment_statuses"]
    assert statuses["outcome"] == "fail" and "payment_status" in statuses["advice"]
    plan = checks["dry_run.plan_orders"]
    assert plan["outcome"] == "fail"
    assert plan["details"]["counts"] == {"error": 1}
    [error] = plan["details"]["errors"]
    assert error["source_id"] == str(order["id"]) and "payment status" in error["reason"]


def test_an_xcart_key_the_store_does_not_know_fails_and_the_store_checks_wait(
    cli, subscribed, configure
) -> None:
    configure(XCART_API_TOKEN="not-a-key")

    result = cli("preflight", "--json")

    assert result.exit_code == 1
    checks = by_check(result)
    answers = checks["access.xcart_answers"]
    assert answers["outcome"] == "fail"
    assert "refuses the API key (401)" in answers["summary"]
    assert "XCART_API_TOKEN" in answers["advice"]
    for name in ("access.xcart_key_writes", "mapping.payment_methods", "dry_run.plan_products"):
        assert checks[name]["outcome"] == "warn", name
    assert checks["access.acumatica_sign_in"]["outcome"] == "pass"
    assert "not-a-key" not in result.output + result.stderr
