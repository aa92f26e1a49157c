"""Shoppers, waits and read-backs for the order-to-cash integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlalchemy import update

from sync_workers.ledger import SyncRecord, session_scope
from sync_workers.task import get_dlq

ADDRESSES = {
    "NY": {"street": "1 Main St", "city": "New York", "zipcode": "10001", "state_code": "NY"},
    "CA": {
        "street": "5 Market St",
        "city": "San Francisco",
        "zipcode": "94105",
        "state_code": "CA",
    },
    "TX": {"street": "9 Congress Ave", "city": "Austin", "zipcode": "73301", "state_code": "TX"},
    "OR": {"street": "2 Pearl St", "city": "Portland", "zipcode": "97201", "state_code": "OR"},
    "MA": {"street": "7 Beacon St", "city": "Boston", "zipcode": "02108", "state_code": "MA"},
}


def address(first: str, last: str, state: str = "NY", **extra: Any) -> dict[str, Any]:
    return {
        "firstname": first,
        "lastname": last,
        "country_code": "US",
        "phone": "555-010-" + str(abs(hash(first + last)) % 10000).zfill(4),
        **ADDRESSES[state],
        **extra,
    }


def checkout(xcart_url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(f"{xcart_url}/_sandbox/checkout", json=body, timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()


def sandbox(url: str, path: str, body: Any = None) -> Any:
    method = requests.post if body is not None else requests.get
    kwargs = {"json": body} if body is not None else {}
    answer = method(f"{url}/_sandbox/{path}", timeout=30, **kwargs)
    answer.raise_for_status()
    return answer.json()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


def ledger_rows(flow: str, direction: str = "xcart_to_acumatica") -> list[SyncRecord]:
    with session_scope() as session:
        return list(
            session.query(SyncRecord).filter(
                SyncRecord.flow == flow, SyncRecord.direction == direction
            )
        )


def linked(flow: str, direction: str = "xcart_to_acumatica") -> dict[str, str]:
    return {r.source_id: r.target_key for r in ledger_rows(flow, direction) if r.target_key}


def open_dead_letters(flow: str | None = None) -> list:
    return list(get_dlq().iter_entries(status="open", flow=flow))


def acumatica_stats(url: str) -> dict[str, int]:
    return sandbox(url, "stats")["requests"]["by_path"]


def entity_calls(by_path: dict[str, int]) -> dict[str, int]:
    """Emulated-API calls to the contract-based endpoint (sign-in excluded)."""
    return {k: v for k, v in by_path.items() if "/entity/Default/" in k}


def backdate(flow: str, source_id: str, hours: float = 2) -> None:
    """Make a ledger row look untouched for ``hours`` (as a stalled chain's row, or an order
    synced long ago, does)."""
    with session_scope() as session:
        session.execute(
            update(SyncRecord)
            .where(SyncRecord.flow == flow, SyncRecord.source_id == source_id)
            .values(updated_at=datetime.now(UTC) - timedelta(hours=hours))
        )


def prepared(order_id: Any, **hints: Any) -> dict[str, Any]:
    """An order's state as its chain holds it right before the push (its steps up to there)."""
    from sync_workers.flows.orders import FLOW

    state: dict[str, Any] = {**hints, "record_id": str(order_id)}
    for step in FLOW.chain("sync").steps:
        if step.name == "push":
            return state
        state = step.run(state)
    raise AssertionError("the orders chain has no push step")
