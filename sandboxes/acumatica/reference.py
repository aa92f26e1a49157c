"""The tenant's configuration: warehouses, classes, payment methods and other selector values.

These are set up once in a real tenant and rarely change, so the sandbox keeps them as
constants; selector fields on documents are validated against them.
"""

from __future__ import annotations

WAREHOUSES = ("WHOLESALE", "RETAIL")
ORDER_TYPES = ("SO", "QT", "IN", "RC")
#: Return order types (SO201000: automation behaviour RMA Order, default operation Receipt, AR
#: document Credit Memo): their lines receive goods back (``SalesOrderCreateReceipt``).
RETURN_ORDER_TYPES = ("RC",)
ITEM_CLASSES = ("STOCKITEM", "APPAREL", "KITCHEN", "OFFICE", "OUTDOOR", "TOYS")
CUSTOMER_CLASSES = ("DEFAULT", "ECOMMERCE", "WHOLESALE", "RETAIL")
PAYMENT_METHODS = ("CHECK", "CASH", "CREDITCARD", "PAYPAL", "STRIPE", "WIRE")
CASH_ACCOUNTS = ("10200WH", "10250ST", "10300PP", "10100")
#: The cash accounts each payment method allows (its Allowed Cash Accounts, CA204000).
PAYMENT_METHOD_ACCOUNTS = {
    "CHECK": ("10200WH",),
    "CASH": ("10100",),
    "CREDITCARD": ("10250ST",),
    "PAYPAL": ("10300PP",),
    "STRIPE": ("10250ST",),
    "WIRE": ("10200WH",),
}
#: The chart of accounts (GL202500) the journal entries may post to: AccountCD -> (type,
#: description, active). A cash account (CA202000) is kept on a GL account of the same number.
GL_ACCOUNTS = {
    "10100": ("Asset", "Petty cash", True),
    "10200": ("Asset", "Company checking account", True),
    "10250": ("Asset", "Card clearing account", True),
    "10300": ("Asset", "PayPal account", True),
    "11000": ("Asset", "Accounts receivable", True),
    "40000": ("Income", "Sales revenue", True),
    "40100": ("Income", "Online store sales", True),
    "49000": ("Income", "Discontinued sales account", False),
}
SUBACCOUNTS = ("000000",)
LEDGERS = ("ACTUAL",)
SHIP_VIAS = ("FEDEX", "UPS", "USPS", "DHL", "LOCAL", "PICKUP")
#: Tax zones and taxes (TX206000, TX205000): besides New York, California, Texas and the EU,
#: one for each other region the store's shoppers are taxed in (X-Cart sandbox ``TAX_RATES``),
#: so a taxed order to any of them has a tax to map to. A Canadian province's tax is its GST
#: with its provincial tax, or its HST, as one rate.
TAX_ZONES = (
    "EXEMPT", "NY", "CA", "TX", "EU", "AVALARA",
    "WA", "IL", "NJ", "FL", "PA", "ON", "QC", "BC", "AB", "NS",
)  # fmt: skip
TAXES = {
    "NYSTATE": 4.0, "NYCITY": 4.5, "CASTATE": 7.25, "TXSTATE": 6.25, "EUVAT": 20.0,
    "WASTATE": 6.5, "ILSTATE": 6.25, "NJSTATE": 6.625, "FLSTATE": 6.0, "PASTATE": 6.0,
    "ONHST": 13.0, "QCGSTQST": 14.975, "BCGSTPST": 12.0, "ABGST": 5.0, "NSHST": 15.0,
}  # fmt: skip
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
BASE_CURRENCY = "USD"
#: The tenant's SPOT rates to the base currency (base amount = document amount x rate), as
#: the Currency Rates form (CM301000) would hold them for today.
CURRENCY_RATE_TYPE = "SPOT"
CURRENCY_RATES = {"USD": 1.0, "EUR": 1.0825, "GBP": 1.2710, "CAD": 0.7342, "AUD": 0.6581}
TERMS = ("30D", "COD", "NET15", "NET30")
# Branch ID -> branch name (Branches, CS102000).
BRANCHES = {"MAIN": "Main Office", "WEST": "West Coast Store"}
DEFAULT_BRANCH = "MAIN"


def contains(values: tuple[str, ...] | dict[str, float], value: str) -> bool:
    wanted = value.strip().upper()
    return any(v.upper() == wanted for v in values)


def branch_id(value: object) -> str | None:
    """The branch ID that an ID or a name designates (case-insensitive), or ``None``."""
    wanted = str(value or "").strip().upper()
    for branch, name in BRANCHES.items():
        if wanted in (branch, name.upper()):
            return branch
    return None


def branch_number(branch: str) -> int:
    """The branch's integer id (the ``UserBranch`` cookie)."""
    return list(BRANCHES).index(branch) + 1
