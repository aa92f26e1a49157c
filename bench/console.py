"""Console speed: every page of the operations console at a production-sized ledger and queue.

Seeds a private stack (its own Redis and ledger, no sandbox or worker needed) with ``records``
ledger records across the six flows (synced over the last 24 hours, with two or three history
rows each) and ``dead_letters`` open dead letters in a handful of error patterns, each holding
an order as its arguments, through the queue's own ``add``. Then it starts the console
(gunicorn, as ``python -m sync_workers.console`` runs it), signs in and times each page
``rounds`` times after a warm-up: wall time seen by the client on loopback, p50/p95/max in ms.
The overview and the dead-letter groups are timed twice: as they are, and with a new dead letter
added before each request (the console regroups then instead of reusing its last grouping).
Target: every page's p95 under 300 ms.
"""

from __future__ import annotations

import random
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

import requests

from bench.processes import free_port
from bench.stack import Stack

TARGET_MS = 300.0
#: Share of the ledger per flow (orders carry most of it, as in a shop).
SHARES = {
    "orders": 0.5,
    "payments": 0.25,
    "customers": 0.1,
    "products": 0.05,
    "inventory": 0.05,
    "shipments": 0.05,
}
DIRECTIONS = {
    "orders": "xcart_to_acumatica",
    "payments": "xcart_to_acumatica",
    "customers": "xcart_to_acumatica",
    "products": "acumatica_to_xcart",
    "inventory": "acumatica_to_xcart",
    "shipments": "acumatica_to_xcart",
}
#: (flow, step, error class, message template, field errors) of the seeded dead letters.
PATTERNS = (
    ("orders", "validate", "PermanentError",
     "order {n} is invalid: shipping_method_name: unmapped shipping method 'Drone'",
     {"shipping_method_name": "unmapped shipping method 'Drone'"}),
    ("orders", "validate", "PermanentError",
     "order {n} is invalid: items[0].sku: SKU 'GHOST-{k}' is not known in Acumatica and not mapped",
     {"items[0].sku": "SKU 'GHOST-{k}' is not known in Acumatica and not mapped"}),
    ("orders", "validate", "PermanentError",
     "order {n} is invalid: transactions[0].payment_method: unmapped payment method 'Purchase Order'",
     {"transactions[0].payment_method": "unmapped payment method 'Purchase Order'"}),
    ("orders", "push", "TransientError", "Acumatica did not answer within {k}s (retries exhausted)", {}),
    ("payments", "push", "PermanentError", "payment {n}: 422 PaymentMethod 'PO' cannot be found", {}),
    ("shipments", "write_back", "PermanentError", "X-Cart order {n} is gone (404)", {}),
)  # fmt: skip


def _order(number: int) -> dict[str, Any]:
    """An X-Cart order as a poll hands it to its chain (the dead letter's arguments)."""
    return {
        "id": number,
        "order_number": str(1_000_000 + number),
        "email": f"buyer{number}@example.com",
        "total": 123.45,
        "sub_total": 110.0,
        "currency": "USD",
        "payment_status": {"code": "P"},
        "shipping_method_name": "Drone",
        "billing_address": {
            "firstname": "Ana",
            "lastname": f"Buyer{number}",
            "street": f"{number % 900 + 1} Main Street",
            "city": "Springfield",
            "state": "NY",
            "country_code": "US",
            "zipcode": "10001",
            "phone": "555-010-0199",
        },
        "items": [
            {"sku": f"SKU-{(number + i) % 500}", "amount": 1 + i, "price": 10.0, "name": "Widget"}
            for i in range(5)
        ],
        "surcharges": [{"type": "shipping", "value": 5.0}, {"type": "tax", "value": 8.45}],
    }


