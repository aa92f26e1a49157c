"""``celery -A sync_workers mapping suggest|accept`` against the sandboxes and the test Redis."""

from __future__ import annotations

import shutil

import pytest

from bench.mapping_assistant import _refusal, dead_letter
from sync_workers.mapping import templates
from tests.cli.conftest import run_cli


@pytest.fixture
def own_templates(tmp_path):
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    templates.use_templates_dir(tmp_path)
    yield tmp_path
    templates.use_templates_dir(None)


def _dead_letter(field, value, n):
    from sync_workers.task import get_dlq

    get_dlq().add(dead_letter(field, value, _refusal(field, value, templates.load_template), n))


def test_suggest_lists_open_values_with_ranked_codes_and_accept_applies_one(
    sandboxes, redis_client, own_templates
):
    _dead_letter("shipping_method", "Pickup at the shop", 1)
    listed = run_cli("mapping", "suggest", "--json")
    assert listed.exit_code == 0, listed.output
    [item] = listed.json
    assert item["field"] == "shipping_method" and item["records"] == 1
    assert item["suggestions"][0]["target"] == "PICKUP"
    assert item["suggestions"][0]["evidence"]

    text = run_cli("mapping", "suggest", "--flow", "orders")
    assert "PICKUP" in text.output and "Pickup at the shop" in text.output

    done = run_cli("mapping", "accept", "shipping_method", "Pickup at the shop", "PICKUP",
                   "--by", "olga", "--json")  # fmt: skip
    assert done.exit_code == 0, done.output
    [accepted] = done.json["accepted"]
    assert accepted["target"] == "PICKUP" and len(accepted["replayed"]) == 1
    assert run_cli("mapping", "suggest", "--json").json == []


def test_accept_refuses_an_unknown_code_with_a_clear_message(
    sandboxes, redis_client, own_templates
):
    done = run_cli("mapping", "accept", "shipping_method", "Hover", "TELEPORT", "--json")
    assert done.exit_code == 1
    assert "not an active ship via" in done.json["accepted"][0]["error"]
    assert "Hover" not in (own_templates / "orders.yaml").read_text()
    usage = run_cli("mapping", "accept", "nonsense", "x", "y")
    assert usage.exit_code == 2 and "unknown field" in usage.stderr


def test_profile_counts_the_stores_values_and_lists_acumaticas_codes(
    sandboxes, redis_client, own_templates
):
    from tests.flows.order_to_cash.helpers import address, checkout

    for n, (method, shipping) in enumerate(
        [("Credit Card", "Express"), ("Credit Card", "Express"), ("Check", "Courier")]
    ):
        checkout(
            sandboxes["xcart"].url,
            {
                "email": f"profile.{n}@example.com",
                "items": [{"sku": "AA-0016", "amount": 1}],
                "billing_address": address("Pro", "File", "CA" if n else "NY"),
                "payment_method": method,
                "shipping_method": shipping,
            },
        )
    orders_yaml = own_templates / "orders.yaml"
    orders_yaml.write_text(
        orders_yaml.read_text(encoding="utf-8").replace("  Express: DHL\n", ""), encoding="utf-8"
    )
    templates.clear_cache()

    result = run_cli("mapping", "profile", "--orders", "3", "--json")

    assert result.exit_code == 0, result.output
    store = result.json["store"]
    assert store["shipping_method"] == [
        {"value": "Express", "count": 2, "mapped_to": None},
        {"value": "Courier", "count": 1, "mapped_to": "UPS"},
    ]
    assert {"value": "Credit Card", "count": 2, "mapped_to": "CREDITCARD"} in store[
        "payment_method"
    ]
    assert {v["value"]: v["count"] for v in store["tax_region"]} == {"US-CA": 2, "US-NY": 1}
    acumatica = result.json["acumatica"]
    paypal = next(m for m in acumatica["payment_methods"] if m["code"] == "PAYPAL")
    assert paypal["cash_accounts"] == ["10300PP"]
    assert "QCGSTQST" in {t["code"] for t in acumatica["taxes"]}
    assert {"ECOMMERCE", "WHOLESALE"} <= {c["code"] for c in acumatica["customer_classes"]}
    assert "QC" in {z["code"] for z in acumatica["tax_zones"]}
    text = run_cli("mapping", "profile", "--orders", "3")
    assert "'Express': 2 -> UNMAPPED" in text.output
