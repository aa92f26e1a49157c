"""The tenant's configuration as the Default endpoint serves it: payment methods with their
allowed cash accounts, ship vias, taxes, tax zones, warehouses, customer and item classes.

Their records are seeded from ``reference.py`` (the same values the documents' selectors are
validated against) and stored as sent: no business rules. Field names and types are those of
the real ``Default/24.200.001`` entities, a subset of them.
"""

from __future__ import annotations

from .model import BOOLEAN, DATETIME, EntityDef, Field, Link

PAYMENT_METHOD_CASH_ACCOUNT = EntityDef(
    name="PaymentMethodAllowedCashAccountDetail",
    keys=("CashAccount",),
    fields=(
        Field("CashAccount", label="Cash Account"),
        Field("Description"),
        Field("Branch"),
        Field("PaymentMethod"),
        Field("UseInAR", BOOLEAN),
        Field("UseInAP", BOOLEAN),
        Field("ARDefault", BOOLEAN),
    ),
    graph="PX.Objects.CA.PaymentMethodMaint",
    view="CashAccounts",
)

PAYMENT_METHOD = EntityDef(
    name="PaymentMethod",
    screen="Payment Methods",
    screen_id="CA204000",
    keys=("PaymentMethodID",),
    graph="PX.Objects.CA.PaymentMethodMaint",
    view="PaymentMethod",
    fields=(
        Field("PaymentMethodID"),
        Field("Description"),
        Field("Active", BOOLEAN),
        Field("MeansOfPayment"),
        Field("UseInAR", BOOLEAN),
        Field("UseInAP", BOOLEAN),
    ),
    links=(Link("AllowedCashAccounts", PAYMENT_METHOD_CASH_ACCOUNT.name, many=True),),
)

SHIP_VIA = EntityDef(
    name="ShipVia",
    screen="Ship via Codes",
    screen_id="CS207500",
    keys=("CarrierID",),
    graph="PX.Objects.CS.CarrierMaint",
    view="Carrier",
    fields=(
        Field("CarrierID"),
        Field("Description"),
        Field("CalculationMethod"),
        Field("CommonCarrier", BOOLEAN),
    ),
)

TAX = EntityDef(
    name="Tax",
    screen="Taxes",
    screen_id="TX205000",
    keys=("TaxID",),
    graph="PX.Objects.TX.SalesTaxMaint",
    view="Tax",
    fields=(
        Field("TaxID"),
        Field("Description"),
        Field("TaxType"),
        Field("CalculateOn"),
        Field("NotValidAfter", DATETIME),
    ),
)

TAX_ZONE = EntityDef(
    name="TaxZone",
    screen="Tax Zones",
    screen_id="TX206000",
    keys=("TaxZoneID",),
    graph="PX.Objects.TX.TaxZoneMaint",
    view="TxZone",
    fields=(Field("TaxZoneID"), Field("Description")),
)

WAREHOUSE = EntityDef(
    name="Warehouse",
    screen="Warehouses",
    screen_id="IN204000",
    keys=("WarehouseID",),
    graph="PX.Objects.IN.INSiteMaint",
    view="site",
    fields=(Field("WarehouseID"), Field("Description"), Field("Active", BOOLEAN)),
)

CUSTOMER_CLASS = EntityDef(
    name="CustomerClass",
    screen="Customer Classes",
    screen_id="AR201000",
    keys=("ClassID",),
    graph="PX.Objects.AR.CustomerClassMaint",
    view="CustomerClassRecord",
    fields=(Field("ClassID"), Field("Description")),
)

ITEM_CLASS = EntityDef(
    name="ItemClass",
    screen="Item Classes",
    screen_id="IN201000",
    keys=("ClassID",),
    graph="PX.Objects.IN.INItemClassMaint",
    view="itemclass",
    fields=(
        Field("ClassID"),
        Field("Description"),
        Field("ItemType"),
        Field("StockItem", BOOLEAN),
    ),
)

#: The top-level ones, each with a plain graph (``graphs/configuration.py``).
TOP_LEVEL = (PAYMENT_METHOD, SHIP_VIA, TAX, TAX_ZONE, WAREHOUSE, CUSTOMER_CLASS, ITEM_CLASS)
DEFINITIONS = (PAYMENT_METHOD_CASH_ACCOUNT, *TOP_LEVEL)
