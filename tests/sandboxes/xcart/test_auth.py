from __future__ import annotations

from .conftest import RO


def test_missing_token_is_401_jwt_token_not_found(client):
    answer = client.get("/api/orders")
    assert answer.status_code == 401
    assert answer.mimetype == "application/json"
    assert answer.get_json() == {"code": 401, "message": "JWT Token not found"}


def test_wrong_token_is_401_invalid_credentials(client):
    answer = client.get("/api/orders", headers={"X-Auth-Token": "nope"})
    assert answer.status_code == 401
    assert answer.mimetype == "application/json"
    assert answer.get_json() == {"message": "Invalid credentials."}


def test_token_header_name_is_case_insensitive(client):
    assert client.get("/api/products", headers={"x-auth-token": "sandbox-ro"}).status_code == 200


def test_read_only_token_reads(client):
    assert client.get("/api/orders", headers=RO).status_code == 200


def test_read_only_token_gets_403_on_put(api, client):
    order = api.checkout()
    answer = client.put(
        f"/api/orders/{order['id']}/shipping_status", json={"code": "S"}, headers=RO
    )
    assert answer.status_code == 403
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["detail"] == "Access Denied."
    assert api.get(f"/api/orders/{order['id']}").get_json()["shipping_status"]["code"] == "N"


def test_read_only_token_gets_403_on_post_and_delete(client):
    assert (
        client.post("/api/products", json={"sku": "X", "name": "X"}, headers=RO).status_code == 403
    )
    assert client.delete("/api/products/1", headers=RO).status_code == 403


def test_unknown_route_is_404_before_authentication(client):
    answer = client.get("/api/nothing-here")
    assert answer.status_code == 404
    assert answer.get_json()["detail"] == 'No route found for "GET /api/nothing-here"'
