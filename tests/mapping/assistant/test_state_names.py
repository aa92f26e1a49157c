"""State names a shopper typed: the assistant ranks the country's states for one, a person's
choice is written to orders.yaml ``addresses.state_names`` (validated, the previous file kept)
and the dead letters it fixes are replayed; the replayed order reaches Acumatica with the state
(sandboxes over HTTP, Redis, the ledger, a Celery worker, ``celery mapping``)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from bench.mapping_assistant import ADDRESS, _refusal, dead_letter
from sync_workers import clients
from sync_workers.flows import runner
from sync_workers.mapping import addresses, templates
from sync_workers.mapping.assistant.accept import AcceptError, accept
from sync_workers.mapping.assistant.fields import STATE
from sync_workers.mapping.assistant.suggest import open_items
from sync_workers.task import get_dlq
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.cli.conftest import run_cli
from tests.flows.order_to_cash.helpers import checkout, linked, wait_for

SYDNEY = {
    "firstname": "Ann",
    "lastname": "Example",
    "country_code": "AU",
    "state_name": "New South Wales",
    "street": "1 George St",
    "city": "Sydney",
    "zipcode": "2000",
    "phone": "0200000000",
}


@pytest.fixture
def own_templates(tmp_path):
    """A merchant's copy of the bundled templates, in effect as MAPPING_TEMPLATES_DIR."""
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    templates.use_templates_dir(tmp_path)
    yield tmp_path
    templates.use_templates_dir(None)


def test_a_state_name_gets_its_state_and_the_accepted_name_resolves(
    sandboxes, redis_client, own_templates
):
    queue, acumatica = get_dlq(), clients.acumatica()
    for n, value in enumerate(("Calif.", "calif. ", "Brit. Columbia")):
        reasons = _refusal("state", value, templates.load_template)
        assert reasons, "the engine refuses the name"
        queue.add(dead_letter("state", value, reasons, n))
    items = {i.value: i for i in open_items(queue, acumatica)}
    assert items["Calif."].field is STATE and items["Calif."].acceptable
    assert items["Calif."].best.code == "US-CA"
    assert {s.code[:2] for s in items["Calif."].suggestions} == {"US"}  # its country's states
    assert items["Brit. Columbia"].best.code == "CA-BC"

    with pytest.raises(AcceptError, match=r"not in the country .* \(US\)"):
        accept(STATE, "Calif.", "CA-BC", by="o", queue=queue, acumatica=acumatica, publish=None)
    result = accept(STATE, "Calif.", "US-CA", by="olga", queue=queue, acumatica=acumatica,
                    publish=None)  # fmt: skip

    written = own_templates / "orders.yaml"
    assert yaml.safe_load(written.read_text())["addresses"]["state_names"] == {"Calif.": "US-CA"}
    assert result.comments_kept and "state_names adds names" in written.read_text()
    assert result.previous is not None and result.previous.exists()
    assert templates.validate_all() == []
    table = addresses.state_table(templates.load_template("orders"))
    for typed, country, code in (("CALIF.", "US", "CA"), ("Calif.", "CA", None)):
        address = {**ADDRESS, "country_code": country, "state_name": typed}
        assert addresses.to_acumatica_address(address, table)["State"] == code
    with pytest.raises(AcceptError, match="already maps"):
        accept(STATE, "calif. ", "US-CA", by="o", queue=queue, acumatica=acumatica, publish=None)


def test_a_bad_state_names_section_is_a_template_problem():
    template = templates.load_template("orders")
    for names, problem in (
        ({"Calif.": "California"}, "state_names.Calif.: must map to a code like 'US-CA'"),
        ({"Calif.": "US-CA", " calif.": "US-CA"}, "the same name as 'Calif.'"),
        (["Calif."], "must map a state name to a code"),
    ):
        bad = {**template, "addresses": {**template["addresses"], "state_names": names}}
        assert any(problem in p for p in templates.validate_template("orders", bad)), names


def test_a_typed_state_is_refused_then_synced_with_the_state_a_person_accepted(
    sandboxes, clean_ledger, celery_worker, own_templates
):
    path = own_templates / "orders.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["addresses"]["countries_with_states"] = ["US", "CA", "AU"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()
    order = checkout(
        sandboxes["xcart"].url,
        {
            "email": "sydney.buyer@example.com",
            "items": [{"sku": "AA-0016", "amount": 1}],
            "billing_address": SYDNEY,
            "payment_method": "Credit Card",
        },
    )
    runner.start("orders", order["id"])

    def refused():
        for entry in get_dlq().iter_entries(status="open", flow="orders"):
            if "unknown state 'New South Wales' for AU" in entry.field_errors.values():
                return entry
        return None

    entry = wait_for(refused, timeout=60)
    [item] = run_cli("mapping", "suggest", "--json").json
    assert (item["field"], item["value"]) == ("state", "New South Wales")

    done = run_cli("mapping", "accept", "state", "New South Wales", "AU-NSW", "--json")

    assert done.exit_code == 0, done.output
    assert done.json["accepted"][0]["replayed"][0]["id"] == entry.id
    order_type, order_nbr = wait_for(lambda: linked("orders").get(str(order["id"])), 60).split("/")
    sales_order = clients.acumatica().get_by_keys(
        "SalesOrder", order_type, order_nbr, expand=["ShipToAddress"]
    )
    assert sales_order["ShipToAddress"]["State"] == "NSW"
    assert sales_order["ShipToAddress"]["Country"] == "AU"
