"""The record store: write-through to SQLite, rollback, numbering, lookups, change listeners."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_workers.sandboxes.acumatica.store import Store


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
