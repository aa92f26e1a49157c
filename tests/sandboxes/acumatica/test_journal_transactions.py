"""General ledger in the sandbox: the chart of accounts and journal entries (GL301000)."""

from __future__ import annotations

from typing import Any

from .client import Api, value


def batch(*lines: tuple[str, float, float], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Description": {"value": fields.pop("Description", "XC-5001")},
        "Details": [
            {
                "Account": {"value": account},
                "DebitAmount": {"value": debit},
                "CreditAmount": {"value": credit},
                "ReferenceNbr": {"value": "1042"},
            }
            for account, debit, credit in lines
        ],
    }
    body.update({k: {"value": v} for k, v in fields.items()})
    return body


def test_the_chart_of_accounts_is_served(api: Api) -> None:
    rows = api.get("Account", **{"$filter": "AccountCD eq '40000'"}).json()
    assert [value(r, "AccountCD") for r in rows] == ["40000"]
    assert value(rows[0], "Type") == "Income"
    assert value(api.get("Account/49000").json(), "Active") is False


def test_a_balanced_batch_is_created_numbered_and_released(api: Api) -> None:
    response = api.put(
        "JournalTransaction",
        batch(("10250", 25.0, 0.0), ("40000", 0.0, 25.0)),
        **{"$expand": "Details"},
    )
    assert response.status_code == 200, response.text
    made = response.json()
    assert value(made, "Module") == "GL"
    assert value(made, "Status") == "Balanced"
    assert value(made, "LedgerID") == "ACTUAL"
    assert [value(d, "LineNbr") for d in made["Details"]] == [1, 2]
    nbr = value(made, "BatchNbr")
    assert nbr

    keys = {"Module": {"value": "GL"}, "BatchNbr": {"value": nbr}}
    assert api.action("JournalTransaction", "ReleaseJournalTransaction", keys).status_code == 204
    assert value(api.get(f"JournalTransaction/GL/{nbr}").json(), "Status") == "Posted"
    again = api.action("JournalTransaction", "ReleaseJournalTransaction", keys)
    assert again.status_code >= 400
    changed = api.put("JournalTransaction", {**keys, "Description": {"value": "other"}})
    assert changed.status_code == 422, changed.text
    found = api.get("JournalTransaction", **{"$filter": "Description eq 'XC-5001'"}).json()
    assert [value(r, "BatchNbr") for r in found] == [nbr]


def test_an_out_of_balance_batch_is_refused_and_nothing_is_stored(api: Api) -> None:
    response = api.put(
        "JournalTransaction",
        batch(("10250", 25.0, 0.0), ("40000", 0.0, 20.0), Description="XC-5002"),
    )
    assert response.status_code == 422
    assert "out of balance" in response.text
    assert api.get("JournalTransaction", **{"$filter": "Description eq 'XC-5002'"}).json() == []


def test_a_held_batch_may_be_out_of_balance_and_cannot_be_released(api: Api) -> None:
    response = api.put(
        "JournalTransaction",
        batch(("10250", 25.0, 0.0), Description="XC-5003", Hold=True),
    )
    assert response.status_code == 200, response.text
    assert value(response.json(), "Status") == "On Hold"
    keys = {"Module": {"value": "GL"}, "BatchNbr": response.json()["BatchNbr"]}
    refused = api.action("JournalTransaction", "ReleaseJournalTransaction", keys)
    assert refused.status_code >= 400
    assert "on hold" in refused.text


def test_unknown_or_inactive_accounts_are_refused_on_their_line(api: Api) -> None:
    unknown = api.put(
        "JournalTransaction", batch(("99999", 5.0, 0.0), ("40000", 0.0, 5.0), Description="X")
    )
    assert unknown.status_code == 422
    line = unknown.json()["Details"][0]
    assert "'Account' cannot be found in the system." in line["Account"]["error"]
    inactive = api.put(
        "JournalTransaction", batch(("10250", 5.0, 0.0), ("49000", 0.0, 5.0), Description="Y")
    )
    assert inactive.status_code == 422
    assert "inactive" in inactive.text
