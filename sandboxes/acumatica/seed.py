"""A realistic data set: the shared catalogue as stock items, plus customers.

Warehouses, classes, payment methods, cash accounts, ship vias and tax zones are the tenant's
configuration (``reference.py``), against which documents are validated; seeding also stores
them as the records the Default endpoint serves (``PaymentMethod``, ``ShipVia``, ``Tax``...).
"""

from __future__ import annotations

from typing import Any

from sandboxes.common.catalog import seed_catalog

from . import reference
from .entities import configuration as config
from .entities import ledger
from .graphs import Env, graph_for
from .graphs.attributes import seed_attributes
from .graphs.customers import CustomerGraph
from .graphs.stock import StockItemGraph
from .writes import new_id

CUSTOMERS: tuple[dict[str, Any], ...] = (
    {
        "CustomerID": "XCGUEST",
        "CustomerName": "X-Cart guest customers",
        "CustomerClass": "ECOMMERCE",
        "email": "guest@example.com",
        "city": "Austin",
        "state": "TX",
        "country": "US",
        "IsGuestCustomer": True,
    },
    {
        "CustomerID": "ABARTENDE",
        "CustomerName": "USA Bartending School",
        "CustomerClass": "WHOLESALE",
        "email": "orders@bartending.example",
        "city": "Chicago",
        "state": "IL",
        "country": "US",
    },
    {
        "CustomerID": "OBRIEN",
        "CustomerName": 'O\'Brien & Sons "Hardware"',
        "CustomerClass": "RETAIL",
        "email": "obrien@example.ie",
        "city": "Dublin",
        "state": None,
        "country": "IE",
    },
    {
        "CustomerID": "LUKASIEW",
        "CustomerName": "Zoë Łukasiewicz",
        "CustomerClass": "ECOMMERCE",
        "email": "zoe@example.pl",
        "city": "Łódź",
        "state": None,
        "country": "PL",
    },
    {
        "CustomerID": "CAFEMTL",
        "CustomerName": "Café crème Montréal",
        "CustomerClass": "WHOLESALE",
        "email": "achat@cafe.example.ca",
        "city": "Montréal",
        "state": "QC",
        "country": "CA",
        "CurrencyID": "CAD",
    },
    {
        "CustomerID": "NYRETAIL",
        "CustomerName": "Brooklyn Corner Store",
        "CustomerClass": "RETAIL",
        "email": "buyer@corner.example",
        "city": "New York",
        "state": "NY",
        "country": "US",
        "TaxZone": "NY",
    },
)


def seed(env: Env, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Insert (or refresh) the seed records; idempotent."""
    items = StockItemGraph(env)
    customers = CustomerGraph(env)
    count_items = count_customers = 0
    with env.store.transaction():
        for entry in seed_catalog():
            record = items.by_keys([entry.sku])
            old = None if record is None else dict(record)
            record = record or {"id": new_id(), "note": "", "InventoryID": entry.sku}
            record.update(
                {
                    "Description": entry.name,
                    "ItemClass": entry.item_class,
                    "DefaultPrice": float(entry.price),
                    "DimensionWeight": float(entry.weight),
                    "AverageCost": float((entry.price * 6 / 10).quantize(entry.price))
                    if entry.price
                    else 0.0,
                    "DefaultWarehouseID": reference.WAREHOUSES[0],
                    "WarehouseDetails": [
                        {
                            "id": new_id(),
                            "WarehouseID": wh,
                            "QtyOnHand": float(entry.qty_by_warehouse.get(wh, 0)),
                        }
                        for wh in reference.WAREHOUSES
                    ],
                }
            )
            items.prepare(record, old)
            items.save(record, old)
            count_items += 1
        for data in CUSTOMERS:
            record = customers.by_keys([data["CustomerID"]])
            old = None if record is None else dict(record)
            record = record or {"id": new_id(), "note": "", "CustomerID": data["CustomerID"]}
            record.update({k: v for k, v in data.items() if k[0].isupper()})
            record["Email"] = data["email"]
            record["MainContact"] = {
                "id": new_id(),
                "Email": data["email"],
                "Phone1": "+1 555 0100",
                "Address": {
                    "id": new_id(),
                    "AddressLine1": "1 Main Street",
                    "City": data["city"],
                    "State": data["state"],
                    "PostalCode": "00000",
                    "Country": data["country"],
                },
            }
            customers.prepare(record, old)
            customers.save(record, old)
            count_customers += 1
        seed_configuration(env)
        seed_attributes(env)
    return {
        "stock_items": count_items,
        "customers": count_customers,
        "warehouses": list(reference.WAREHOUSES),
    }


def configuration_records() -> dict[str, list[dict[str, Any]]]:
    """The configuration of ``reference.py`` as records, by entity."""
    return {
        config.PAYMENT_METHOD.name: [
            {
                "PaymentMethodID": method,
                "Description": method.title(),
                "Active": True,
                "MeansOfPayment": "Credit Card" if method in ("CREDITCARD", "STRIPE") else "Other",
                "UseInAR": True,
                "UseInAP": method in ("CHECK", "WIRE"),
                "AllowedCashAccounts": [
                    {
                        "id": new_id(),
                        "CashAccount": account,
                        "Description": f"Cash account {account}",
                        "Branch": reference.DEFAULT_BRANCH,
                        "PaymentMethod": method,
                        "UseInAR": True,
                        "UseInAP": method in ("CHECK", "WIRE"),
                        "ARDefault": True,
                    }
                    for account in reference.PAYMENT_METHOD_ACCOUNTS.get(method, ())
                ],
            }
            for method in reference.PAYMENT_METHODS
        ],
        config.SHIP_VIA.name: [
            {"CarrierID": code, "Description": code.title(), "CalculationMethod": "Manual"}
            for code in reference.SHIP_VIAS
        ],
        config.TAX.name: [
            {"TaxID": code, "Description": f"{code} {rate} %", "TaxType": "Sales"}
            for code, rate in reference.TAXES.items()
        ],
        config.TAX_ZONE.name: [
            {"TaxZoneID": code, "Description": code.title()} for code in reference.TAX_ZONES
        ],
        config.WAREHOUSE.name: [
            {"WarehouseID": code, "Description": code.title(), "Active": True}
            for code in reference.WAREHOUSES
        ],
        config.CUSTOMER_CLASS.name: [
            {"ClassID": code, "Description": code.title()} for code in reference.CUSTOMER_CLASSES
        ],
        ledger.ACCOUNT.name: [
            {"AccountCD": code, "AccountID": n, "Type": kind, "Description": description,
             "Active": active, "CashAccount": kind == "Asset" and code != "11000",
             "CurrencyID": reference.BASE_CURRENCY}
            for n, (code, (kind, description, active)) in enumerate(
                reference.GL_ACCOUNTS.items(), start=1
            )
        ],
        config.ITEM_CLASS.name: [
            {"ClassID": code, "Description": code.title(), "ItemType": "Finished Good",
             "StockItem": True}
            for code in reference.ITEM_CLASSES
        ],
    }  # fmt: skip


def seed_configuration(env: Env) -> None:
    """Store (or refresh) the configuration records; inside the caller's transaction."""
    for entity, records in configuration_records().items():
        graph = graph_for(entity, env)
        for data in records:
            key = [str(data[k]) for k in graph.defn.keys]
            record = graph.by_keys(key)
            old = None if record is None else dict(record)
            record = {"id": record["id"] if record else new_id(), "note": "", **data}
            graph.save(record, old)
