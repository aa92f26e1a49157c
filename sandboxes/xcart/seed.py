"""Seed data: the shared catalogue, a few store-only products and variants, customers, orders.

Seeding is idempotent: records whose SKU or login already exists are left alone.
"""

from __future__ import annotations

from typing import Any

from sandboxes.common.catalog import seed_catalog
from sandboxes.xcart import attributes, checkout, profiles
from sandboxes.xcart.context import Sandbox
from sandboxes.xcart.reference import PRODUCT_CLASSES, STATE_BY_CODE

ADMIN_LOGIN = "admin@example.com"
ADMIN_PASSWORD = "sandbox-admin"
CLASS_IDS = {name: key for key, name in PRODUCT_CLASSES.items()}

STORE_ONLY: tuple[dict[str, Any], ...] = (
    {
        "sku": "WEB-GIFT-25",
        "name": "Gift card $25",
        "price": 25.0,
        "weight": 0.0,
        "inventory_traceable": False,
        "amount": 0,
        "free_shipping": True,
        "taxable": False,
    },
    {
        "sku": "WEB-TEE",
        "name": "Store logo T-shirt",
        "price": 19.0,
        "weight": 0.2,
        "amount": 0,
        "attributes": {
            "product select": {"Size": ("S", "M", "L")},
            "global text": {"Material": "Cotton"},
        },
        "variants": (
            {
                "sku": "WEB-TEE-S",
                "amount": 10,
                "default_amount": False,
                "default_variant": True,
                "select": ("Size", "S"),
            },
            {
                "sku": "WEB-TEE-M",
                "amount": 20,
                "default_amount": False,
                "select": ("Size", "M"),
            },
            {
                "sku": "WEB-TEE-L",
                "amount": 0,
                "default_amount": False,
                "select": ("Size", "L"),
            },
        ),
    },
    {
        "sku": "WEB-MUG",
        "name": "Personalised mug",
        "price": 14.0,
        "weight": 0.4,
        "amount": 50,
        "attributes": {
            "global select": {"Color": ("Red", "Blue")},
            "global checkbox": {"Dishwasher safe": (True,)},
            "global text": {"Material": "Ceramic"},
        },
        "variants": (
            {
                "sku": "WEB-MUG-RED",
                "price": 16.5,
                "default_price": False,
                "select": ("Color", "Red"),
            },
            {
                "sku": "WEB-MUG-BLUE",
                "select": ("Color", "Blue"),
            },
        ),
    },
    {
        "sku": "WEB-SAMPLE",
        "name": "Free fabric sample",
        "price": 0.0,
        "weight": 0.01,
        "amount": 500,
        "enabled": False,
    },
)

FIRST = (
    "Jane",
    "John",
    "Zoë",
    "José",
    "Siobhan",
    "Łukasz",
    "Amélie",
    "Chen",
    "Priya",
    "Olu",
    "Mary-Kate",
    "D'Arcy",
    "Björn",
    "Ana",
    "Tom",
)
LAST = (
    "Doe",
    "O'Brien",
    "Ångström",
    "Núñez",
    "Smith",
    "Kowalski",
    "Tremblay",
    "Li",
    "Patel",
    "Okafor",
    "Van der Berg",
    "MacDonald",
)
PLACES = (
    ("US", "NY", "New York", "10001"),
    ("US", "CA", "San Francisco", "94105"),
    ("US", "TX", "Austin", "73301"),
    ("US", "WA", "Seattle", "98101"),
    ("US", "IL", "Chicago", "60601"),
    ("US", "OR", "Portland", "97201"),
    ("CA", "ON", "Toronto", "M5V 2T6"),
    ("CA", "QC", "Montréal", "H2X 1Y4"),
    ("CA", "BC", "Vancouver", "V6B 1A1"),
    ("US", "MA", "Boston", "02108"),
)


def customer_address(n: int, *, billing: bool = True, shipping: bool = True) -> dict[str, Any]:
    country, state, city, zipcode = PLACES[n % len(PLACES)]
    return {
        "firstname": FIRST[n % len(FIRST)],
        "lastname": LAST[(n * 7) % len(LAST)],
        "street": f"{100 + n} {('Main', 'King', 'Rue Saint-Denis', 'Oak')[n % 4]} St",
        "city": city,
        "zipcode": zipcode,
        "country_code": country,
        "state": STATE_BY_CODE[(country, state)].id,
        "phone": f"555{n:07d}",
        "is_billing": billing,
        "is_shipping": shipping,
        "type": "C" if n % 9 == 0 else "R",
    }


def customer_email(n: int) -> str:
    last = LAST[(n * 7) % len(LAST)].lower().replace(" ", "").replace("'", "")
    return f"customer{n:03d}.{last}@example.com"


