"""General ledger: the chart of accounts and journal entries (GL301000).

* ``Account`` records are seeded from ``reference.GL_ACCOUNTS`` and stored as sent.
* A journal entry (``JournalTransaction``, module ``GL`` unless sent) is a batch of lines, each
  posting a debit or a credit to an active account of the chart. A batch that is not on hold
  must balance (total debits = total credits, neither zero) or it is refused; a balanced
  batch has the status Balanced, a held one On Hold. ``ReleaseJournalTransaction`` posts a
  Balanced batch (status Posted: the tenant posts on release); a released batch can no longer
  change.
"""

from __future__ import annotations

from typing import Any

from .. import reference
from ..entities import ledger
from ..store import Record
from ..values import money
from ..writes import add_error
from .base import ActionError, Graph, today_iso

RELEASED = ("Unposted", "Posted", "Voided")


def account_active(code: str) -> bool | None:
    """Whether an account of the chart is active (``None`` when there is no such account)."""
    wanted = code.strip().upper()
    for cd, (_type, _description, active) in reference.GL_ACCOUNTS.items():
        if cd.upper() == wanted:
            return active
    return None


class AccountGraph(Graph):
    defn = ledger.ACCOUNT


class JournalTransactionGraph(Graph):
    defn = ledger.JOURNAL_TRANSACTION

    def default_key(self, key: str, body: dict[str, Any]) -> Any:
        return "GL" if key == "Module" else None

    def always_numbered(self) -> str | None:
        return "BatchNbr"

    def validate_put(self, record: Record, old: Record | None) -> None:
        if old is not None and old.get("Status") in RELEASED:
            add_error(
                record, "", f"The batch has the {old['Status']} status and cannot be changed."
            )

    def prepare(self, record: Record, old: Record | None) -> None:
        record["Module"] = str(record.get("Module") or "GL").upper()
        if record["Module"] != "GL":
            add_error(record, "Module", "Only batches of the GL module can be entered here.")
        record["BranchID"] = record.get("BranchID") or reference.DEFAULT_BRANCH
        record["LedgerID"] = record.get("LedgerID") or reference.LEDGERS[0]
        self.require_selector(
            record, "LedgerID", lambda v: reference.contains(reference.LEDGERS, v)
        )
        record["CurrencyID"] = record.get("CurrencyID") or reference.BASE_CURRENCY
        self.require_selector(
            record, "CurrencyID", lambda v: reference.contains(reference.CURRENCIES, v)
        )
        record["TransactionDate"] = record.get("TransactionDate") or today_iso()
        record["PostPeriod"] = record.get("PostPeriod") or _period(record["TransactionDate"])
        record["Hold"] = bool(record.get("Hold"))
        debits = credits = 0.0
        lines = record.get("Details") or []
        next_nbr = max([0] + [line.get("LineNbr") or 0 for line in lines]) + 1
        for line in lines:
            if not line.get("LineNbr"):
                line["LineNbr"] = next_nbr
                next_nbr += 1
            line["BranchID"] = line.get("BranchID") or record["BranchID"]
            self._check_line(line)
            debits += line["DebitAmount"]
            credits += line["CreditAmount"]
        debits, credits = money(debits), money(credits)
        if not record["Hold"]:
            if not lines or debits == 0:
                add_error(record, "", "The batch has no amounts to post.")
            elif debits != credits:
                add_error(record, "", "Batch is out of balance, please review.")
        if record.get("Status") not in RELEASED:
            record["Status"] = "On Hold" if record["Hold"] else "Balanced"

    def _check_line(self, line: Record) -> None:
        account = str(line.get("Account") or "")
        active = account_active(account) if account else None
        if not account:
            add_error(line, "Account", "'Account' cannot be empty.")
        elif active is None:
            add_error(line, "Account", "'Account' cannot be found in the system.")
        elif not active:
            add_error(line, "Account", f"Account '{account}' is inactive.")
        else:
            line["Account"] = account.upper()
        line["Subaccount"] = line.get("Subaccount") or reference.SUBACCOUNTS[0]
        if not reference.contains(reference.SUBACCOUNTS, str(line["Subaccount"])):
            add_error(line, "Subaccount", "'Subaccount' cannot be found in the system.")
        line["DebitAmount"] = money(line.get("DebitAmount") or 0.0)
        line["CreditAmount"] = money(line.get("CreditAmount") or 0.0)
        if line["DebitAmount"] < 0 or line["CreditAmount"] < 0:
            add_error(line, "DebitAmount", "The amount cannot be negative.")
        elif line["DebitAmount"] and line["CreditAmount"]:
            add_error(line, "CreditAmount", "A line cannot have both a debit and a credit amount.")

    def can_delete(self, record: Record) -> str | None:
        if record.get("Status") in RELEASED:
            return "A released batch cannot be deleted."
        return None

    def actions(self) -> dict[str, Any]:
        return {"ReleaseJournalTransaction": self.release}

    def release(self, batch: Record, params: dict[str, Any]) -> None:
        if batch.get("Status") == "On Hold":
            raise ActionError("The document is on hold and cannot be released.")
        if batch.get("Status") != "Balanced":
            raise ActionError(f"A batch with the {batch.get('Status')} status cannot be released.")
        batch["Status"] = "Posted"
        self.refresh(batch)


def _period(date_iso: str) -> str:
    """The financial period (``MMYYYY``) of a date: periods are calendar months."""
    return f"{date_iso[5:7]}{date_iso[0:4]}"
