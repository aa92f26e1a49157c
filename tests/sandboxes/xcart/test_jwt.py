from __future__ import annotations

from sandboxes.xcart.seed import ADMIN_LOGIN, ADMIN_PASSWORD


def _login(client, password: str = ADMIN_PASSWORD):
    return client.post("/api-login/check", json={"username": ADMIN_LOGIN, "password": password})


def test_admin_login_gives_a_bearer_token_that_can_write(client):
    answer = _login(client)
    assert answer.status_code == 200
    bearer = {"Authorization": f"Bearer {answer.get_json()['token']}"}
    assert client.get("/api/products/1", headers=bearer).status_code == 200
    assert client.put("/api/products/1", json={"amount": 4}, headers=bearer).status_code == 200


def test_wrong_password_and_customers_cannot_log_in(client):
    assert _login(client, "wrong").get_json() == {"code": 401, "message": "Invalid credentials."}
    rw = {"X-Auth-Token": "sandbox-rw"}
    customer = client.get("/api/profiles?login=customer001", headers=rw).get_json()[0]
    client.put(f"/api/profiles/{customer['id']}", json={"password": "long-enough"}, headers=rw)
    attempt = client.post(
        "/api-login/check", json={"username": customer["login"], "password": "long-enough"}
    )
    assert attempt.status_code == 401


def test_tampered_and_expired_tokens_are_refused(client):
    token = _login(client).get_json()["token"]
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    answer = client.get("/api/orders", headers={"Authorization": f"Bearer {tampered}"})
    assert answer.get_json() == {"code": 401, "message": "Invalid JWT Token"}
    client.post("/_sandbox/clock", json={"advance_seconds": 3601})
    answer = client.get("/api/orders", headers={"Authorization": f"Bearer {token}"})
    assert answer.get_json() == {"code": 401, "message": "Expired JWT Token"}
