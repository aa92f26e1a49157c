"""A small HTTP client for the tests: sign-in, entity calls and the control surface."""

from __future__ import annotations

from typing import Any

import requests

BASE = "/entity/Default/24.200.001"


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()

    def login(self, **overrides: Any) -> requests.Response:
        body = {"name": "admin", "password": "sandbox", "tenant": "Company", **overrides}
        response = self.http.post(f"{self.url}/entity/auth/login", json=body, timeout=10)
        assert response.status_code == 204, response.text
        return response

    def logout(self) -> requests.Response:
        return self.http.post(f"{self.url}/entity/auth/logout", timeout=10)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(f"{self.url}{BASE}/{path}", params=params or None, timeout=30)

    def put(
        self, entity: str, body: Any, headers: dict[str, str] | None = None, **params: Any
    ) -> requests.Response:
        return self.http.put(
            f"{self.url}{BASE}/{entity}",
            json=body,
            params=params or None,
            headers=headers,
            timeout=30,
        )

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(f"{self.url}{BASE}/{path}", timeout=30)

    def action(
        self, entity: str, action: str, record: dict[str, Any], **parameters: Any
    ) -> requests.Response:
        body = {"entity": record, "parameters": {k: {"value": v} for k, v in parameters.items()}}
        return self.http.post(f"{self.url}{BASE}/{entity}/{action}", json=body, timeout=30)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.url}/_sandbox{path}", json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def order(
        self, customer: str = "XCGUEST", lines: list[tuple[str, float]] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """PUT a sales order and return it (with Details, Totals expanded)."""
        body: dict[str, Any] = {"CustomerID": {"value": customer}}
        body.update({k: {"value": v} for k, v in fields.items()})
        body["Details"] = [
            {"InventoryID": {"value": sku}, "OrderQty": {"value": qty}}
            for sku, qty in (lines or [("AA-0001", 2)])
        ]
        response = self.put("SalesOrder", body, **{"$expand": "Details,Totals"})
        assert response.status_code == 200, response.text
        return response.json()


def value(record: dict[str, Any], *path: str) -> Any:
    """``value(order, "Totals", "Freight")`` -> the unwrapped value."""
    node: Any = record
    for name in path:
        node = node[name]
    return node.get("value")
