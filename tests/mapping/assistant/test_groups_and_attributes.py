"""Customer groups and product attributes: the store's memberships (X-Cart ``/api/memberships``)
ranked against Acumatica's customer classes, the attributes a product stopped for against its
attribute definitions (names in another case), and a person's choice written to customers.yaml
``membership_to_customer_class`` / products.yaml ``attributes.map`` (sandboxes over HTTP, Redis)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from sync_workers import clients
from sync_workers.connectors.errors import NotFound
from sync_workers.errors import PermanentError
from sync_workers.mapping import customers, product_attributes, templates
from sync_workers.mapping.assistant.accept import AcceptError, accept
from sync_workers.mapping.assistant.fields import CUSTOMER_GROUP, PRODUCT_ATTRIBUTE
from sync_workers.mapping.assistant.profile import memberships, store_values
from sync_workers.mapping.assistant.suggest import open_items
from sync_workers.task import get_dlq
from tests.cli.conftest import run_cli


@pytest.fixture
def own_templates(tmp_path):
    """A merchant's copy of the bundled templates, in effect as MAPPING_TEMPLATES_DIR."""
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    templates.use_templates_dir(tmp_path)
    yield tmp_path
    templates.use_templates_dir(None)


def test_the_stores_memberships_are_read_from_xcart(sandboxes):
    xcart = clients.xcart()
    assert memberships(xcart) == ["Wholesale", "VIP"]
    assert xcart.get("/api/memberships/2") == {"id": 2, "name": "VIP", "enabled": True}
    with pytest.raises(NotFound):
        xcart.get("/api/memberships/99")
    assert xcart.get("/api/memberships", {"itemsPerPage": 1, "page": 2}) == [
        {"id": 2, "name": "VIP", "enabled": True}
    ]


def test_memberships_get_customer_classes_and_an_accepted_one_is_used(
    sandboxes, redis_client, own_templates
):
    queue, acumatica, xcart = get_dlq(), clients.acumatica(), clients.xcart()
    acumatica.put("CustomerClass", {"ClassID": "VIPCUST", "Description": "VIP customers"})
    assert open_items(queue, acumatica, xcart=xcart) == []  # nothing stopped: not open by default
    items = {i.value: i for i in open_items(queue, acumatica, flow="customers", xcart=xcart)}
    assert set(items) == {"Wholesale", "VIP"}
    assert items["Wholesale"].field is CUSTOMER_GROUP and items["Wholesale"].count == 0
    assert items["Wholesale"].best.code == "WHOLESALE" and items["Wholesale"].best.confident
    assert items["VIP"].best.code == "VIPCUST"
    listed = run_cli("mapping", "suggest", "--flow", "customers", "--json").json
    assert {(i["field"], i["value"], i["suggestions"][0]["target"]) for i in listed} == {
        ("customer_group", "Wholesale", "WHOLESALE"),
        ("customer_group", "VIP", "VIPCUST"),
    }

    with pytest.raises(AcceptError, match="not an active customer class"):
        accept(CUSTOMER_GROUP, "VIP", "GOLD", by="o", queue=queue, acumatica=acumatica,
               publish=None)  # fmt: skip
    result = accept(CUSTOMER_GROUP, "VIP", "VIPCUST", by="olga", queue=queue,
                    acumatica=acumatica, publish=None)  # fmt: skip

    written = yaml.safe_load((own_templates / "customers.yaml").read_text())
    assert written["membership_to_customer_class"] == {"VIP": "VIPCUST"}
    assert result.previous is not None and templates.validate_all() == []
    template = templates.load_template("customers")
    assert customers.customer_class_for(template, "VIP") == "VIPCUST"
    assert customers.customer_class_for(template, "Wholesale") == template["customer_class"]
    left = open_items(queue, acumatica, flow="customers", xcart=xcart)
    assert [i.value for i in left] == ["Wholesale"]
    assert {v.value: v.target for v in store_values(xcart, 1)["customer_group"]} == {
        "Wholesale": None,
        "VIP": "VIPCUST",
    }


def _stopped_product(queue, name: str, n: int) -> None:
    """A product the engine's attribute mapping refuses, dead-lettered as the worker would."""
    from bench.mapping_assistant import dead_letter

    cfg = product_attributes.config_from(templates.load_template("products").get("attributes"))
    attribute = product_attributes.StoreAttribute(name, "text", ("Acme",))
    with pytest.raises(PermanentError) as refused:
        product_attributes.plan([attribute], {}, cfg)
    queue.add(dead_letter("product_attribute", name, refused.value.field_errors or {}, n))


def test_attribute_names_in_another_case_get_their_attribute_and_the_accepted_one_maps(
    sandboxes, redis_client, own_templates
):
    from sync_workers.celery import publish

    queue, acumatica = get_dlq(), clients.acumatica()
    for code, description in (("BRAND", "Brand"), ("WARRANTY", "Warranty period")):
        acumatica.put(
            "AttributeDefinition",
            {"AttributeID": code, "Description": description, "ControlType": "Text"},
        )
    _stopped_product(queue, "BRAND", 1)
    _stopped_product(queue, "brand", 2)
    _stopped_product(queue, "WARRANTY PERIOD", 3)
    items = {i.value: i for i in open_items(queue, acumatica)}
    assert items["BRAND"].field is PRODUCT_ATTRIBUTE
    assert items["BRAND"].best.code == "BRAND" and items["BRAND"].best.confident
    assert items["WARRANTY PERIOD"].best.code == "WARRANTY"

    [item] = [i for i in run_cli("mapping", "suggest", "--json").json if i["value"] == "brand"]
    assert item["template"] == "products.yaml attributes.map"
    result = accept(PRODUCT_ATTRIBUTE, "BRAND", "brand", by="olga", queue=queue,
                    acumatica=acumatica, publish=publish)  # fmt: skip

    written = yaml.safe_load((own_templates / "products.yaml").read_text())
    assert written["attributes"]["map"]["BRAND"] == "BRAND"
    assert result.comments_kept and templates.validate_all() == []
    cfg = product_attributes.config_from(templates.load_template("products")["attributes"])
    brand = product_attributes.StoreAttribute("brand", "text", ("Acme",))
    definition = product_attributes.Definition("BRAND", "Text")
    assert product_attributes.plan([brand], {"BRAND": definition}, cfg).rows == {"BRAND": "Acme"}
    assert len(result.replayed) == 2  # "BRAND" and "brand": both covered now
    assert {i.value for i in open_items(queue, acumatica)} == {"WARRANTY PERIOD"}
