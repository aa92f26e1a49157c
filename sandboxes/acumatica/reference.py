"""The tenant's configuration: warehouses, classes, payment methods and other selector values.

These are set up once in a real tenant and rarely change, so the sandbox keeps them as
constants; selector fields on documents are validated against them.
"""

from __future__ import annotations

WAREHOUSES = ("WHOLESALE", "RETAIL")
ORDER_TYPES = ("SO", "QT", "IN")
ITEM_CLASSES = ("STOCKITEM", "APPAREL", "KITCHEN", "OFFICE", "OUTDOOR", "TOYS")
CUSTOMER_CLASSES = ("DEFAULT", "ECOMMERCE", "WHOLESALE", "RETAIL")
PAYMENT_METHODS = ("CHECK", "CASH", "CREDITCARD", "PAYPAL", "STRIPE", "WIRE")
CASH_ACCOUNTS = ("10200WH", "10250ST", "10300PP", "10100")
SHIP_VIAS = ("FEDEX", "UPS", "USPS", "DHL", "LOCAL", "PICKUP")
TAX_ZONES = ("EXEMPT", "NY", "CA", "TX", "EU", "AVALARA")
TAXES = {"NYSTATE": 4.0, "NYCITY": 4.5, "CASTATE": 7.25, "TXSTATE": 6.25, "EUVAT": 20.0}
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
BASE_CURRENCY = "USD"
TERMS = ("30D", "COD", "NET15", "NET30")


def contains(values: tuple[str, ...] | dict[str, float], value: str) -> bool:
    wanted = value.strip().upper()
    return any(v.upper() == wanted for v in values)
