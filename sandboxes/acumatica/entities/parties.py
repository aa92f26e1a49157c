"""Customers (AR303000), payments (AR302000) and shipments (SO302000)."""

from __future__ import annotations

from .model import (
    BOOLEAN,
    DATETIME,
    DECIMAL,
    GUID,
    INT,
    SHORT,
    Action,
    EntityDef,
    Field,
    Link,
    fields,
)

CUSTOMER_STATUSES = ("Active", "On Hold", "Credit Hold", "Inactive", "One-Time")
PAYMENT_TYPES = ("Payment", "Prepayment", "Refund", "Credit Memo", "Voided Payment")
#: AR document types by their codes (the Documents to Apply tab takes either, e.g. ``INV``).
AR_DOC_TYPES = {
    "INV": "Invoice",
    "PMT": "Payment",
    "PPM": "Prepayment",
    "CRM": "Credit Memo",
    "REF": "Refund",
}
PAYMENT_STATUSES = ("On Hold", "Balanced", "Voided", "Open", "Closed", "Pending Processing")
SHIPMENT_STATUSES = (
    "Open",
    "On Hold",
    "Confirmed",
    "Completed",
    "Canceled",
    "Invoiced",
    "Partially Invoiced",
    "Receipted",
    "Auto-Generated",
)
SHIPMENT_TYPES = ("Shipment", "Transfer", "Receipt")

