from __future__ import annotations

import pytest


def test_plain_json_collection_is_a_bare_array_of_30_by_default(api):
    answer = api.get("/api/products")
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert isinstance(body, list)
    assert len(body) == 30


def test_items_per_page_500_returns_100(api):
    assert len(api.get("/api/products?itemsPerPage=500").get_json()) == 100


def test_pages_do_not_overlap_and_run_out(api):
    first = [p["id"] for p in api.get("/api/products?itemsPerPage=100&page=1").get_json()]
    second = [p["id"] for p in api.get("/api/products?itemsPerPage=100&page=2").get_json()]
    third = api.get("/api/products?itemsPerPage=100&page=3").get_json()
    assert not set(first) & set(second)
    assert len(first) + len(second) + len(third) == 204
    assert len(third) == 4


@pytest.mark.parametrize("page", ["0", "-1", "abc"])
def test_page_below_one_is_400(api, page):
    answer = api.get(f"/api/products?page={page}")
    assert answer.status_code == 400
    assert answer.get_json()["detail"] == "Page should not be less than 1"


def test_jsonld_collection_is_hydra_with_totals_and_view(api):
    answer = api.get(
        "/api/products?itemsPerPage=50&page=2", headers={"Accept": "application/ld+json"}
    )
    assert answer.mimetype == "application/ld+json"
    body = answer.get_json()
    assert body["@type"] == "hydra:Collection"
    assert body["hydra:totalItems"] == 204
    assert len(body["hydra:member"]) == 50
    assert body["hydra:member"][0]["@id"] == f"/api/products/{body['hydra:member'][0]['id']}"
    view = body["hydra:view"]
    assert view["hydra:next"].endswith("page=3")
    assert view["hydra:previous"].endswith("page=1")
    assert view["hydra:last"].endswith("page=5")


def test_format_suffix_works_on_orders_but_not_products(api):
    api.checkout()
    body = api.get("/api/orders.jsonld").get_json()
    assert body["hydra:totalItems"] == 1
    order_id = body["hydra:member"][0]["id"]
    assert api.get(f"/api/orders/{order_id}.json").get_json()["id"] == order_id
    assert api.get(f"/api/orders/{order_id}.jsonld").get_json()["@type"] == "Order"
    assert api.get("/api/products/1.json").status_code == 404


def test_errors_are_problem_json_or_hydra_error(api):
    plain = api.get("/api/orders/999")
    assert plain.status_code == 404
    assert plain.mimetype == "application/problem+json"
    assert plain.get_json() == {
        "type": "https://tools.ietf.org/html/rfc2616#section-10",
        "title": "An error occurred",
        "detail": "Not Found",
    }
    ld = api.get("/api/orders/999", headers={"Accept": "application/ld+json"})
    assert ld.get_json() == {
        "@context": "/api/contexts/Error",
        "@type": "hydra:Error",
        "hydra:title": "An error occurred",
        "hydra:description": "Not Found",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/orders"),
        ("PUT", "/api/orders/1"),
        ("PATCH", "/api/orders/1"),
        ("DELETE", "/api/orders/1"),
        ("PATCH", "/api/products/1"),
        ("POST", "/api/orders/1/shipping_status"),
    ],
)
def test_undefined_methods_are_405(api, method, path):
    api.checkout()
    answer = api.client.open(path, method=method, json={}, headers={"X-Auth-Token": "sandbox-rw"})
    assert answer.status_code == 405
    assert "Method Not Allowed" in answer.get_json()["detail"]
    assert answer.headers["Allow"]


def test_unsupported_accept_is_406(api):
    assert api.get("/api/products", headers={"Accept": "text/csv"}).status_code == 406


def test_malformed_json_body_is_400(api):
    answer = api.client.put("/api/products/1", data="{nope", headers={"X-Auth-Token": "sandbox-rw"})
    assert answer.status_code == 400
    assert answer.get_json()["detail"] == "Syntax error"
