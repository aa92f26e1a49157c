"""The record store: write-through to SQLite, rollback, numbering, lookups, change listeners."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandboxes.acumatica.store import Store


def test_records_and_counters_survive_reopening(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    store.save("Customer", {"id": "a", "CustomerID": "ONE"})
    assert store.next_number("Customer") == "000001"
    store.put_setting("licence", {"max_sessions": 3})
    store.close()
    again = Store(tmp_path / "db.sqlite3")
    assert again.get("Customer", "a") == {"id": "a", "CustomerID": "ONE"}
    assert again.next_number("Customer") == "000002"
    assert again.get_setting("licence") == {"max_sessions": 3}
    again.close()


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    store.save("Customer", {"id": "a", "CustomerID": "ONE"})
    with pytest.raises(RuntimeError), store.transaction():
        store.save("Customer", {"id": "a", "CustomerID": "CHANGED"})
        store.save("Customer", {"id": "b", "CustomerID": "TWO"})
        store.next_number("Customer")
        raise RuntimeError("boom")
    assert store.get("Customer", "a") == {"id": "a", "CustomerID": "ONE"}
    assert store.get("Customer", "b") is None
    assert store.find("Customer", CustomerID="two") is None
    assert store.next_number("Customer") == "000001"
    store.close()


def test_find_ignores_case_and_trailing_spaces_and_returns_copies(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    store.save("SalesOrder", {"id": "x", "OrderType": "SO", "OrderNbr": "000001"})
    found = store.find("SalesOrder", OrderType="so", OrderNbr="000001  ")
    assert found is not None and found["id"] == "x"
    found["OrderNbr"] = "changed"
    assert store.get("SalesOrder", "x")["OrderNbr"] == "000001"  # type: ignore[index]
    store.close()


def test_listeners_get_old_and_new_records_once_per_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    seen: list[list[tuple[str, object, object]]] = []
    store.add_listener(
        lambda changes: seen.append([(e, o and o["v"], n and n["v"]) for e, o, n in changes])
    )
    with store.transaction():
        store.save("StockItem", {"id": "i", "v": 1})
        store.save("StockItem", {"id": "i", "v": 2})
    store.delete("StockItem", "i")
    assert seen == [[("StockItem", None, 1), ("StockItem", 1, 2)], [("StockItem", 2, None)]]
    store.close()


def test_lookups_follow_updates_deletes_and_rollbacks_without_a_rebuild(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    store.save("SalesOrder", {"id": "1", "OrderType": "SO", "OrderNbr": "000001", "X": "a"})
    store.save("SalesOrder", {"id": "2", "OrderType": "SO", "OrderNbr": "000002", "X": "b"})
    assert store.find("SalesOrder", OrderType="SO", OrderNbr="000002")["id"] == "2"
    assert store.find("SalesOrder", OrderType="SO")["id"] == "1"  # first in insertion order

    store.save("SalesOrder", {"id": "1", "OrderType": "QT", "OrderNbr": "000001", "X": "c"})
    assert store.find("SalesOrder", OrderType="SO")["id"] == "2"
    assert store.find("SalesOrder", OrderType="QT", OrderNbr="000001")["X"] == "c"
    store.save("SalesOrder", {"id": "3", "OrderType": "SO", "OrderNbr": "000003", "X": "d"})
    store.save("SalesOrder", {"id": "1", "OrderType": "SO", "OrderNbr": "000001", "X": "e"})
    assert store.find("SalesOrder", OrderType="SO")["id"] == "1"  # still first inserted
    store.delete("SalesOrder", "2")
    assert store.find("SalesOrder", OrderNbr="000002") is None

    with pytest.raises(RuntimeError), store.transaction():
        store.save("SalesOrder", {"id": "1", "OrderType": "CM", "OrderNbr": "000001", "X": "f"})
        store.delete("SalesOrder", "3")
        assert store.find("SalesOrder", OrderType="CM")["X"] == "f"
        raise RuntimeError("refused")
    assert store.find("SalesOrder", OrderType="CM") is None
    assert store.find("SalesOrder", OrderType="SO", OrderNbr="000001")["X"] == "e"
    assert store.find("SalesOrder", OrderNbr="000003")["X"] == "d"
    store.close()


def test_records_referencing_an_order_follow_their_rows_through_writes(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")

    def applied(nbr: str) -> list[str]:
        rows = store.referencing("Payment", "OrdersToApply", OrderType="SO", OrderNbr=nbr)
        return [rec["id"] for rec in rows]

    def payment(pid: str, *nbrs: str) -> dict[str, object]:
        return {"id": pid, "OrdersToApply": [{"OrderType": "SO", "OrderNbr": n} for n in nbrs]}

    store.save("Payment", payment("p1", "000001"))
    store.save("Payment", payment("p2", "000001", "000002"))
    store.save("Payment", {"id": "p3"})  # applied to nothing
    assert applied("000001") == ["p1", "p2"]
    assert applied("000002 ") == ["p2"]  # compared as Acumatica compares strings

    store.save("Payment", payment("p1", "000002"))  # moved: in insertion order, not write order
    assert applied("000001") == ["p2"]
    assert applied("000002") == ["p1", "p2"]
    store.delete("Payment", "p2")
    assert applied("000001") == [] and applied("000002") == ["p1"]

    with pytest.raises(RuntimeError), store.transaction():
        store.save("Payment", payment("p3", "000001"))
        assert applied("000001") == ["p3"]
        raise RuntimeError("refused")
    assert applied("000001") == [] and applied("000002") == ["p1"]
    store.close()


def test_may_equal_reads_the_narrowest_hint_and_keeps_values_that_are_not_text(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "db.sqlite3")
    for n in range(1, 6):
        store.save("SalesOrder", {"id": str(n), "OrderType": "SO", "CustomerOrder": f"XC-{n}"})
    store.save("SalesOrder", {"id": "6", "OrderType": "SO", "CustomerOrder": 7})  # not text
    store.save("SalesOrder", {"id": "7", "OrderType": "QT", "CustomerOrder": "xc-2  "})

    found = store.may_equal("SalesOrder", [("OrderType", ["so"]), ("CustomerOrder", ["XC-2"])])
    assert [rec["id"] for rec in found] == ["2", "6", "7"]  # CustomerOrder: 3 records, not 6
    store.save("SalesOrder", {"id": "2", "OrderType": "SO", "CustomerOrder": "XC-9"})
    assert [r["id"] for r in store.may_equal("SalesOrder", [("CustomerOrder", ["xc-9"])])] == [
        "2",
        "6",
    ]
    store.close()
