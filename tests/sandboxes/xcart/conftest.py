from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandboxes.common.server import RunningServer, serve_in_thread
from sandboxes.xcart import create_app

RW = {"X-Auth-Token": "sandbox-rw"}
RO = {"X-Auth-Token": "sandbox-ro"}

NY_ADDRESS = {
    "firstname": "Siobhan",
    "lastname": "O'Brien",
    "street": "1 Main St",
    "city": "New York",
    "zipcode": "10001",
    "country_code": "US",
    "state_code": "NY",
    "phone": "5551234567",
}


def checkout_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "shopper@example.com",
        "items": [{"sku": "AA-0001", "amount": 2}],
        "billing_address": dict(NY_ADDRESS),
        "shipping_address": dict(NY_ADDRESS),
        "payment_method": "Credit Card",
        "currency": "USD",
        "shipping_cost": 7.5,
    }
    body.update(overrides)
    return body


class Api:
    """Test client bound to the sandbox with the read/write token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, path: str, headers: dict[str, str] | None = None, **kwargs: Any):
        return self.client.get(path, headers={**RW, **(headers or {})}, **kwargs)

    def put(self, path: str, json: Any = None, headers: dict[str, str] | None = None):
        return self.client.put(path, json=json, headers={**RW, **(headers or {})})

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None):
        return self.client.post(path, json=json, headers={**RW, **(headers or {})})

    def delete(self, path: str):
        return self.client.delete(path, headers=RW)

    def checkout(self, **overrides: Any) -> dict[str, Any]:
        answer = self.client.post("/_sandbox/checkout", json=checkout_body(**overrides))
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()

    def advance_clock(self, seconds: int = 10) -> None:
        self.client.post("/_sandbox/clock", json={"advance_seconds": seconds})

    def config(self, **switches: Any) -> None:
        answer = self.client.post("/_sandbox/config", json=switches)
        assert answer.status_code == 200, answer.get_json()

    def product_by_sku(self, sku: str) -> dict[str, Any]:
        for page in range(1, 5):
            for product in self.get(f"/api/products?itemsPerPage=100&page={page}").get_json():
                if product["sku"] == sku:
                    return product
        raise AssertionError(f"no product {sku}")


@pytest.fixture
def app(tmp_path) -> Flask:
    return create_app(tmp_path, seed=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


@pytest.fixture
def server(app: Flask) -> Iterator[RunningServer]:
    running = serve_in_thread(app)
    yield running
    app.extensions["xcart_sandbox"].faults.release_holds()
    running.stop()