def seed_ledger(url: str, records: int, rng: random.Random) -> dict[str, Any]:
    """``records`` ledger rows and their history; returns a few ids to look up."""
    from sqlalchemy import insert

    from sync_workers.ledger.db import make_engine
    from sync_workers.ledger.models import SyncRecord, SyncRun

    engine = make_engine(url)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    picks: dict[str, Any] = {}
    started = time.monotonic()

    def flush() -> None:
        with engine.begin() as connection:
            if rows:
                connection.execute(insert(SyncRecord.__table__), rows)
            if runs:
                connection.execute(insert(SyncRun.__table__), runs)
        rows.clear()
        runs.clear()

    number = 0
    for flow, share in SHARES.items():
        direction = DIRECTIONS[flow]
        for index in range(int(records * share)):
            number += 1
            synced = now - timedelta(seconds=rng.uniform(0, 24 * 3600))
            lag = rng.lognormvariate(1.5, 1.0)
            status = "synced" if rng.random() > 0.02 else rng.choice(["pending", "dead_lettered"])
            source_id = {
                "customers": f"profile:{index}",
                "products": f"SKU-{index}",
                "inventory": f"SKU-{index}",
            }.get(flow, str(index + 1))
            data: dict[str, Any] = {}
            if flow == "orders":
                data = {
                    "order_number": str(1_000_000 + index + 1),  # never an order id here
                    "status": "Open",
                    "order_total": 99.5,
                }
            elif flow == "customers":
                data = {"email": f"buyer{index}@example.com", "how": "email"}
            elif flow == "payments":
                data = {"order_id": str(index + 1), "order_key": f"SO/{index + 1:06d}"}
            target = None if status == "pending" else f"{flow[:2].upper()}/{index + 1:06d}"
            rows.append({
                "flow": flow, "direction": direction, "source_id": source_id,
                "target_key": target, "content_hash": "h", "status": status,
                "last_error": None, "trace_id": secrets.token_hex(8), "data": data,
                "source_updated_at": synced - timedelta(seconds=lag),
                "created_at": synced, "updated_at": synced,
                "synced_at": synced if target else None, "followup_due": False,
            })  # fmt: skip
            for attempt in range(1, rng.choice((2, 2, 3)) + 1):
                failed = attempt == 1 and rng.random() < 0.1
                runs.append({
                    "flow": flow, "direction": direction, "source_id": source_id,
                    "task": f"tasks.{flow}.sync", "task_id": secrets.token_hex(8),
                    "attempt": attempt, "steps": "fetch,validate,customer,transform,push",
                    "outcome": "retry" if failed else "ok",
                    "error_class": "TransientError" if failed else None,
                    "error": "timed out" if failed else None, "trace_id": secrets.token_hex(8),
                    "started_at": synced - timedelta(seconds=60 * attempt), "duration_ms": 120,
                })  # fmt: skip
            if index == 4242 and flow == "orders":
                picks["order_id"], picks["order_number"] = source_id, data["order_number"]
                picks["order_key"] = target or f"OR/{index + 1:06d}"
            elif index == 4242 and flow == "customers":
                picks["email"] = data["email"]
            elif index == 4242 and flow == "products":
                picks["sku"] = source_id
            if len(rows) >= 5000:
                flush()
    flush()
    engine.dispose()
    picks["seconds"] = round(time.monotonic() - started, 1)
    return picks


def _dead_letter(n: int, rng: random.Random, now: datetime) -> Any:
    """The ``n``-th seeded dead letter: its pattern, an order as its arguments, a traceback."""
    from sync_workers.dlq import DeadLetter

    flow, step, error_class, message, fields = PATTERNS[n % len(PATTERNS)]
    number = 200_000 + n
    k = rng.randint(1, 40)
    at = (now - timedelta(seconds=rng.uniform(0, 6 * 86400))).isoformat(timespec="milliseconds")
    return DeadLetter(
        flow=flow,
        record_id=str(number),
        task=f"tasks.{flow}.sync",
        step=step,
        task_id=secrets.token_hex(16),
        args=[],
        kwargs={"record_id": str(number), "order": _order(number), "verify": False},
        error_class=error_class,
        error_message=message.format(n=number, k=k),
        field_errors={p: r.format(n=number, k=k) for p, r in fields.items()},
        first_failed_at=at,
        last_failed_at=at,
        traceback="Traceback (most recent call last):\n  ...\n" * 20,
    )


def _queue() -> Any:
    from sync_workers.dlq import DeadLetterQueue
    from sync_workers.redis_client import get_redis
    from sync_workers.settings import get_settings

    return DeadLetterQueue(get_redis(), get_settings().redis_key_prefix)


