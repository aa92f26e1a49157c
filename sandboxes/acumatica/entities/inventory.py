"""Stock items (IN202500), the inventory summary inquiry and the stock-changing documents."""

from __future__ import annotations

from .model import BOOLEAN, DATETIME, DECIMAL, GUID, INT, Action, EntityDef, Field, Link, fields

ITEM_STATUSES = (
    "Active",
    "No Sales",
    "No Purchases",
    "No Request",
    "Inactive",
    "Marked for Deletion",
)
ITEM_TYPES = ("Finished Good", "Component Part", "Subassembly")
VALUATION_METHODS = ("Average", "Standard", "FIFO", "Specific")
IN_DOC_STATUSES = ("On Hold", "Balanced", "Released")

STOCK_ITEM_WAREHOUSE_DETAIL = EntityDef(
    keys=("WarehouseID",),
    name="StockItemWarehouseDetail",
    fields=(
        Field("WarehouseID", label="Warehouse"),
        Field("QtyOnHand", DECIMAL, read_only=True),
        Field("IsDefault", BOOLEAN),
        Field("Override", BOOLEAN),
        Field("PriceOverride", BOOLEAN),
        Field("Status", choices=ITEM_STATUSES),
        Field("DefaultIssueLocationID"),
        Field("DefaultReceiptLocationID"),
    ),
    graph="PX.Objects.IN.InventoryItemMaint",
    view="itemsiterecords",
)

