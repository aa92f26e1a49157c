"""The attribute mapping on plain data: which values an item gets, how names and values are
matched, custom fields, and the template checks."""

from __future__ import annotations

import pytest

from sync_workers.errors import PermanentError
from sync_workers.mapping import product_attributes as pa
from sync_workers.mapping.products import config_from, validate_template
from sync_workers.mapping.templates import load_template

SIZE = pa.StoreAttribute("Size", "select", ("S", "M", "L"), {11: "S", 12: "M", 13: "L"})
MATERIAL = pa.StoreAttribute("material ", "text", ("Cotton",))
COLOR_DEF = pa.Definition("COLOR", "Combo", {"RED": "Red", "BLUE": "Blue"})
SIZE_DEF = pa.Definition("SIZE", "Combo", {"S": "Small", "M": "Medium", "L": "Large"})


def cfg(**section) -> pa.AttributesConfig:
    return pa.config_from(
        {"map": {"Size": "size", "Material": "MATERIAL", "Color": "COLOR"}, **section}
    )


def test_a_variant_takes_its_own_values_and_the_products_single_values() -> None:
    [size, material] = pa.item_values([SIZE, MATERIAL], {"attribute_select_values": [12]})
    assert size.values == ("M",) and material.values == ("Cotton",)
    # a product keeps all its values; a choice of several is not a fact of the item
    plan = pa.plan(
        pa.item_values([SIZE, MATERIAL]),
        {"SIZE": SIZE_DEF, "MATERIAL": None},
        cfg(create_missing=True),
    )
    assert plan.rows == {"MATERIAL": "Cotton"}
    multi = pa.Definition("SIZE", "Multi Select Combo", dict(SIZE_DEF.values))
    assert pa.plan([SIZE], {"SIZE": multi}, cfg()).rows == {"SIZE": "S,M,L"}


def test_names_match_without_case_and_values_by_id_or_description() -> None:
    red = pa.StoreAttribute("COLOR", "select", ("red",), {1: "red"})
    large = pa.StoreAttribute("size", "select", ("Large",), {2: "Large"})
    plan = pa.plan([red, large], {"COLOR": COLOR_DEF, "SIZE": SIZE_DEF}, cfg())
    assert plan.rows == {"COLOR": "RED", "SIZE": "L"}
    assert plan.definitions == {}


def test_without_create_missing_the_record_stops_naming_attribute_and_value() -> None:
    green = pa.StoreAttribute("Color", "select", ("Green",), {1: "Green"})
    with pytest.raises(PermanentError) as value_missing:
        pa.plan([green], {"COLOR": COLOR_DEF}, cfg())
    assert value_missing.value.field_errors == {
        "attributes.Color": "unknown product attribute value 'Green' for COLOR"
    }
    with pytest.raises(PermanentError) as unknown:
        pa.plan([green], {"COLOR": None}, cfg())
    assert unknown.value.field_errors == {
        "attributes.Color": "unknown product attribute 'COLOR' in Acumatica"
    }
    finish = pa.StoreAttribute("Finish", "select", ("Matte",), {1: "Matte"})
    with pytest.raises(PermanentError) as unmapped:
        pa.plan([finish], {}, cfg())
    assert unmapped.value.field_errors == {
        "attributes.Finish": "unmapped product attribute 'Finish'"
    }
    assert unmapped.value.details == {"attribute": "Finish", "value": "Matte"}
    assert pa.plan([finish], {}, cfg(unmapped="skip")).rows == {}


def test_create_missing_adds_definitions_and_values_with_unique_ids() -> None:
    colors = pa.Definition("COLOR", "Combo", {"LIGHTBLUE": "Pale blue"})
    new = pa.StoreAttribute("Color", "select", ("Light-blue",), {1: "Light-blue"})
    plan = pa.plan([new], {"COLOR": colors}, cfg(create_missing=True))
    assert plan.rows == {"COLOR": "LIGHTBLUE2"}
    assert plan.definitions == {
        "COLOR": {
            "AttributeID": "COLOR",
            "Values": [{"ValueID": "LIGHTBLUE2", "Description": "Light-blue"}],
        }
    }
    safe = pa.StoreAttribute("Dishwasher safe", "checkbox", (True,), {3: True})
    plan = pa.plan(
        [safe], {"DISH": None}, cfg(create_missing=True, map={"dishwasher safe": "dish"})
    )
    assert plan.rows == {"DISH": "True"}
    assert plan.definitions["DISH"]["ControlType"] == "Checkbox"


def test_custom_fields_are_written_as_the_contract_api_takes_them() -> None:
    section = {"custom_fields": {"Material": "ItemSettings.UsrMaterial"}, "unmapped": "skip"}
    safe = pa.StoreAttribute("Dishwasher safe", "checkbox", (True,))
    plan = pa.plan([MATERIAL, safe], {}, pa.config_from(section))
    assert plan.rows == {}
    assert pa.custom_body(plan.custom) == {
        "ItemSettings": {"UsrMaterial": {"type": "CustomStringField", "value": "Cotton"}}
    }


def test_only_rows_that_differ_are_written() -> None:
    item = {"Attributes": [{"AttributeID": "COLOR", "Value": "red"}]}
    assert pa.differing({"COLOR": "RED", "SIZE": "L"}, item) == {"SIZE": "L"}


def test_the_bundled_template_maps_attributes_and_bad_sections_are_refused() -> None:
    bundled = load_template("products")
    assert config_from(bundled).attributes.map["color"] == "COLOR"
    assert config_from(bundled).attributes.unmapped == "dead_letter"
    assert config_from({**bundled, "attributes": None}).attributes.active is False
    bad = {
        **bundled,
        "attributes": {
            "create_missing": "yes",
            "map": {"Color": ""},
            "custom_fields": {"Size": "NoDot"},
            "unmapped": "ignore",
        },
    }
    problems = validate_template(bad)
    assert len(problems) == 4
    assert all(p.startswith("attributes.") for p in problems)
