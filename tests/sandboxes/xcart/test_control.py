from __future__ import annotations

import pytest
import requests

from sandboxes.xcart import create_app

from .conftest import RW, checkout_body


def test_config_defaults_and_bad_switches(client):
    config = client.get("/_sandbox/config").get_json()
    assert config["last_renew_filter"] is True
    assert config["tracking_extension"] is False
    assert config["webhooks_enabled"] is False
    assert config["transaction_status_quirk"] is True
    assert config["addon_keys"] is False
    assert client.post("/_sandbox/config", json={"nope": True}).status_code == 400
    assert client.post("/_sandbox/config", json={"addon_keys": "yes"}).status_code == 400


def test_reset_empties_and_seed_fills_again(api, client):
    api.checkout()
    assert client.post("/_sandbox/reset").status_code == 200
    assert api.get("/api/products").get_json() == []
    assert api.get("/api/orders").get_json() == []
    seeded = client.post("/_sandbox/seed", json={"customers": 10, "orders": 3}).get_json()
    assert seeded["products"] == 204
    assert seeded["variants"] == 5
    assert seeded["profiles"] == 11
    assert seeded["orders"] == 3
    again = client.post("/_sandbox/seed", json={}).get_json()
    assert again["products"] == 0


def test_state_table_covers_us_and_canada(client):
    states = client.get("/_sandbox/states").get_json()
    assert sum(s["country_code"] == "US" for s in states) == 51
    assert sum(s["country_code"] == "CA" for s in states) == 13
    assert len({s["id"] for s in states}) == len(states)


def test_control_surface_refuses_remote_clients(client):
    answer = client.post(
        "/_sandbox/checkout", json=checkout_body(), environ_base={"REMOTE_ADDR": "10.0.0.8"}
    )
    assert answer.status_code == 403


def test_clock_moves_forward(client):
    now = client.get("/_sandbox/clock").get_json()["now"]
    moved = client.post("/_sandbox/clock", json={"advance_seconds": 3600}).get_json()
    assert moved["now"] >= now + 3600


def test_data_and_switches_survive_a_restart(tmp_path):
    first = create_app(tmp_path, seed=True)
    placed = first.test_client().post("/_sandbox/checkout", json=checkout_body()).get_json()
    first.test_client().post("/_sandbox/config", json={"addon_keys": True})
    second = create_app(tmp_path, seed=True).test_client()
    again = second.get(f"/api/orders/{placed['id']}", headers=RW).get_json()
    assert again["order_number"] == placed["order_number"]
    assert "used_coupons" in again
    assert len(second.get("/api/products?itemsPerPage=100&page=3", headers=RW).get_json()) == 4


def test_injected_500_uses_problem_json(api, server):
    api.client.post("/_sandbox/faults", json={"rules": [{"path": "^/api/orders", "p500": 1.0}]})
    answer = requests.get(f"{server.url}/api/orders", headers=RW, timeout=5)
    assert answer.status_code == 500
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["detail"] == "Internal Server Error"
    assert requests.get(f"{server.url}/api/products", headers=RW, timeout=5).status_code == 200


def test_reset_after_commit_on_status_put_still_applies_it(api, server):
    order = api.checkout()
    api.client.post(
        "/_sandbox/faults",
        json={
            "rules": [
                {"path": "shipping_status$", "method": "PUT", "preset": 1.0, "after_commit": True}
            ]
        },
    )
    with pytest.raises(requests.ConnectionError):
        requests.put(
            f"{server.url}/api/orders/{order['id']}/shipping_status",
            json={"code": "S"},
            headers=RW,
            timeout=5,
        )
    assert api.get(f"/api/orders/{order['id']}").get_json()["shipping_status"]["code"] == "S"


def test_stats_count_api_requests_and_add_store_counts(api, client):
    api.checkout()
    api.get("/api/orders")
    api.get("/api/orders/999")
    stats = client.get("/_sandbox/stats").get_json()
    assert stats["requests"]["by_path"]["GET /api/orders"] == 1
    assert stats["requests"]["by_status"] == {"200": 1, "404": 1}
    assert stats["orders"] == 1
    assert stats["products"] == 204


def test_api_latency_and_429_faults(api, server):
    import time

    api.client.post(
        "/_sandbox/faults",
        json={
            "latency_ms": {"GET": 200},
            "rules": [{"path": "^/api/products", "method": "PUT", "p429": 1.0}],
        },
    )
    started = time.monotonic()
    assert requests.get(f"{server.url}/api/orders", headers=RW, timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.2
    answer = requests.put(f"{server.url}/api/products/1", json={"amount": 1}, headers=RW, timeout=5)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "1"
    assert api.get("/api/products/1").get_json()["amount"] != 1
