"""General ledger: the chart of accounts (``Account``, GL202500) and journal entries
(``JournalTransaction``, GL301000), with the real ``Default/24.200.001`` field names and types
(a subset of them)."""

from __future__ import annotations

from .model import BOOLEAN, DATETIME, DECIMAL, INT, Action, EntityDef, Field, Link

JOURNAL_STATUSES = ("On Hold", "Balanced", "Unposted", "Posted", "Voided")

ACCOUNT = EntityDef(
    name="Account",
    screen="Chart of Accounts",
    screen_id="GL202500",
    keys=("AccountCD",),
    graph="PX.Objects.GL.AccountMaint",
    view="AccountRecords",
    fields=(
        Field("AccountCD", label="Account"),
        Field("AccountID", INT, read_only=True),
        Field("Type", choices=("Asset", "Liability", "Income", "Expense")),
        Field("Description"),
        Field("Active", BOOLEAN),
        Field("CashAccount", BOOLEAN),
        Field("CurrencyID"),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
    ),
)

JOURNAL_TRANSACTION_DETAIL = EntityDef(
    name="JournalTransactionDetail",
    keys=("LineNbr",),
    graph="PX.Objects.GL.JournalEntry",
    view="GLTranModuleBatNbr",
    fields=(
        Field("LineNbr", INT, read_only=True),
        Field("BranchID", label="Branch"),
        Field("Account", label="Account"),
        Field("Subaccount", label="Subaccount"),
        Field("ReferenceNbr", label="Ref. Number"),
        Field("Description"),
        Field("TransactionDescription", label="Transaction Description"),
        Field("DebitAmount", DECIMAL, label="Debit Amount"),
        Field("CreditAmount", DECIMAL, label="Credit Amount"),
        Field("VendorOrCustomer"),
    ),
)

JOURNAL_TRANSACTION = EntityDef(
    name="JournalTransaction",
    screen="Journal Transactions",
    screen_id="GL301000",
    keys=("Module", "BatchNbr"),
    auto_number={"BatchNbr": "JournalTransaction"},
    graph="PX.Objects.GL.JournalEntry",
    view="BatchModule",
    fields=(
        Field("Module"),
        Field("BatchNbr", label="Batch Number"),
        Field("Status", read_only=True, choices=JOURNAL_STATUSES),
        Field("Hold", BOOLEAN),
        Field("BranchID", label="Branch"),
        Field("LedgerID", label="Ledger"),
        Field("TransactionDate", DATETIME, label="Transaction Date"),
        Field("PostPeriod"),
        Field("CurrencyID", label="Currency"),
        Field("Description"),
        Field("CreatedDateTime", DATETIME, read_only=True),
        Field("LastModifiedDateTime", DATETIME, read_only=True),
    ),
    links=(Link("Details", JOURNAL_TRANSACTION_DETAIL.name, many=True),),
    actions=(Action("ReleaseJournalTransaction"),),
)

DEFINITIONS = (ACCOUNT, JOURNAL_TRANSACTION_DETAIL, JOURNAL_TRANSACTION)
