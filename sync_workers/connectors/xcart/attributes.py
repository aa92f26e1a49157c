"""Reading a product's attribute values from X-Cart 5.5 (core has no single call for it).

A product's attributes are the global ones (``/api/attributes_{select,checkbox,text}``) and its
own (``/api/products/{id}/attributes_*``); its values of each are read one attribute at a time
(``/api/products/{id}/attributes_*/{attribute_id}/values``: a list for select and checkbox, one
value for text, 404 when the product has none). Reading one product therefore costs three
requests for the global lists (once per reader), three for its own lists, and one per attribute.
X-Cart has no read of one attribute's values across products, so seeing every product's values
costs ``3 + sum over products of (3 + global attributes + its own attributes)`` requests; the
products flow's attribute scan spreads them over its period, a slice of products per poll.
"""

from __future__ import annotations

from typing import Any

from sync_workers.connectors.errors import NotFound
from sync_workers.connectors.xcart.client import XCartClient
from sync_workers.mapping.product_attributes import StoreAttribute

KINDS = ("select", "checkbox", "text")


class AttributeReader:
    """One reader per chain run, scan slice or comparison: the global attribute lists are read
    once, and each product's values once (its variants share them)."""

    def __init__(self, xcart: XCartClient) -> None:
        self.xcart = xcart
        self._globals: dict[str, list[dict[str, Any]]] = {}
        self._products: dict[int, list[StoreAttribute]] = {}

    def global_attributes(self, kind: str) -> list[dict[str, Any]]:
        if kind not in self._globals:
            self._globals[kind] = list(self.xcart.iter_collection(f"/api/attributes_{kind}"))
        return self._globals[kind]

    def product_attributes(self, product_id: int) -> list[StoreAttribute]:
        """Every attribute the product has a value of (global ones first, then its own)."""
        pid = int(product_id)
        if pid not in self._products:
            self._products[pid] = self._read(pid)
        return self._products[pid]

    def _read(self, pid: int) -> list[StoreAttribute]:
        found: list[StoreAttribute] = []
        for kind in KINDS:
            own = list(self.xcart.iter_collection(f"/api/products/{pid}/attributes_{kind}"))
            for attribute in [*self.global_attributes(kind), *own]:
                values = self._values(pid, kind, int(attribute["id"]))
                if values:
                    found.append(
                        StoreAttribute(
                            str(attribute["name"]),
                            kind,
                            tuple(values.values()),
                            values if kind != "text" else {},
                        )
                    )
        return found

    def _values(self, pid: int, kind: str, attribute_id: int) -> dict[int, Any]:
        path = f"/api/products/{pid}/attributes_{kind}/{attribute_id}/values"
        if kind == "text":
            try:
                value = self.xcart.get(path)
            except NotFound:
                return {}
            text = str(value.get("value") or "").strip()
            return {int(value["id"]): text} if text else {}
        rows = self.xcart.get(path)
        if kind == "select":
            return {int(r["id"]): str(r["option"]["value"]) for r in rows}
        return {int(r["id"]): bool(r["value"]) for r in rows}
