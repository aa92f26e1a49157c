"""Product attributes as X-Cart 5.5 serves them: global and product-specific definitions,
options of select attributes, a product's values, and the value ids variants carry."""

from __future__ import annotations

from tests.sandboxes.xcart.conftest import Api


def _by_name(rows: list[dict], name: str) -> dict:
    return next(r for r in rows if r["name"] == name)


def test_seeded_global_attributes_have_their_core_shapes(api: Api) -> None:
    selects = api.get("/api/attributes_select").get_json()
    color = _by_name(selects, "Color")
    assert set(color) == {"id", "groupId", "position", "name", "displayMode"}
    assert color["displayMode"] == "S"
    checkbox = _by_name(api.get("/api/attributes_checkbox.json").get_json(), "Dishwasher safe")
    assert set(checkbox) == {"id", "groupId", "position", "name"}
    assert _by_name(api.get("/api/attributes_text").get_json(), "Material")
    options = api.get(f"/api/attributes_select/{color['id']}/options").get_json()
    assert [o["value"] for o in options] == ["Red", "Blue"]
    assert set(options[0]) == {"id", "position", "value"}


def test_product_values_of_global_and_product_specific_attributes(api: Api) -> None:
    mug = api.product_by_sku("WEB-MUG")
    color = _by_name(api.get("/api/attributes_select").get_json(), "Color")
    values = api.get(f"/api/products/{mug['id']}/attributes_select/{color['id']}/values").get_json()
    assert [v["option"]["value"] for v in values] == ["Red", "Blue"]
    assert values[0]["price_modifier_type"] == "percent" and values[0]["is_default"] is False
    text = _by_name(api.get("/api/attributes_text").get_json(), "Material")
    material = api.get(f"/api/products/{mug['id']}/attributes_text/{text['id']}/values")
    assert material.get_json()["value"] == "Ceramic"

    tee = api.product_by_sku("WEB-TEE")
    own = api.get(f"/api/products/{tee['id']}/attributes_select").get_json()
    size = _by_name(own, "Size")
    assert "groupId" not in size  # product-specific output
    assert api.get(f"/api/products/{mug['id']}/attributes_select").get_json() == []
    sizes = api.get(f"/api/products/{tee['id']}/attributes_select/{size['id']}/values").get_json()
    assert [v["option"]["value"] for v in sizes] == ["S", "M", "L"]

    variants = api.get(f"/api/products/{tee['id']}/variants").get_json()
    small = next(v for v in variants if v["sku"] == "WEB-TEE-S")
    assert small["attribute_select_values"] == [sizes[0]["id"]]  # ids, as core serialises them


def test_values_are_added_once_and_errors_read_as_core_writes_them(api: Api) -> None:
    product = api.product_by_sku("AA-0001")
    created = api.post("/api/attributes_select", {"name": "Finish"})
    assert created.status_code == 201
    attribute = created.get_json()
    option = api.post(f"/api/attributes_select/{attribute['id']}/options", {"value": "Matte"})
    assert option.status_code == 201
    path = f"/api/products/{product['id']}/attributes_select/{attribute['id']}/values"
    assert api.get(path).get_json() == []

    added = api.post(path, {"option_id": option.get_json()["id"]})
    assert added.status_code == 201
    assert added.get_json()["option"]["value"] == "Matte"
    again = api.post(path, {"option_id": option.get_json()["id"]})
    assert again.status_code == 400
    assert again.get_json()["detail"] == "Cannot create attribute value. Value already exists"
    missing = api.post(path, {"option_id": 99999})
    assert missing.get_json()["detail"] == "Attribute option with ID 99999 not found"
    unknown = api.post(f"/api/products/{product['id']}/attributes_select/99999/values", {})
    assert unknown.status_code == 400

    blank = api.post("/api/attributes_text", {"name": " "})
    assert blank.status_code == 400
    text = api.post("/api/attributes_text", {"name": "Care"}).get_json()
    text_path = f"/api/products/{product['id']}/attributes_text/{text['id']}/values"
    assert api.get(text_path).status_code == 404
    assert api.post(text_path, {"value": "Hand wash"}).status_code == 201
    assert api.put(text_path, {"value": "Machine wash"}).get_json()["value"] == "Machine wash"
    assert api.post(text_path, {"value": "again"}).status_code == 400


def test_read_only_token_cannot_create_attributes(api: Api) -> None:
    answer = api.post(
        "/api/attributes_select", {"name": "Nope"}, headers={"X-Auth-Token": "sandbox-ro"}
    )
    assert answer.status_code == 403


def test_reset_clears_attributes_and_seed_restores_them(api: Api) -> None:
    api.post("/api/attributes_select", {"name": "Temporary"})
    api.client.post("/_sandbox/reset", json={})
    assert api.get("/api/attributes_select").get_json() == []
    api.client.post("/_sandbox/seed", json={})
    names = [a["name"] for a in api.get("/api/attributes_select").get_json()]
    assert names == ["Color"]
