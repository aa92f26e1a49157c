"""StockItem custom fields through the contract API: a PUT's ``custom`` block sets them and
``$custom`` returns them, as a published customisation does on a real instance."""

from __future__ import annotations

from .client import Api, value

COLOR = "ItemSettings.UsrColor"


def _item(api: Api, sku: str, **params: str) -> dict:
    answer = api.get(f"StockItem/{sku}", **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _put(api: Api, sku: str, custom: dict, **params: str) -> dict:
    answer = api.put("StockItem", {"InventoryID": {"value": sku}, "custom": custom}, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_put_sets_custom_field_and_custom_parameter_reads_it(api: Api) -> None:
    written = _put(
        api,
        "AA-0001",
        {"ItemSettings": {"UsrColor": {"type": "CustomStringField", "value": "Red"}}},
        **{"$custom": COLOR},
    )
    assert written["custom"] == {
        "ItemSettings": {"UsrColor": {"type": "CustomStringField", "value": "Red"}}
    }
    read = _item(api, "AA-0001", **{"$custom": f"{COLOR},ItemSettings.UsrGiftWrap"})
    assert read["custom"]["ItemSettings"]["UsrColor"]["value"] == "Red"
    assert read["custom"]["ItemSettings"]["UsrGiftWrap"] == {
        "type": "CustomBooleanField",
        "value": None,
    }
    listed = api.get(
        "StockItem", **{"$filter": "InventoryID eq 'AA-0001'", "$custom": COLOR}
    ).json()
    assert listed[0]["custom"]["ItemSettings"]["UsrColor"]["value"] == "Red"


def test_custom_fields_are_not_returned_without_custom_parameter(api: Api) -> None:
    _put(
        api,
        "AA-0001",
        {"ItemSettings": {"UsrColor": {"type": "CustomStringField", "value": "Red"}}},
    )
    assert _item(api, "AA-0001")["custom"] == {}


def test_put_keeps_custom_fields_it_does_not_name(api: Api) -> None:
    _put(
        api,
        "AA-0001",
        {"ItemSettings": {"UsrColor": {"type": "CustomStringField", "value": "Red"}}},
    )
    _put(
        api,
        "AA-0001",
        {"ItemSettings": {"UsrMaterial": {"type": "CustomStringField", "value": "Oak"}}},
    )
    read = _item(api, "AA-0001", **{"$custom": f"{COLOR},ItemSettings.UsrMaterial"})
    assert read["custom"]["ItemSettings"]["UsrColor"]["value"] == "Red"
    assert read["custom"]["ItemSettings"]["UsrMaterial"]["value"] == "Oak"


def test_custom_only_change_moves_last_modified(api: Api) -> None:
    before = value(_item(api, "AA-0001"), "LastModified")
    _put(
        api,
        "AA-0001",
        {"ItemSettings": {"UsrColor": {"type": "CustomStringField", "value": "Teal"}}},
    )
    assert value(_item(api, "AA-0001"), "LastModified") != before


def test_unknown_view_or_field_is_ignored(api: Api) -> None:
    written = _put(
        api,
        "AA-0001",
        {
            "ItemSettings": {"UsrNoSuchField": {"type": "CustomStringField", "value": "x"}},
            "NoSuchView": {"UsrColor": {"type": "CustomStringField", "value": "x"}},
        },
        **{"$custom": f"{COLOR},ItemSettings.UsrNoSuchField,NoSuchView.UsrColor"},
    )
    assert written["custom"] == {
        "ItemSettings": {"UsrColor": {"type": "CustomStringField", "value": None}}
    }


def test_ad_hoc_schema_lists_the_custom_fields(api: Api) -> None:
    schema = api.get("StockItem/$adHocSchema").json()
    assert schema["custom"]["ItemSettings"]["UsrColor"] == {
        "type": "CustomStringField",
        "value": None,
    }
    assert api.get("SalesOrder/$adHocSchema").json()["custom"] == {}
