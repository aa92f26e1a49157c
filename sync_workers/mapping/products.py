"""Product mapping: StockItem <-> X-Cart product or variant, per field group and its owner.

Both records are compared in one *view*: a dict keyed by X-Cart field names holding normalised
values (prices to cents, booleans for the status). The owner of each group decides which side's
value wins; :func:`patches` says what to write where. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync_workers.hashing import content_hash
from sync_workers.mapping import product_attributes
from sync_workers.mapping.product_attributes import AttributesConfig
from sync_workers.mapping.templates import load_template

FLOW = "products"
OWNERS = ("acumatica", "xcart")
#: Variant flags that stop a variant inheriting the product's value when we write it.
VARIANT_OWN_FLAGS = {"price": "default_price", "weight": "default_weight"}
_NUMBER_PLACES = {"price": 2, "weight": 4}


@dataclass(frozen=True)
class Group:
    name: str
    owner: str
    fields: tuple[tuple[str, str | None], ...]  # (X-Cart field, Acumatica field or None)


@dataclass(frozen=True)
class ProductsConfig:
    groups: tuple[Group, ...]
    variant_fields: frozenset[str] = frozenset({"price", "weight"})
    enabled_statuses: frozenset[str] = frozenset({"Active"})
    when_enabled: str = "Active"
    when_disabled: str = "Inactive"
    create_stock_items: bool = False
    new_stock_item: Mapping[str, Any] = field(default_factory=dict)
    create_store_products: bool = False
    #: X-Cart has no updated-since filter for products: a cursor poll scans the whole store (every
    #: product page and variant list) at most this often and reads only Acumatica in between.
    store_scan_seconds: float = 600.0
    #: How often a cursor poll also reads every product's attribute values to see edits of them
    #: alone (``None``: never; attributes are then written only when the SKU's chain runs).
    attribute_scan_seconds: float | None = None
    #: The template's ``attributes`` section (:mod:`sync_workers.mapping.product_attributes`).
    attributes: AttributesConfig = field(default_factory=AttributesConfig)

    def pairs(self, *, variant: bool = False) -> list[tuple[Group, str, str | None]]:
        return [
            (g, xc, acu)
            for g in self.groups
            for xc, acu in g.fields
            if not variant or xc in self.variant_fields
        ]

    def acumatica_fields(self) -> list[str]:
        return sorted({acu for _, _, acu in self.pairs() if acu})


@dataclass
class Patches:
    """What to write: X-Cart fields (its own names) and StockItem fields, plus the differences."""

    xcart: dict[str, Any] = field(default_factory=dict)
    acumatica: dict[str, Any] = field(default_factory=dict)
    differences: list[tuple[str, Any, Any]] = field(default_factory=list)  # (field, now, new)

    def __bool__(self) -> bool:
        return bool(self.xcart or self.acumatica)


def validate_template(template: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    groups = template.get("groups")
    if not isinstance(groups, Mapping) or not groups:
        return ["groups: must map group names to {owner, fields}"]
    seen: set[str] = set()
    for name, group in groups.items():
        if not isinstance(group, Mapping):
            problems.append(f"groups.{name}: must be a mapping with owner and fields")
            continue
        if group.get("owner") not in OWNERS:
            problems.append(f"groups.{name}.owner: must be one of {', '.join(OWNERS)}")
        fields = group.get("fields")
        if not isinstance(fields, Mapping) or not fields:
            problems.append(f"groups.{name}.fields: must map X-Cart fields to StockItem fields")
            continue
        for xc, acu in fields.items():
            if xc in seen:
                problems.append(f"groups.{name}.fields.{xc}: already in another group")
            seen.add(xc)
            if acu is not None and not (isinstance(acu, str) and acu.isidentifier()):
                problems.append(f"groups.{name}.fields.{xc}: must name a StockItem field or null")
    status = template.get("status", {})
    if not isinstance(status, Mapping) or not isinstance(status.get("enabled_statuses", []), list):
        problems.append("status.enabled_statuses: must be a list of ItemStatus values")
    for key in ("create_stock_items", "create_store_products"):
        if not isinstance(template.get(key, False), bool):
            problems.append(f"{key}: must be true or false")
    if not isinstance(template.get("new_stock_item", {}), Mapping):
        problems.append("new_stock_item: must be a mapping of StockItem fields")
    poll = template.get("poll", {})
    scan = poll.get("store_scan_seconds", 600) if isinstance(poll, Mapping) else None
    if isinstance(scan, bool) or not isinstance(scan, int | float) or scan < 0:
        problems.append("poll.store_scan_seconds: must be a number of seconds >= 0")
    attribute_scan = poll.get("attribute_scan_seconds") if isinstance(poll, Mapping) else None
    if attribute_scan is not None and (
        isinstance(attribute_scan, bool)
        or not isinstance(attribute_scan, int | float)
        or attribute_scan < 0
    ):
        problems.append("poll.attribute_scan_seconds: must be a number of seconds >= 0, or null")
    problems.extend(product_attributes.validate(template.get("attributes")))
    return problems


def config_from(template: Mapping[str, Any]) -> ProductsConfig:
    problems = validate_template(template)
    if problems:
        raise ValueError("products.yaml: " + "; ".join(problems))
    status = template.get("status") or {}
    return ProductsConfig(
        groups=tuple(
            Group(name, g["owner"], tuple((str(x), a) for x, a in g["fields"].items()))
            for name, g in template["groups"].items()
        ),
        variant_fields=frozenset(template.get("variant_fields", ("price", "weight"))),
        enabled_statuses=frozenset(status.get("enabled_statuses", ("Active",))),
        when_enabled=str(status.get("when_enabled", "Active")),
        when_disabled=str(status.get("when_disabled", "Inactive")),
        create_stock_items=bool(template.get("create_stock_items", False)),
        new_stock_item=dict(template.get("new_stock_item") or {}),
        create_store_products=bool(template.get("create_store_products", False)),
        store_scan_seconds=float((template.get("poll") or {}).get("store_scan_seconds", 600)),
        attribute_scan_seconds=_optional_seconds(
            (template.get("poll") or {}), "attribute_scan_seconds"
        ),
        attributes=product_attributes.config_from(template.get("attributes")),
    )


def _optional_seconds(section: Mapping[str, Any], key: str) -> float | None:
    value = section.get(key)
    return None if value is None else float(value)


def load_config() -> ProductsConfig:
    return config_from(load_template(FLOW))


# -- values ---------------------------------------------------------------------------------------


def _normal(xc_field: str, value: Any) -> Any:
    if value is None:
        return None
    if xc_field in _NUMBER_PLACES:
        return round(float(value), _NUMBER_PLACES[xc_field])
    if xc_field == "enabled":
        return bool(value)
    return value


def from_acumatica(xc_field: str, value: Any, cfg: ProductsConfig) -> Any:
    if xc_field == "enabled" and value is not None:
        return str(value) in cfg.enabled_statuses
    return _normal(xc_field, value)


def to_acumatica(xc_field: str, value: Any, cfg: ProductsConfig) -> Any:
    if xc_field == "enabled":
        return cfg.when_enabled if value else cfg.when_disabled
    return _normal(xc_field, value)


def xcart_view(record: Mapping[str, Any], cfg: ProductsConfig, *, variant: bool = False) -> dict:
    """The mapped fields of an X-Cart product or variant, normalised."""
    return {
        xc: _normal(xc, record.get(xc)) for _, xc, _ in cfg.pairs(variant=variant) if xc in record
    }


def erp_view(item: Mapping[str, Any], cfg: ProductsConfig, *, variant: bool = False) -> dict:
    """The mapped fields of a StockItem in X-Cart terms (fields Acumatica did not send are left out:
    unknown is not empty)."""
    return {
        xc: from_acumatica(xc, item[acu], cfg)
        for _, xc, acu in cfg.pairs(variant=variant)
        if acu and item.get(acu) is not None
    }


def view_hash(view: Mapping[str, Any]) -> str:
    return content_hash(dict(view))


def patches(
    store_record: Mapping[str, Any],
    item: Mapping[str, Any],
    cfg: ProductsConfig,
    *,
    variant: bool = False,
) -> Patches:
    """Writes that make both sides agree, each group taking its owner's value."""
    ours = xcart_view(store_record, cfg, variant=variant)
    theirs = erp_view(item, cfg, variant=variant)
    out = Patches()
    for group, xc, acu in cfg.pairs(variant=variant):
        if acu is None:
            continue
        store_value, erp_value = ours.get(xc), theirs.get(xc)
        if store_value == erp_value:
            continue
        if group.owner == "acumatica" and erp_value is not None:
            out.xcart[xc] = erp_value
            if variant and xc in VARIANT_OWN_FLAGS:
                out.xcart[VARIANT_OWN_FLAGS[xc]] = False
            out.differences.append((xc, store_value, erp_value))
        elif group.owner == "xcart" and store_value is not None:
            out.acumatica[acu] = to_acumatica(xc, store_value, cfg)
            out.differences.append((acu, item.get(acu), out.acumatica[acu]))
    return out


def new_stock_item(sku: str, store_record: Mapping[str, Any], cfg: ProductsConfig) -> dict:
    """A StockItem for a product that exists only in X-Cart (every mapped field from X-Cart)."""
    item: dict[str, Any] = {**cfg.new_stock_item, "InventoryID": sku}
    view = xcart_view(store_record, cfg)
    for _, xc, acu in cfg.pairs():
        if acu and view.get(xc) is not None:
            item[acu] = to_acumatica(xc, view[xc], cfg)
    return item


def new_store_product(sku: str, item: Mapping[str, Any], cfg: ProductsConfig) -> dict:
    """An X-Cart product for a stock item that exists only in Acumatica (enabled as its status
    says; X-Cart requires a name, so the SKU stands in for a missing description)."""
    product: dict[str, Any] = {"sku": sku, "name": item.get("Description") or sku}
    product.update(erp_view(item, cfg))
    return product
