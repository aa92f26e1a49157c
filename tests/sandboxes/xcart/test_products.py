from __future__ import annotations

import re

PRODUCT_FIELDS = {
    "id", "sku", "name", "description", "brief_description", "meta_tags", "meta_description",
    "meta_title", "price", "enabled", "weight", "separate_box", "width", "length", "height",
    "free_shipping", "taxable", "create_date", "update_date", "arrival_date",
    "inventory_traceable", "amount", "product_class", "tax_class", "memberships", "clean_url",
    "images",
}  # fmt: skip
STORE_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def test_product_has_reference_fields_and_store_timezone_dates(api):
    product = api.get("/api/products/1").get_json()
    assert set(product) == PRODUCT_FIELDS
    assert STORE_DATE.match(product["update_date"])
    assert product["update_date"][-6:] in ("-05:00", "-04:00")
    api.config(store_timezone="Europe/Warsaw")
    assert api.get("/api/products/1").get_json()["update_date"][-6:] in ("+01:00", "+02:00")


def test_seeded_products_match_the_shared_catalogue(api):
    assert api.product_by_sku("O'NEIL/42")["name"] == "O'Neil wetsuit 4/2"
    assert api.product_by_sku("AA-LODZ")["name"] == "Łódź mug"
    assert api.product_by_sku("AA-FREE")["price"] == 0.0


def test_partial_put_changes_only_the_given_fields_and_moves_update_date(api):
    before = api.get("/api/products/5").get_json()
    api.advance_clock(5)
    answer = api.put("/api/products/5", json={"amount": 15})
    assert answer.status_code == 200
    after = answer.get_json()
    assert after["amount"] == 15
    assert after["update_date"] > before["update_date"]
    unchanged = {k: v for k, v in before.items() if k not in ("amount", "update_date")}
    assert {k: after[k] for k in unchanged} == unchanged
    assert api.get("/api/products/5").get_json()["amount"] == 15


def test_duplicate_sku_is_400(api):
    answer = api.put("/api/products/5", json={"sku": "AA-0001"})
    assert answer.status_code == 400
    assert answer.get_json()["detail"] == "Input validations failed: SKU AA-0001 is not unique"
    assert api.get("/api/products/5").get_json()["sku"] == "AA-0005"


def test_negative_values_are_400_input_validations_failed(api):
    for field in ("price", "weight", "amount"):
        answer = api.put("/api/products/5", json={field: -1})
        assert answer.status_code == 400
        detail = answer.get_json()["detail"]
        assert detail.startswith("Input validations failed: ")
        assert field in detail


def test_wrong_types_are_400(api):
    answer = api.put("/api/products/5", json={"price": "cheap"})
    assert answer.status_code == 400
    assert (
        answer.get_json()["detail"]
        == 'The type of the "price" attribute must be "float", "string" given.'
    )
    assert api.put("/api/products/5", json={"amount": 1.5}).status_code == 400


def test_post_applies_defaults_and_delete_removes(api):
    answer = api.post("/api/products", json={"sku": "NEW-1", "name": "New thing", "price": 3})
    assert answer.status_code == 201
    created = answer.get_json()
    assert created["amount"] == 1000
    assert created["enabled"] is True
    assert api.post("/api/products", json={"name": "no sku"}).status_code == 400
    assert api.delete(f"/api/products/{created['id']}").status_code == 204
    assert api.get(f"/api/products/{created['id']}").status_code == 404


def test_products_ignore_filters_and_sort_by_price(api):
    unfiltered = api.get("/api/products?itemsPerPage=5").get_json()
    assert api.get("/api/products?itemsPerPage=5&sku=AA-0009").get_json() == unfiltered
    prices = [
        p["price"] for p in api.get("/api/products?order[price]=desc&itemsPerPage=100").get_json()
    ]
    assert prices == sorted(prices, reverse=True)
    names = [
        p["name"] for p in api.get("/api/products?order[name]=asc&itemsPerPage=100").get_json()
    ]
    assert names == sorted(names)


def test_product_classes_are_written_by_name(api):
    answer = api.put("/api/products/5", json={"product_class": "TOYS", "memberships": ["VIP"]})
    assert answer.get_json()["product_class"]["name"] == "TOYS"
    assert answer.get_json()["memberships"][0]["name"] == "VIP"
    assert api.put("/api/products/5", json={"product_class": "NOPE"}).status_code == 400


def test_variants_partial_put_and_validation(api):
    tee = api.product_by_sku("WEB-TEE")
    variants = api.get(f"/api/products/{tee['id']}/variants").get_json()
    assert {v["sku"] for v in variants} == {"WEB-TEE-S", "WEB-TEE-M", "WEB-TEE-L"}
    target = next(v for v in variants if v["sku"] == "WEB-TEE-L")
    path = f"/api/products/{tee['id']}/variants/{target['id']}"
    answer = api.put(path, json={"amount": 7, "default_amount": False})
    assert answer.status_code == 200
    assert answer.get_json()["amount"] == 7
    assert answer.get_json()["sku"] == "WEB-TEE-L"
    assert api.put(path, json={"sku": "WEB-TEE-S"}).status_code == 400
    assert api.put(path, json={"amount": -2}).status_code == 400
    assert api.get(f"/api/products/{tee['id']}/variants/99999").status_code == 404


def test_variant_create_and_delete(api):
    tee = api.product_by_sku("WEB-TEE")
    created = api.post(f"/api/products/{tee['id']}/variants", json={"sku": "WEB-TEE-XL"})
    assert created.status_code == 201
    variant_id = created.get_json()["id"]
    assert api.delete(f"/api/products/{tee['id']}/variants/{variant_id}").status_code == 204


def test_sort_by_arrival_date(api):
    dates = [
        p["arrival_date"]
        for p in api.get("/api/products?order[arrivalDate]=asc&itemsPerPage=100").get_json()
    ]
    assert dates == sorted(dates)
    newest_first = api.get("/api/products?order[arrivalDate]=desc&itemsPerPage=1").get_json()[0]
    assert newest_first["arrival_date"] == max(
        p["arrival_date"]
        for page in (1, 2, 3)
        for p in api.get(f"/api/products?itemsPerPage=100&page={page}").get_json()
    )