def seed(sb: Sandbox, options: dict[str, Any]) -> dict[str, Any]:
    customers = int(options.get("customers", 50))
    order_count = int(options.get("orders", 0))
    now = sb.now()
    added = {"products": 0, "variants": 0, "profiles": 0, "orders": 0}
    with sb.store.tx():
        existing = {r["sku"] for r in sb.store.query("SELECT sku FROM products")}
        for n, item in enumerate(seed_catalog()):
            if item.sku in existing:
                continue
            doc = {
                "sku": item.sku,
                "name": item.name,
                "description": item.description,
                "price": float(item.price),
                "weight": float(item.weight),
                "amount": item.total_qty,
                "enabled": True,
                "inventory_traceable": True,
                "product_class_id": CLASS_IDS.get(item.item_class),
                "tax_class_id": 1,
                "membership_ids": [],
                "images": [],
                "created": now,
                "updated": now,
                "arrival": now - 86400 * (n % 365),
                "clean_url": item.sku.lower().replace("/", "-").replace("'", ""),
            }
            sb.store.insert(
                "products",
                doc,
                sku=item.sku,
                name=item.name,
                price=doc["price"],
                arrival=doc["arrival"],
            )
            added["products"] += 1
        for spec in STORE_ONLY:
            if spec["sku"] in existing:
                continue
            doc = {
                "enabled": True,
                "inventory_traceable": True,
                "membership_ids": [],
                "images": [],
                "created": now,
                "updated": now,
                "arrival": now,
                **{k: v for k, v in spec.items() if k not in ("variants", "attributes")},
            }
            product_id = sb.store.insert(
                "products", doc, sku=doc["sku"], name=doc["name"], price=doc["price"], arrival=now
            )
            added["products"] += 1
            value_ids = attributes.seed_product(sb, product_id, spec.get("attributes", {}))
            for variant in spec.get("variants", ()):
                selected = variant.get("select")
                vdoc = {
                    "price": 0.0,
                    "default_price": True,
                    "amount": 0,
                    "default_amount": True,
                    "weight": 0.0,
                    "default_weight": True,
                    "default_variant": False,
                    "image": None,
                    "attribute_checkbox_values": [],
                    "attribute_select_values": [value_ids[selected]] if selected else [],
                    **{k: v for k, v in variant.items() if k != "select"},
                }
                sb.store.insert("variants", vdoc, product_id=product_id, sku=vdoc["sku"])
                added["variants"] += 1
        if profiles.find_by_login(sb, ADMIN_LOGIN) is None:
            sb.store.insert(
                "profiles",
                {
                    "login": ADMIN_LOGIN,
                    "access_level": 100,
                    "status": "E",
                    "language": "en",
                    "role_ids": [1],
                    "password_hash": profiles.hash_password(ADMIN_PASSWORD),
                    "added": now,
                    "first_login": now,
                },
                login=ADMIN_LOGIN,
                added=now,
                first_login=now,
                snapshot=0,
            )
            added["profiles"] += 1
        for n in range(1, customers + 1):
            email = customer_email(n)
            if profiles.find_by_login(sb, email) is not None:
                continue
            doc = {
                "login": email,
                "access_level": 0,
                "status": "E",
                "language": "en",
                "role_ids": [],
                "membership_id": 1 if n % 10 == 0 else None,
                "added": now - 3600 * n,
                "first_login": now - 3600 * n + 60,
            }
            profile_id = sb.store.insert(
                "profiles",
                doc,
                login=email,
                added=doc["added"],
                first_login=doc["first_login"],
                snapshot=0,
            )
            separate = n % 5 == 0
            profiles.add_address(sb, profile_id, customer_address(n, shipping=not separate))
            if separate:
                profiles.add_address(
                    sb, profile_id, customer_address(n + 3, billing=False, shipping=True)
                )
            added["profiles"] += 1
    for n in range(order_count):
        checkout.place_order(sb, sample_checkout(n))
        added["orders"] += 1
    return added


def sample_checkout(n: int) -> dict[str, Any]:
    """A valid shopper-simulator body; ``n`` varies customer, items and payment method."""
    address = {k: v for k, v in customer_address(n + 1).items() if not k.startswith("is_")}
    methods = ("Credit Card", "PayPal", "Check", "Cash on delivery")
    return {
        "email": customer_email(n % 50 + 1),
        "items": [
            {"sku": f"AA-{(n * 13) % 190 + 1:04d}", "amount": 1 + n % 3},
            {"sku": "AA-CAFE", "amount": 1},
        ],
        "billing_address": address,
        "shipping_address": address,
        "payment_method": methods[n % len(methods)],
        "currency": "CAD" if address["country_code"] == "CA" else "USD",
        "shipping_cost": 7.5,
    }
