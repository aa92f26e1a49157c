"""An order left to settle by a poll goes out once it is old enough, not a poll interval later."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from celery.signals import task_prerun

from sync_workers.flows.orders import changes as order_changes
from sync_workers.mapping import templates
from tasks import orders as order_tasks
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import address, checkout, linked, wait_for

SETTLE = 2.0


@pytest.fixture
def settling_templates(fast_templates):
    path = fast_templates / "orders.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["poll"] = {"overlap_seconds": 300, "settle_seconds": SETTLE}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()
    return fast_templates


@pytest.fixture
def polls() -> Iterator[list[dict]]:
    """The keyword arguments of every orders poll the worker runs during the test."""
    seen: list[dict] = []

    def note(task=None, kwargs=None, **_) -> None:
        if task.name == "tasks.orders.poll":
            seen.append(dict(kwargs or {}))

    task_prerun.connect(note, weak=False)
    yield seen
    task_prerun.disconnect(note)


def place(xcart: str, email: str) -> dict:
    return checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0005", "amount": 1}],
            "billing_address": address("Sett", "L'Ing", "OR"),
            "payment_method": "Credit Card",
        },
    )


def test_order_placed_just_before_a_poll_is_synced_about_settle_seconds_later(
    sandboxes, clean_ledger, celery_worker, settling_templates, polls, worker_activity
) -> None:
    order_tasks.poll()  # the cursor's first window: nothing yet
    placed_at = time.monotonic()
    order = place(sandboxes["xcart"].url, "settling@example.com")

    first = order_tasks.poll()  # too young: left to settle, one follow-up booked
    second = order_tasks.poll()  # a follow-up is already booked

    assert first["started"] == [] and 0 < first["follow_up_in"] <= SETTLE + 0.5
    assert second["started"] == [] and second["follow_up_in"] is None
    wait_for(lambda: linked("orders"), timeout=60, interval=0.05)
    lag = time.monotonic() - placed_at
    # Not before it settled (whole-second update times: up to a second early). The upper bound
    # is only generous room for a loaded machine: no scheduled poll runs here, so without the
    # follow-up the order would not be synced at all.
    assert SETTLE - 1.0 <= lag <= SETTLE + 30.0, lag
    assert list(linked("orders")) == [str(order["id"])]
    worker_activity.idle()  # a second follow-up, had one been booked, has run by now
    assert len(polls) == 1 and "follow_up" in polls[0]  # it left nothing: no other follow-up


def test_follow_ups_book_at_most_one_poll_per_settle_period(
    clean_ledger, redis_client, settling_templates
) -> None:
    now = datetime.now(UTC)
    assert order_changes.claim_follow_up([]) is None

    token, countdown = order_changes.claim_follow_up([now - timedelta(seconds=1.5)])
    assert 0.5 <= countdown <= 1.0  # when the order turns SETTLE old, plus the margin
    assert order_changes.claim_follow_up([now]) is None  # one booking at a time

    order_changes.release_follow_up(token)  # the follow-up runs and finds a newer order
    _, next_countdown = order_changes.claim_follow_up([datetime.now(UTC)], after=token)
    assert next_countdown >= countdown + SETTLE - 0.1
