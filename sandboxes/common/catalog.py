"""The deterministic seed catalogue both sandboxes load, so store SKUs match ERP stock items.

The same call always gives the same items (no randomness), about 200 of them, including values
that break naive code: quotes in names, a slash and an apostrophe in a SKU, non-ASCII text and a
zero price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

WAREHOUSES = ("WHOLESALE", "RETAIL")

_ADJECTIVES = ("Classic", "Deluxe", "Compact", "Rugged", "Organic", "Vintage", "Modern", "Premium")
_NOUNS = {
    "APPAREL": ("T-shirt", "Hoodie", "Cap", "Scarf", "Sock pack"),
    "KITCHEN": ("Mug", "Kettle", "Cutting board", "Tea towel", "Spice jar"),
    "OFFICE": ("Notebook", "Pen set", "Desk lamp", "Stapler", "Planner"),
    "OUTDOOR": ("Water bottle", "Tent peg set", "Headlamp", "Camp chair", "Trail map"),
    "TOYS": ("Puzzle", "Yo-yo", "Kite", "Board game", "Plush bear"),
}
_CLASSES = tuple(_NOUNS)
_GENERATED = 194


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    description: str
    price: Decimal
    weight: Decimal
    item_class: str
    qty_by_warehouse: dict[str, int] = field(hash=False)

    @property
    def total_qty(self) -> int:
        return sum(self.qty_by_warehouse.values())


def _generated(n: int) -> CatalogItem:
    item_class = _CLASSES[n % len(_CLASSES)]
    nouns = _NOUNS[item_class]
    noun = nouns[(n // len(_CLASSES)) % len(nouns)]
    adjective = _ADJECTIVES[(n * 3) % len(_ADJECTIVES)]
    price = Decimal(299 + (n * 731) % 14700) / 100
    weight = Decimal(5 + (n * 37) % 495) / 100
    qty = {"WHOLESALE": (n * 37) % 120, "RETAIL": (n * 53) % 40}
    return CatalogItem(
        sku=f"AA-{n:04d}",
        name=f"{adjective} {noun} #{n}",
        description=f"{adjective} {noun.lower()} from the {item_class.lower()} range, model {n}.",
        price=price.quantize(Decimal("0.01")),
        weight=weight.quantize(Decimal("0.01")),
        item_class=item_class,
        qty_by_warehouse=qty,
    )


def _hard_values() -> tuple[CatalogItem, ...]:
    return (
        CatalogItem(
            "O'NEIL/42",
            "O'Neil wetsuit 4/2",
            "Wetsuit, 4/2 mm, O'Neil cut.",
            Decimal("189.00"),
            Decimal("1.80"),
            "APPAREL",
            {"WHOLESALE": 12, "RETAIL": 3},
        ),
        CatalogItem(
            "AA-QUOTE",
            'Sailor\'s "Classic" knot board',
            "A 12\" board of sailor's knots.",
            Decimal("34.50"),
            Decimal("0.90"),
            "TOYS",
            {"WHOLESALE": 20, "RETAIL": 5},
        ),
        CatalogItem(
            "AA-CAFE",
            "Café crème 250 g",
            "Ground café crème, 250 g, torréfié à Montréal.",
            Decimal("8.95"),
            Decimal("0.25"),
            "KITCHEN",
            {"WHOLESALE": 200, "RETAIL": 40},
        ),
        CatalogItem(
            "AA-LODZ",
            "Łódź mug",
            "Stoneware mug from Łódź, 350 ml.",
            Decimal("14.00"),
            Decimal("0.40"),
            "KITCHEN",
            {"WHOLESALE": 60, "RETAIL": 15},
        ),
        CatalogItem(
            "AA-FREE",
            "Free sticker",
            "A free sticker; price zero.",
            Decimal("0.00"),
            Decimal("0.01"),
            "OFFICE",
            {"WHOLESALE": 1000, "RETAIL": 100},
        ),
        CatalogItem(
            "AA-SOLDOUT",
            "Sold-out lantern",
            "Out of stock everywhere.",
            Decimal("45.00"),
            Decimal("1.20"),
            "OUTDOOR",
            {"WHOLESALE": 0, "RETAIL": 0},
        ),
    )


def seed_catalog() -> list[CatalogItem]:
    """All seed items in a fixed order (generated ``AA-0001``.. first, then the hard values).

    Built afresh on each call, so callers may change the quantity dicts freely.
    """
    return [_generated(n) for n in range(1, _GENERATED + 1)] + list(_hard_values())


def catalog_by_sku() -> dict[str, CatalogItem]:
    return {item.sku: item for item in seed_catalog()}
