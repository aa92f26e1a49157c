"""Static tables of the emulated store: statuses, states, payment and shipping methods, taxes.

Status ids follow X-Cart's seed insertion order; state ids are this sandbox's own (real stores
have store-specific ids, which is why the engine keeps a configured id table, see
``GET /_sandbox/states``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Status:
    id: int
    code: str
    name: str
    customer_name: str

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "customer_name": self.customer_name,
        }


PAYMENT_STATUSES = {
    s.code: s
    for s in (
        Status(1, "Q", "Awaiting payment", "Awaiting payment"),
        Status(2, "A", "Authorized", "Authorization hold"),
        Status(3, "PP", "Partially paid", "Partially paid"),
        Status(4, "P", "Paid", "Paid"),
        Status(5, "D", "Declined", "Declined"),
        Status(6, "C", "Cancelled", "Cancelled"),
        Status(7, "R", "Refunded", "Refunded"),
    )
}

SHIPPING_STATUSES = {
    s.code: s
    for s in (
        Status(1, "N", "New", "New"),
        Status(2, "P", "Processing", "Processing"),
        Status(3, "S", "Shipped", "Shipped"),
        Status(4, "D", "Delivered", "Delivered"),
        Status(5, "WND", "Will not deliver", "Will not deliver"),
        Status(6, "R", "Returned", "Returned"),
        Status(7, "WFA", "Waiting for approve", "Waiting for approve"),
        Status(8, "NBA", "New / Backordered", "New"),
    )
}

# Payment statuses whose arrival puts the order's stock back (X-Cart's incStock property).
STOCK_RETURNING_PAYMENT = frozenset({"D", "C", "R"})

_US = (
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
)
_CA = (
    ("AB", "Alberta"),
    ("BC", "British Columbia"),
    ("MB", "Manitoba"),
    ("NB", "New Brunswick"),
    ("NL", "Newfoundland and Labrador"),
    ("NT", "Northwest Territories"),
    ("NS", "Nova Scotia"),
    ("NU", "Nunavut"),
    ("ON", "Ontario"),
    ("PE", "Prince Edward Island"),
    ("QC", "Quebec"),
    ("SK", "Saskatchewan"),
    ("YT", "Yukon"),
)


@dataclass(frozen=True)
class State:
    id: int
    country_code: str
    code: str
    name: str

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "country_code": self.country_code,
            "code": self.code,
            "name": self.name,
        }


# Ids start above 1 and leave gaps so that no client can mistake them for list positions.
STATES: dict[int, State] = {}
for _i, (_code, _name) in enumerate(_US):
    STATES[_i + 7] = State(_i + 7, "US", _code, _name)
for _i, (_code, _name) in enumerate(_CA):
    STATES[_i + 101] = State(_i + 101, "CA", _code, _name)
STATE_BY_CODE = {(s.country_code, s.code): s for s in STATES.values()}
COUNTRIES_WITH_STATES = frozenset({"US", "CA"})

# Simple per-state sales tax table used by the shopper simulator.
TAX_RATES: dict[tuple[str, str], Decimal] = {
    ("US", "NY"): Decimal("0.08875"),
    ("US", "CA"): Decimal("0.0725"),
    ("US", "TX"): Decimal("0.0625"),
    ("US", "WA"): Decimal("0.065"),
    ("US", "IL"): Decimal("0.0625"),
    ("US", "NJ"): Decimal("0.06625"),
    ("US", "FL"): Decimal("0.06"),
    ("US", "PA"): Decimal("0.06"),
    ("CA", "ON"): Decimal("0.13"),
    ("CA", "QC"): Decimal("0.14975"),
    ("CA", "BC"): Decimal("0.12"),
    ("CA", "AB"): Decimal("0.05"),
    ("CA", "NS"): Decimal("0.15"),
}


@dataclass(frozen=True)
class PaymentMethod:
    id: int
    service_name: str
    local_name: str
    offline: bool


PAYMENT_METHODS = (
    PaymentMethod(3, "AuthorizeNet SIM", "Credit Card", False),
    PaymentMethod(6, "PayPalCommercePlatform", "PayPal", False),
    PaymentMethod(1, "Check", "Check", True),
    PaymentMethod(2, "COD", "Cash on delivery", True),
    PaymentMethod(4, "PhoneOrdering", "Phone Ordering", True),
    PaymentMethod(5, "PurchaseOrder", "Purchase Order", True),
    PaymentMethod(7, "MoneyOrdering", "Money Order", True),
)


def find_payment_method(name: str) -> PaymentMethod | None:
    wanted = name.strip().casefold()
    for method in PAYMENT_METHODS:
        if wanted in (method.local_name.casefold(), method.service_name.casefold()):
            return method
    return None


SHIPPING_METHODS = {"Courier": 90, "Ground": 91, "Express": 92, "Local pickup": 93}

#: Currencies the emulated store has set up (an order is placed and kept in one of them).
SUPPORTED_CURRENCIES = frozenset({"USD", "CAD", "EUR", "GBP", "CHF"})


@dataclass(frozen=True)
class Coupon:
    code: str
    percent: Decimal | None = None
    absolute: Decimal | None = None


COUPONS = {
    c.code: c
    for c in (Coupon("SAVE10", percent=Decimal("10")), Coupon("FIVEOFF", absolute=Decimal("5")))
}

PRODUCT_CLASSES = {1: "APPAREL", 2: "KITCHEN", 3: "OFFICE", 4: "OUTDOOR", 5: "TOYS"}
TAX_CLASSES = {1: "Default", 2: "Reduced", 3: "Exempt"}
MEMBERSHIPS = {1: "Wholesale", 2: "VIP"}
ROLES = {1: "Administrator", 2: "Content management"}