STOCK_ITEM = EntityDef(
    name="StockItem",
    screen="Stock Items",
    screen_id="IN202500",
    keys=("InventoryID",),
    graph="PX.Objects.IN.InventoryItemMaint",
    view="Item",
    fields=(
        Field("InventoryID"),
        Field("Description"),
        Field("ItemClass", label="Item Class"),
        Field("ItemType", choices=ITEM_TYPES),
        Field("ItemStatus", choices=ITEM_STATUSES),
        Field("DefaultPrice", DECIMAL),
        Field("MSRP", DECIMAL),
        Field("AverageCost", DECIMAL, read_only=True),
        Field("LastCost", DECIMAL, read_only=True),
        Field("BaseUOM"),
        Field("SalesUOM"),
        Field("PurchaseUOM"),
        Field("WeightUOM"),
        Field("DimensionWeight", DECIMAL),
        Field("DefaultWarehouseID", label="Warehouse"),
        Field("TaxCategory"),
        Field("PostingClass"),
        Field("PriceClass"),
        Field("ValuationMethod", choices=VALUATION_METHODS),
        Field("LastModified", DATETIME, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
        Field("NoteID", GUID, read_only=True),
        Field("ImageUrl"),
        Field("Visibility"),
        Field("Availability"),
    ),
    links=(
        Link("WarehouseDetails", "StockItemWarehouseDetail", many=True),
        Link("Attributes", "AttributeValue", many=True),
    ),
)

INVENTORY_SUMMARY_ROW = EntityDef(
    name="InventorySummaryRow",
    fields=fields("WarehouseID LocationID Subitem LotSerialNbr BaseUOM", read_only=True)
    + fields(
        "QtyOnHand QtyAvailable QtyAvailableForShipment QtyNotAvailable"
        " EstimatedUnitCost EstimatedTotalCost",
        DECIMAL,
        read_only=True,
    )
    + (Field("ExpirationDate", DATETIME, read_only=True),),
)

INVENTORY_SUMMARY_INQUIRY = EntityDef(
    name="InventorySummaryInquiry",
    screen="Inventory Summary",
    screen_id="IN401000",
    inquiry=True,
    graph="PX.Objects.IN.InventorySummaryEnq",
    view="Filter",
    fields=(
        Field("InventoryID", label="Inventory Item"),
        Field("WarehouseID", label="Warehouse"),
        Field("LocationID"),
        Field("Subitem"),
        Field("ExpandByLotSerialNbr", BOOLEAN),
    ),
    links=(Link("Results", "InventorySummaryRow", many=True, read_only=True),),
)

INVENTORY_QUANTITY_AVAILABLE_DETAIL = EntityDef(
    name="InventoryQuantityAvailableDetail",
    fields=(
        Field("InventoryID", read_only=True),
        Field("QtyAvailable", DECIMAL, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
    ),
)

INVENTORY_QUANTITY_AVAILABLE = EntityDef(
    name="InventoryQuantityAvailable",
    screen="Available Quantity by Inventory Item",
    screen_id="SO640590",
    inquiry=True,
    graph="PX.Data.PXGenericInqGrph",
    view="Filter",
    fields=(
        Field("InventoryID", label="Inventory Item"),
        Field("LastModifiedDateTime", DATETIME),
    ),
    links=(Link("Results", "InventoryQuantityAvailableDetail", many=True, read_only=True),),
)

INVENTORY_ADJUSTMENT_DETAIL = EntityDef(
    name="InventoryAdjustmentDetail",
    fields=(
        Field("InventoryID", label="Inventory Item"),
        Field("WarehouseID", label="Warehouse"),
        Field("LocationID"),
        Field("Qty", DECIMAL),
        Field("UOM"),
        Field("ExtendedCost", DECIMAL),
        Field("ReasonCode"),
        Field("Description"),
    ),
    graph="PX.Objects.IN.INAdjustmentEntry",
    view="transactions",
)

INVENTORY_ADJUSTMENT = EntityDef(
    name="InventoryAdjustment",
    screen="Adjustments",
    screen_id="IN303000",
    display_name="Adjustment",
    keys=("ReferenceNbr",),
    auto_number={"ReferenceNbr": "InventoryAdjustment"},
    graph="PX.Objects.IN.INAdjustmentEntry",
    view="adjustment",
    fields=(
        Field("ReferenceNbr"),
        Field("Date", DATETIME),
        Field("Description"),
        Field("ExternalRef"),
        Field("Hold", BOOLEAN),
        Field("Status", read_only=True, choices=IN_DOC_STATUSES),
        Field("TotalCost", DECIMAL, read_only=True),
        Field("TotalQty", DECIMAL, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
    ),
    links=(Link("Details", "InventoryAdjustmentDetail", many=True),),
    actions=(Action("ReleaseAdjustment"),),
)

INVENTORY_RECEIPT_DETAIL = EntityDef(
    keys=("LineNumber",),
    name="InventoryReceiptDetail",
    fields=(
        Field("InventoryID", label="Inventory Item"),
        Field("WarehouseID", label="Warehouse"),
        Field("Location"),
        Field("Qty", DECIMAL),
        Field("UnitCost", DECIMAL),
        Field("ExtCost", DECIMAL, read_only=True),
        Field("UOM"),
        Field("LineNumber", INT, read_only=True),
        Field("Description"),
    ),
    graph="PX.Objects.IN.INReceiptEntry",
    view="transactions",
)

INVENTORY_RECEIPT = EntityDef(
    name="InventoryReceipt",
    screen="Receipts",
    screen_id="IN301000",
    display_name="Receipt",
    keys=("ReferenceNbr",),
    auto_number={"ReferenceNbr": "InventoryReceipt"},
    graph="PX.Objects.IN.INReceiptEntry",
    view="receipt",
    fields=(
        Field("ReferenceNbr"),
        Field("Date", DATETIME),
        Field("Description"),
        Field("Hold", BOOLEAN),
        Field("Status", read_only=True, choices=IN_DOC_STATUSES),
        Field("ControlQty", DECIMAL),
        Field("ControlCost", DECIMAL),
        Field("TotalCost", DECIMAL, read_only=True),
        Field("TotalQty", DECIMAL, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
    ),
    links=(Link("Details", "InventoryReceiptDetail", many=True),),
    actions=(Action("ReleaseInventoryReceipt"),),
)

DEFINITIONS = (
    STOCK_ITEM_WAREHOUSE_DETAIL,
    STOCK_ITEM,
    INVENTORY_SUMMARY_ROW,
    INVENTORY_SUMMARY_INQUIRY,
    INVENTORY_QUANTITY_AVAILABLE_DETAIL,
    INVENTORY_QUANTITY_AVAILABLE,
    INVENTORY_ADJUSTMENT_DETAIL,
    INVENTORY_ADJUSTMENT,
    INVENTORY_RECEIPT_DETAIL,
    INVENTORY_RECEIPT,
)
