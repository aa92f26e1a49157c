"""The generated swagger.json: structure, resolvable references, and agreement with a real one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandboxes.acumatica.entities import SCHEMAS, TOP_LEVEL
from sandboxes.acumatica.swagger import build_swagger

from .client import Api

REPO_ROOT = Path(__file__).resolve().parents[3]
REAL_SWAGGER = REPO_ROOT.parent / "shared/reference/acumatica/swagger-Default-24.200.001.json"


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    if not REAL_SWAGGER.exists():
        pytest.skip(f"reference swagger not found at {REAL_SWAGGER}")
    return json.loads(REAL_SWAGGER.read_text(encoding="utf-8"))


def properties(doc: dict[str, Any], name: str) -> dict[str, Any]:
    schema = doc["components"]["schemas"][name]
    out: dict[str, Any] = {}
    for part in schema.get("allOf", [schema]):
        out.update(part.get("properties", {}))
    return out


def type_of(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if prop.get("type") == "array":
        return "[" + prop["items"]["$ref"].rsplit("/", 1)[-1] + "]"
    return str(prop.get("type"))


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_every_entity_and_field_exists_in_the_real_document_with_the_same_type(
    real: dict[str, Any],
) -> None:
    ours = build_swagger("24.200.001", "http://127.0.0.1")
    checked = 0
    for name in SCHEMAS:
        assert name in real["components"]["schemas"], name
        real_props = properties(real, name)
        for field, prop in properties(ours, name).items():
            assert field in real_props, f"{name}.{field}"
            assert type_of(prop) == type_of(real_props[field]), f"{name}.{field}"
            checked += 1
    assert checked > 300


def test_tags_and_operation_ids_match_the_real_document(real: dict[str, Any]) -> None:
    ours = build_swagger("24.200.001", "http://127.0.0.1")
    real_tags = {t["name"]: t["description"] for t in real["tags"]}
    for tag in ours["tags"]:
        assert real_tags[tag["name"]] == tag["description"]
    real_ops = {op["operationId"] for path in real["paths"].values() for op in path.values()}
    our_ops = {op["operationId"] for path in ours["paths"].values() for op in path.values()}
    assert our_ops <= real_ops, sorted(our_ops - real_ops)
    for path in ours["paths"]:
        assert path in real["paths"], path


def test_every_ref_resolves_and_entities_use_allof_with_entity() -> None:
    doc = build_swagger("24.200.001", "http://127.0.0.1")
    for ref in refs(doc):
        kind, name = ref.split("/")[-2:]
        assert name in doc["components"][kind], ref
    for name in TOP_LEVEL:
        assert doc["components"]["schemas"][name]["allOf"][0] == {
            "$ref": "#/components/schemas/Entity"
        }
    assert doc["openapi"] == "3.0.1" and doc["info"] == {
        "title": "Default/24.200.001",
        "version": "4",
    }
    assert doc["components"]["schemas"]["DecimalValue"]["properties"]["value"]["type"] == "number"


def test_swagger_is_served_for_both_versions(api: Api) -> None:
    for version in ("24.200.001", "23.200.001"):
        response = api.http.get(f"{api.url}/entity/Default/{version}/swagger.json?company=Company")
        assert response.status_code == 200
        assert response.json()["info"]["title"] == f"Default/{version}"
    assert api.http.get(f"{api.url}/entity/Default/99.999.001/swagger.json").status_code == 404


def test_entity_discovery_lists_default_endpoints(anon: Api) -> None:
    body = anon.http.get(f"{anon.url}/entity").json()
    assert {
        "name": "Default",
        "version": "24.200.001",
        "href": "/entity/Default/24.200.001/",
    } in body["endpoints"]
    assert body["version"]["acumaticaBuildVersion"]
