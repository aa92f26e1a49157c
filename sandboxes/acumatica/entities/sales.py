"""Sales orders (SO301000) and the records hanging off them."""

from __future__ import annotations

from .model import (
    BOOLEAN,
    DATETIME,
    DECIMAL,
    GUID,
    INT,
    Action,
    EntityDef,
    Field,
    Link,
    fields,
)

ORDER_STATUSES = (
    "Open",
    "On Hold",
    "Pending Approval",
    "Rejected",
    "Pending Processing",
    "Awaiting Payment",
    "Credit Hold",
    "Completed",
    "Canceled",
    "Back Order",
    "Shipping",
    "Invoiced",
    "Expired",
)
#: Documents the Payments tab of an order can create (AR302000 types).
PAYMENT_DOC_TYPES = ("Payment", "Prepayment")
LINE_TYPES = ("Goods for Inventory", "Non-Inventory Goods", "Misc. Charge")
OPERATIONS = ("Issue", "Receipt")

SALES_ORDER_DETAIL = EntityDef(
    keys=("LineNbr",),
    name="SalesOrderDetail",
    fields=(
        Field("InventoryID", label="Inventory Item"),
        Field("OrderQty", DECIMAL),
        Field("UnitPrice", DECIMAL),
        Field("ExtendedPrice", DECIMAL),
        Field("Amount", DECIMAL, read_only=True),
        Field("DiscountAmount", DECIMAL),
        Field("DiscountPercent", DECIMAL),
        Field("DiscountedUnitPrice", DECIMAL, read_only=True),
        Field("ManualDiscount", BOOLEAN),
        Field("ManualPrice", BOOLEAN),
        Field("UOM"),
        Field("WarehouseID", label="Warehouse"),
        Field("LineNbr", INT, read_only=True),
        Field("LineType", choices=LINE_TYPES),
        Field("LineDescription"),
        Field("Operation", choices=OPERATIONS),
        Field("OpenQty", DECIMAL, read_only=True),
        Field("QtyOnShipments", DECIMAL, read_only=True),
        Field("UnbilledAmount", DECIMAL, read_only=True),
        Field("Completed", BOOLEAN, read_only=True),
        Field("FreeItem", BOOLEAN),
        Field("TaxCategory"),
        Field("CustomerOrderNbr"),
        Field("ExternalRef"),
        Field("RequestedOn", DATETIME),
        Field("ShipOn", DATETIME),
        Field("LastModifiedDate", read_only=True),
        Field("NoteID", GUID, read_only=True),
    ),
    graph="PX.Objects.SO.SOOrderEntry",
    view="Transactions",
)

TOTALS = EntityDef(
    name="Totals",
    fields=(
        Field("DiscountTotal", DECIMAL, read_only=True),
        Field("LineTotalAmount", DECIMAL, read_only=True),
        Field("MiscTotalAmount", DECIMAL, read_only=True),
        Field("TaxTotal", DECIMAL, read_only=True),
        Field("UnbilledAmount", DECIMAL, read_only=True),
        Field("UnbilledQty", DECIMAL, read_only=True),
        Field("UnpaidBalance", DECIMAL, read_only=True),
        Field("Freight", DECIMAL),
        Field("FreightCost", DECIMAL, read_only=True),
        Field("OverrideFreightAmount", BOOLEAN),
        Field("OrderWeight", DECIMAL, read_only=True),
        Field("PremiumFreight", DECIMAL),
    ),
)

TAX_DETAIL = EntityDef(
    keys=("TaxID",),
    name="TaxDetail",
    fields=(
        Field("TaxID", label="Tax"),
        Field("TaxRate", DECIMAL),
        Field("TaxableAmount", DECIMAL),
        Field("TaxAmount", DECIMAL),
        Field("CustomerTaxZone", read_only=True),
        Field("TaxType", read_only=True),
        Field("LineNbr", INT, read_only=True),
        Field("OrderType", read_only=True),
        Field("OrderNbr", read_only=True),
        Field("RecordID", INT, read_only=True),
    ),
)

#: A card transaction recorded with a payment made on the order (processed elsewhere, e.g. by
#: the store's gateway): the transaction number, its type and the authorisation code.
SALES_ORDER_CC_TRANSACTION = EntityDef(
    name="SalesOrderCreditCardTransactionDetail",
    fields=(
        Field("TranNbr"),
        Field("TranType"),
        Field("AuthNbr"),
        Field("TranDate", DATETIME),
        Field("CardType"),
        Field("NeedValidation", BOOLEAN),
        Field("ExtProfileId"),
    ),
)