def seed_dead_letters(count: int, rng: random.Random) -> float:
    queue = _queue()
    started = time.monotonic()
    now = datetime.now(UTC)
    for n in range(count):
        queue.add(_dead_letter(n, rng, now))
    return round(time.monotonic() - started, 1)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def _sign_in(base: str, name: str, password: str) -> requests.Session:
    http = requests.Session()
    form = http.get(f"{base}/login", timeout=10)
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text)
    assert token, "no sign-in token on the form"
    answer = http.post(
        f"{base}/login",
        data={"signin_token": token[1], "name": name, "password": password, "next": "/"},
        timeout=10,
    )
    assert answer.status_code == 200 and "Overview" in answer.text, answer.status_code
    return http


def run(*, records: int = 100_000, dead_letters: int = 10_000, rounds: int = 30) -> dict[str, Any]:
    rng = random.Random(24)
    password = secrets.token_urlsafe(18)
    port = free_port()
    with Stack(name="console", extra_env={"CONSOLE_USERS": f"bench:{password}:operator"}) as stack:
        stack.start_redis()
        stack.migrate()
        stack.apply_env()
        picks = seed_ledger(stack.env["DATABASE_URL"], records, rng)
        seeded_dlq = seed_dead_letters(dead_letters, rng)
        started = time.monotonic()
        stack.start_console(port)
        console_ready = round(time.monotonic() - started, 1)
        base = f"http://127.0.0.1:{port}"
        http = _sign_in(base, "bench", password)
        groups = http.get(f"{base}/dead-letters", timeout=30).text
        group = re.search(r'href="(/dead-letters/group/[0-9a-f]+)"', groups)
        entry = (
            re.search(
                r'href="(/dead-letters/[0-9a-f]{32})"',
                http.get(f"{base}{group[1]}", timeout=30).text,
            )
            if group
            else None
        )
        pages = {
            "overview": "/",
            "records: search by order id": f"/records?q={picks['order_id']}",
            "records: search by order number": f"/records?q={picks['order_number']}",
            "records: search by e-mail": f"/records?q={picks['email']}",
            "records: search by SKU": f"/records?q={picks['sku']}",
            "records: search by Acumatica key": f"/records?q={picks['order_key']}",
            "records: an order's timeline": f"/records/orders/{picks['order_id']}",
            "dead letters: groups": "/dead-letters",
            "dead letters: largest group": group[1] if group else "/dead-letters",
            "dead letters: an entry": entry[1] if entry else "/dead-letters/entries",
            "dead letters: newest entries": "/dead-letters/entries",
            "audit": "/dead-letters/audit",
            "mapping": "/mapping",
            "reconcile": "/reconcile",
        }
        # The same pages when a dead letter arrived just before each request: the console
        # cannot reuse its grouping then, and regroups (reading the new entry alone).
        queue, added = _queue(), iter(range(dead_letters, dead_letters + 10 * rounds))
        changed = {
            "overview, a new dead letter before each request": "/",
            "dead letters: groups, a new dead letter before each request": "/dead-letters",
        }
        timings: dict[str, dict[str, Any]] = {}
        for name, path in {**pages, **changed}.items():
            for _ in range(2):  # warm-up: connections, template compilation
                http.get(f"{base}{path}", timeout=30)
            samples = []
            for _ in range(rounds):
                if name in changed:
                    queue.add(_dead_letter(next(added), rng, datetime.now(UTC)))
                at = time.perf_counter()
                answer = http.get(f"{base}{path}", timeout=30)
                samples.append((time.perf_counter() - at) * 1000)
                if answer.status_code != 200:
                    raise AssertionError(f"{path}: {answer.status_code}")
            timings[name] = {
                "path": re.sub(r"[0-9a-f]{16,}", "<id>", path),
                "p50_ms": round(median(samples), 1),
                "p95_ms": round(_percentile(samples, 0.95), 1),
                "max_ms": round(max(samples), 1),
                "met": _percentile(samples, 0.95) <= TARGET_MS,
            }
        return {
            "records": records,
            "history_rows": "2-3 per record",
            "dead_letters": dead_letters,
            "rounds": rounds,
            "database": stack.database,
            "seed_seconds": {"ledger": picks["seconds"], "dead_letters": seeded_dlq},
            "console_ready_seconds": console_ready,
            "target_p95_ms": TARGET_MS,
            "pages": timings,
        }