CUSTOMER = EntityDef(
    name="Customer",
    screen="Customers",
    screen_id="AR303000",
    keys=("CustomerID",),
    auto_number={"CustomerID": "Customer"},
    graph="PX.Objects.AR.CustomerMaint",
    view="BAccount",
    fields=(
        Field("CustomerID"),
        Field("CustomerName"),
        Field("BAccountID", INT, read_only=True),
        Field("NoteID", GUID, read_only=True),
        Field("AccountRef"),
        Field("CustomerClass", label="Customer Class"),
        Field("CustomerCategory", choices=("Individual", "Organization")),
        Field("Status", choices=CUSTOMER_STATUSES),
        Field("IsGuestCustomer", BOOLEAN),
        Field("Email"),
        Field("CurrencyID", label="Currency"),
        Field("Terms"),
        Field("CreditLimit", DECIMAL),
        Field("PriceClassID"),
        Field("TaxZone", label="Tax Zone"),
        Field("TaxRegistrationID"),
        Field("ShipVia", label="Ship Via"),
        Field("ShippingTerms"),
        Field("ShippingRule", choices=("Back Order Allowed", "Cancel Remainder", "Ship Complete")),
        Field("WarehouseID", label="Warehouse"),
        Field("LocationName"),
        Field("LeadTimedays", SHORT),
        Field("OrderPriority", SHORT),
        Field("BillingContactOverride", BOOLEAN),
        Field("BillingAddressOverride", BOOLEAN),
        Field("ShippingContactOverride", BOOLEAN),
        Field("ShippingAddressOverride", BOOLEAN),
        Field("CreatedDateTime", DATETIME, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
    ),
    links=(
        Link("MainContact", "Contact"),
        Link("BillingContact", "Contact"),
        Link("ShippingContact", "Contact"),
    ),
)

PAYMENT_ORDER_DETAIL = EntityDef(
    keys=("OrderType", "OrderNbr"),
    name="PaymentOrderDetail",
    fields=(
        Field("OrderType", label="Order Type"),
        Field("OrderNbr", label="Order Nbr."),
        Field("AppliedToOrder", DECIMAL),
    ),
    graph="PX.Objects.AR.ARPaymentEntry",
    view="SOAdjustments",
)

#: Documents a refund (or a payment) is applied to (the Documents to Apply tab). A refund takes
#: only released documents of the same customer that still have a balance.
PAYMENT_DETAIL = EntityDef(
    keys=("DocType", "ReferenceNbr"),
    name="PaymentDetail",
    fields=(
        Field("DocType", label="Document Type"),
        Field("ReferenceNbr", label="Reference Nbr."),
        Field("DocLineNbr", INT),
        Field("AmountPaid", DECIMAL, label="Amount Paid"),
        Field("CashDiscountTaken", DECIMAL, read_only=True),
        Field("BalanceWriteOff", DECIMAL, read_only=True),
        Field("CustomerOrder", read_only=True),
        Field("Description", read_only=True),
    ),
    graph="PX.Objects.AR.ARPaymentEntry",
    view="Adjustments",
)

CREDIT_CARD_TRANSACTION_DETAIL = EntityDef(
    name="CreditCardTransactionDetail",
    fields=(
        Field("TranNbr"),
        Field("TranType"),
        Field("AuthNbr"),
        Field("TranDate", DATETIME),
        Field("CardType"),
        Field("NeedValidation", BOOLEAN),
        Field("OrigTranNbr"),
        Field("ExtProfileId"),
    ),
)

PAYMENT = EntityDef(
    name="Payment",
    screen="Payments and Applications",
    screen_id="AR302000",
    keys=("Type", "ReferenceNbr"),
    auto_number={"ReferenceNbr": "Payment"},
    graph="PX.Objects.AR.ARPaymentEntry",
    view="Document",
    fields=(
        Field("Type", choices=PAYMENT_TYPES),
        Field("ReferenceNbr"),
        Field("Status", read_only=True, choices=PAYMENT_STATUSES),
        Field("Hold", BOOLEAN),
        Field("NoteID", GUID, read_only=True),
        Field("ExternalRef"),
        Field("Description"),
        Field("CustomerID", label="Customer"),
        Field("CustomerLocationID"),
        Field("Branch"),
        Field("PaymentMethod", label="Payment Method"),
        Field("CashAccount", label="Cash Account"),
        Field("PaymentRef"),
        Field("PaymentAmount", DECIMAL),
        Field("CurrencyID", label="Currency"),
        Field("ApplicationDate", DATETIME),
        Field("AppliedToDocuments", DECIMAL, read_only=True),
        Field("AppliedToOrders", DECIMAL, read_only=True),
        Field("AvailableBalance", DECIMAL, read_only=True),
        Field("IsCCPayment", BOOLEAN, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
    ),
    links=(
        Link("OrdersToApply", "PaymentOrderDetail", many=True),
        Link("DocumentsToApply", "PaymentDetail", many=True),
        Link("CreditCardTransactionInfo", "CreditCardTransactionDetail", many=True),
    ),
    actions=(Action("ReleasePayment"), Action("VoidPayment")),
)

SHIPMENT_DETAIL = EntityDef(
    keys=("LineNbr",),
    name="ShipmentDetail",
    fields=(
        Field("InventoryID", label="Inventory Item"),
        Field("OrderType", label="Order Type"),
        Field("OrderNbr", label="Order Nbr."),
        Field("OrderLineNbr", INT),
        Field("LineNbr", INT, read_only=True),
        Field("ShippedQty", DECIMAL),
        Field("OrderedQty", DECIMAL, read_only=True),
        Field("OpenQty", DECIMAL, read_only=True),
        Field("UOM", read_only=True),
        Field("WarehouseID", read_only=True),
        Field("LocationID"),
        Field("Description"),
    ),
    graph="PX.Objects.SO.SOShipmentEntry",
    view="Transactions",
)

SHIPMENT_PACKAGE = EntityDef(
    keys=("LineNbr",),
    name="ShipmentPackage",
    fields=(
        Field("BoxID"),
        Field("Type"),
        Field("TrackingNbr"),
        Field("Weight", DECIMAL),
        Field("UOM"),
        Field("DeclaredValue", DECIMAL),
        Field("Confirmed", BOOLEAN),
        Field("Description"),
        Field("LineNbr", INT, read_only=True),
        Field("NoteID", GUID, read_only=True),
    ),
    graph="PX.Objects.SO.SOShipmentEntry",
    view="Packages",
)

SHIPMENT_ORDER_DETAIL = EntityDef(
    name="ShipmentOrderDetail",
    fields=fields(
        "OrderType OrderNbr ShipmentNbr ShipmentType InvoiceType InvoiceNbr"
        " InventoryDocType InventoryRefNbr",
        read_only=True,
    )
    + fields("ShippedQty ShippedWeight ShippedVolume", DECIMAL, read_only=True),
)

SHIPMENT = EntityDef(
    name="Shipment",
    screen="Shipments",
    screen_id="SO302000",
    keys=("ShipmentNbr",),
    auto_number={"ShipmentNbr": "Shipment"},
    graph="PX.Objects.SO.SOShipmentEntry",
    view="Document",
    fields=(
        Field("ShipmentNbr"),
        Field("Type", choices=SHIPMENT_TYPES),
        Field("Operation", choices=("Issue", "Receipt")),
        Field("Status", read_only=True, choices=SHIPMENT_STATUSES),
        Field("Hold", BOOLEAN),
        Field("Description"),
        Field("NoteID", GUID, read_only=True),
        Field("CustomerID", label="Customer"),
        Field("LocationID"),
        Field("WarehouseID", label="Warehouse"),
        Field("ShipmentDate", DATETIME),
        Field("CreatedDateTime", DATETIME, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
        Field("ShipVia", label="Ship Via"),
        Field("ShippingTerms"),
        Field("FreightPrice", DECIMAL),
        Field("FreightCost", DECIMAL, read_only=True),
        Field("ShippedQty", DECIMAL, read_only=True),
        Field("ShippedWeight", DECIMAL, read_only=True),
        Field("PackageCount", INT, read_only=True),
        Field("PackageWeight", DECIMAL, read_only=True),
        Field("ControlQty", DECIMAL),
    ),
    links=(
        Link("Details", "ShipmentDetail", many=True),
        Link("Packages", "ShipmentPackage", many=True),
        Link("Orders", "ShipmentOrderDetail", many=True, read_only=True),
    ),
    actions=(Action("ConfirmShipment"), Action("CorrectShipment")),
)

DEFINITIONS = (
    CUSTOMER,
    PAYMENT_ORDER_DETAIL,
    PAYMENT_DETAIL,
    CREDIT_CARD_TRANSACTION_DETAIL,
    PAYMENT,
    SHIPMENT_DETAIL,
    SHIPMENT_PACKAGE,
    SHIPMENT_ORDER_DETAIL,
    SHIPMENT,
)
