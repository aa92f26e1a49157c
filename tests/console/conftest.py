"""The console against the test Redis and ledger: users, sign-in, and seeded records and
dead letters."""

from __future__ import annotations

import copy
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from sync_workers.dlq import DeadLetter
from sync_workers.ledger.models import SyncRecord, SyncRun
from sync_workers.settings import get_settings
from tests.mapping.test_orders_mapping import ORDER

OPERATOR, VIEWER = "olga", "victor"
PASSWORDS = {OPERATOR: "operator-pass-" + secrets.token_hex(6), VIEWER: "viewer-pass-0123456789"}
USERS = f"{OPERATOR}:{PASSWORDS[OPERATOR]}:operator,{VIEWER}:{PASSWORDS[VIEWER]}:viewer"

#: An order the orders flow's validation accepts (its SKUs marked known by ``known_skus``),
#: and the same order with a shipping method no mapping covers.
VALID_ORDER = {
    **copy.deepcopy(ORDER),
    "shipping_address": copy.deepcopy(ORDER["billing_address"]),  # New York: a taxed region
    "shipping_method_name": "Courier",
}
BAD_ORDER = {**copy.deepcopy(VALID_ORDER), "shipping_method_name": "Drone"}


@pytest.fixture
def console_app(redis_client, clean_ledger):
    from sync_workers.console.app import create_app
    from sync_workers.console.users import parse_users

    app = create_app(get_settings(), users=parse_users(USERS))
    app.testing = True
    return app


@pytest.fixture
def client(console_app):
    return console_app.test_client()


def form_token(html: str, name: str = "csrf_token") -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in the page"
    return match[1]


def sign_in(client, name: str, password: str | None = None) -> str:
    """Sign ``name`` in; the session's CSRF token."""
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "signin_token": form_token(form.text, "signin_token"),
            "name": name,
            "password": PASSWORDS[name] if password is None else password,
        },
    )
    assert answer.status_code == 302, answer.text
    return form_token(client.get("/", headers={"Accept": "text/html"}).text)


@pytest.fixture
def known_skus(redis_client):
    """The order's SKUs known to Acumatica, without asking it (``validation.known_skus``)."""
    prefix = get_settings().redis_key_prefix
    redis_client.sadd(prefix + "orders:skus", "AA-0001", "O'NEIL/42")
    redis_client.set(prefix + "orders:skus:fresh", "1", ex=600)


def add_record(
    engine,
    flow: str = "orders",
    source_id: str = "42",
    *,
    direction: str = "xcart_to_acumatica",
    target_key: str | None = "SO/000042",
    status: str = "synced",
    data: dict[str, Any] | None = None,
    runs: list[dict[str, Any]] | None = None,
) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(SyncRecord.__table__),
            [
                {
                    "flow": flow,
                    "direction": direction,
                    "source_id": source_id,
                    "target_key": target_key,
                    "status": status,
                    "data": data or {},
                    "trace_id": "trace-" + source_id,
                    "source_updated_at": now - timedelta(seconds=30),
                    "created_at": now,
                    "updated_at": now,
                    "synced_at": now if status == "synced" else None,
                    "followup_due": False,
                }
            ],
        )
        for run in runs or []:
            connection.execute(
                insert(SyncRun.__table__),
                [
                    {
                        "flow": flow,
                        "direction": direction,
                        "source_id": source_id,
                        "task": f"tasks.{flow}.sync",
                        "task_id": secrets.token_hex(8),
                        "attempt": 1,
                        "steps": "fetch,validate",
                        "outcome": "ok",
                        "error_class": None,
                        "error": None,
                        "trace_id": "trace-" + source_id,
                        "started_at": now - timedelta(minutes=5),
                        "duration_ms": 42,
                        **run,
                    }
                ],
            )


def add_entry(
    record_id: str,
    *,
    flow: str = "orders",
    step: str = "validate",
    message: str | None = None,
    order: dict[str, Any] | None = None,
    error_class: str = "PermanentError",
    field_errors: dict[str, str] | None = None,
) -> DeadLetter:
    """An open dead letter of ``tasks.<flow>.sync``, as the runner leaves it."""
    from sync_workers.task import get_dlq

    order = copy.deepcopy(order if order is not None else BAD_ORDER)
    order["id"] = int(record_id) if record_id.isdigit() else order["id"]
    entry = DeadLetter(
        flow=flow,
        record_id=record_id,
        task=f"tasks.{flow}.sync",
        step=step,
        task_id=secrets.token_hex(16),
        args=[],
        kwargs={"record_id": record_id, "order": order, "verify": False},
        error_class=error_class,
        error_message=message
        or f"order {record_id} is invalid: shipping_method_name: unmapped shipping method 'Drone'",
        field_errors=field_errors
        if field_errors is not None
        else {"shipping_method_name": "unmapped shipping method 'Drone'"},
    )
    assert get_dlq().add(entry)
    return entry
