"""Attribute definitions (CS205000) and a stock item's ``Attributes`` detail, as the contract
API serves them: values of listed attributes are checked against the definition."""

from __future__ import annotations

from .client import Api


def _v(record: dict, name: str):
    return (record.get(name) or {}).get("value")


def test_seeded_definitions_are_served_with_their_values(api: Api) -> None:
    answer = api.get("AttributeDefinition/COLOR", **{"$expand": "Values"})
    assert answer.status_code == 200, answer.text
    color = answer.json()
    assert _v(color, "ControlType") == "Combo"
    assert [_v(v, "ValueID") for v in color["Values"]] == ["RED", "BLUE", "GREEN"]
    listed = api.get("AttributeDefinition").json()
    assert {_v(r, "AttributeID") for r in listed} >= {"COLOR", "SIZE", "MATERIAL"}


def test_new_definition_with_values_is_created_by_put(api: Api) -> None:
    body = {
        "AttributeID": {"value": "finish"},
        "Description": {"value": "Finish"},
        "ControlType": {"value": "Combo"},
        "Values": [{"ValueID": {"value": "MATTE"}, "Description": {"value": "Matte"}}],
    }
    created = api.put("AttributeDefinition", body, **{"$expand": "Values"})
    assert created.status_code == 200, created.text
    assert _v(created.json(), "AttributeID") == "FINISH"
    more = api.put(
        "AttributeDefinition",
        {"AttributeID": {"value": "FINISH"}, "Values": [{"ValueID": {"value": "GLOSS"}}]},
        **{"$expand": "Values"},
    )
    assert [_v(v, "ValueID") for v in more.json()["Values"]] == ["MATTE", "GLOSS"]
    bad = api.put(
        "AttributeDefinition", {"AttributeID": {"value": "X"}, "ControlType": {"value": "Wheel"}}
    )
    assert bad.status_code == 422


def test_stock_item_attributes_are_written_with_put_and_expand(api: Api) -> None:
    body = {
        "InventoryID": {"value": "AA-0001"},
        "Attributes": [
            {"AttributeID": {"value": "color"}, "Value": {"value": "blue"}},
            {"AttributeID": {"value": "MATERIAL"}, "Value": {"value": "Oak"}},
        ],
    }
    answer = api.put("StockItem", body, **{"$expand": "Attributes"})
    assert answer.status_code == 200, answer.text
    rows = {_v(r, "AttributeID"): r for r in answer.json()["Attributes"]}
    assert _v(rows["COLOR"], "Value") == "BLUE"
    assert _v(rows["COLOR"], "ValueDescription") == "Blue"
    assert _v(rows["COLOR"], "AttributeDescription") == "Color"
    assert _v(rows["MATERIAL"], "Value") == "Oak"
    # a second PUT with the same AttributeID updates that row
    again = api.put(
        "StockItem",
        {
            "InventoryID": {"value": "AA-0001"},
            "Attributes": [{"AttributeID": {"value": "COLOR"}, "Value": {"value": "RED"}}],
        },
        **{"$expand": "Attributes"},
    )
    values = [(_v(r, "AttributeID"), _v(r, "Value")) for r in again.json()["Attributes"]]
    assert values == [("COLOR", "RED"), ("MATERIAL", "Oak")]
    plain = api.get("StockItem/AA-0001").json()
    assert "Attributes" not in plain or plain["Attributes"] in ([], None)


def test_unknown_attribute_or_value_is_refused_and_nothing_is_saved(api: Api) -> None:
    unknown = api.put(
        "StockItem",
        {
            "InventoryID": {"value": "AA-0002"},
            "Attributes": [{"AttributeID": {"value": "NOPE"}, "Value": {"value": "x"}}],
        },
    )
    assert unknown.status_code == 422
    assert "cannot be found" in unknown.text
    bad_value = api.put(
        "StockItem",
        {
            "InventoryID": {"value": "AA-0002"},
            "Attributes": [{"AttributeID": {"value": "SIZE"}, "Value": {"value": "XXL"}}],
        },
    )
    assert bad_value.status_code == 422
    stored = api.get("StockItem/AA-0002", **{"$expand": "Attributes"}).json()
    assert stored.get("Attributes") == []