#: The Payments tab of the order: a payment or prepayment applied to it. A row sent without
#: ``id`` in a PUT of the order creates that payment with the order, in one transaction; a row
#: sent with its ``id`` may change ``AppliedToOrder`` or, with ``delete``, cancel the reservation.
SALES_ORDER_PAYMENT = EntityDef(
    name="SalesOrderPayment",
    fields=(
        Field("DocType", choices=PAYMENT_DOC_TYPES),
        Field("ReferenceNbr", read_only=True),
        Field("PaymentMethod", label="Payment Method"),
        Field("CashAccount", label="Cash Account"),
        Field("PaymentRef"),
        Field("ExternalRef"),
        Field("Description"),
        Field("Status", read_only=True),
        Field("Currency", read_only=True),
        Field("PaymentAmount", DECIMAL, label="Payment Amount"),
        Field("AppliedToOrder", DECIMAL, label="Applied to Order"),
        Field("Balance", DECIMAL, read_only=True),
        Field("TransferredtoInvoice", DECIMAL, read_only=True),
        Field("ApplicationDate", DATETIME),
        Field("Hold", BOOLEAN),
        Field("Authorize", BOOLEAN),
        Field("Capture", BOOLEAN),
        Field("Refund", BOOLEAN),
        Field("ProcessingCenterID", label="Proc. Center ID"),
        Field("CardAccountNbr", label="Card/Account Nbr."),
        Field("SaveCard", BOOLEAN),
        Field("OrigTransactionNbr"),
        Field("ValidateCCRefundOrigTransaction", BOOLEAN),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
        Field("NoteID", GUID, read_only=True),
    ),
    links=(Link("CreditCardTransactionInfo", "SalesOrderCreditCardTransactionDetail", many=True),),
    view="Adjustments",
)

SALES_ORDER_SHIPMENT = EntityDef(
    name="SalesOrderShipment",
    fields=fields(
        "ShipmentNbr ShipmentType Status InvoiceType InvoiceNbr InventoryDocType InventoryRefNbr",
        read_only=True,
    )
    + fields("ShippedQty ShippedWeight ShippedVolume", DECIMAL, read_only=True)
    + (
        Field("ShipmentDate", DATETIME, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
    ),
    view="shipmentlist",
)

SALES_ORDER = EntityDef(
    name="SalesOrder",
    screen="Sales Orders",
    screen_id="SO301000",
    keys=("OrderType", "OrderNbr"),
    auto_number={"OrderNbr": "SalesOrder"},
    graph="PX.Objects.SO.SOOrderEntry",
    view="Document",
    fields=(
        Field("OrderType", label="Order Type"),
        Field("OrderNbr"),
        Field("NoteID", GUID, read_only=True),
        Field("ExternalRef"),
        Field("CustomerOrder"),
        Field("Description"),
        Field("Date", DATETIME),
        Field("EffectiveDate", DATETIME),
        Field("RequestedOn", DATETIME),
        Field("LastModified", DATETIME, read_only=True),
        Field("CreatedDate", DATETIME, read_only=True),
        Field("Status", read_only=True, choices=ORDER_STATUSES),
        Field("Hold", BOOLEAN),
        Field("Approved", BOOLEAN, read_only=True),
        Field("CreditHold", BOOLEAN, read_only=True),
        Field("IsTaxValid", BOOLEAN, read_only=True),
        Field("WillCall", BOOLEAN),
        Field("CustomerID", label="Customer"),
        Field("LocationID"),
        Field("ContactID"),
        Field("Branch"),
        Field("CurrencyID", label="Currency"),
        Field("BaseCurrencyID", read_only=True),
        Field("CurrencyRateTypeID", label="Currency Rate Type"),
        Field("CurrencyRate", DECIMAL, label="Currency Rate"),
        Field("ReciprocalRate", DECIMAL, read_only=True),
        Field("ControlTotal", DECIMAL),
        Field("OrderTotal", DECIMAL, read_only=True),
        Field("OrderedQty", DECIMAL, read_only=True),
        Field("TaxTotal", DECIMAL, read_only=True),
        Field("VATExemptTotal", DECIMAL, read_only=True),
        Field("VATTaxableTotal", DECIMAL, read_only=True),
        Field("PaymentMethod", label="Payment Method"),
        Field("CashAccount", label="Cash Account"),
        Field("PaymentRef"),
        Field("ShipVia", label="Ship Via"),
        Field("PreferredWarehouseID", label="Warehouse"),
        Field("ShipToAddressOverride", BOOLEAN),
        Field("ShipToContactOverride", BOOLEAN),
        Field("BillToAddressOverride", BOOLEAN),
        Field("BillToContactOverride", BOOLEAN),
        Field("ShipToAddressValidated", BOOLEAN, read_only=True),
        Field("BillToAddressValidated", BOOLEAN, read_only=True),
        Field("ExternalOrderSource"),
        Field("ExternalOrderOrigin"),
    ),
    links=(
        Link("BillToAddress", "Address"),
        Link("BillToContact", "DocContact"),
        Link("ShipToAddress", "Address"),
        Link("ShipToContact", "DocContact"),
        Link("Totals", "Totals"),
        Link("Details", "SalesOrderDetail", many=True),
        Link("TaxDetails", "TaxDetail", many=True),
        Link("Payments", "SalesOrderPayment", many=True),
        Link("Shipments", "SalesOrderShipment", many=True, read_only=True),
    ),
    actions=(
        Action("CancelSalesOrder"),
        Action("ReopenSalesOrder"),
        Action("OpenSalesOrder"),
        Action(
            "SalesOrderCreateShipment",
            (Field("ShipmentDate", DATETIME), Field("WarehouseID")),
        ),
        Action(
            "SalesOrderCreateReceipt",
            (Field("ShipmentDate", DATETIME), Field("WarehouseID")),
        ),
    ),
)

DEFINITIONS = (
    SALES_ORDER_DETAIL,
    TOTALS,
    TAX_DETAIL,
    SALES_ORDER_CC_TRANSACTION,
    SALES_ORDER_PAYMENT,
    SALES_ORDER_SHIPMENT,
    SALES_ORDER,
)
