"""What a task message shows of its arguments, and what a log line keeps: ids, never people."""

from __future__ import annotations

import io
import json
import logging

import pytest

from sync_workers import logs
from sync_workers.celery import app as celery_app
from sync_workers.redaction import task_reprs
from tests.observability.test_sentry import EMAIL, PERSONAL, PHONE, STREET, customer


def order() -> dict:
    return {
        "id": 42,
        "order_number": "00042",
        "email": EMAIL,
        "profile": {"login": EMAIL, "profile_id": 7},
        "billing_address": {
            "firstname": "Jane",
            "lastname": "O'Neil",
            "street": STREET,
            "phone": PHONE,
        },
        "items": [{"sku": "AA-0001", "name": "Mug", "amount": 1}],
        "notes": f"call {PHONE}",
    }


def test_reprs_name_the_record_and_hide_the_order() -> None:
    args, kwargs = task_reprs(
        [], {"record_id": "42", "verify": True, "order": order(), "transaction": {"id": 9}}
    )

    assert args == "()"
    assert kwargs == (
        "{'record_id': '42', 'verify': True, "
        "'order': {'id': 42, 'order_number': '00042', 'profile': {'profile_id': 7, …1 more}, "
        "…4 more}, 'transaction': {'id': 9}}"
    )
    for value in PERSONAL:
        assert value not in kwargs


def test_reprs_of_a_push_notification_and_of_a_webhook_keep_their_ids_only() -> None:
    notification = {
        "Query": "SalesOrders",
        "Id": "b1f0",
        "Inserted": [{"OrderNbr": "SO001", "CustomerName": "Jane O'Neil"}],
    }

    _, push = task_reprs([], {"notification": notification})
    _, webhook = task_reprs([], {"event": "order.created", "data": {"order": order()}})

    assert push == "{'notification': {'Query': 'SalesOrders', 'Id': 'b1f0', …1 more}}"
    assert webhook == (
        "{'event': 'order.created', 'data': {'order': {'id': 42, 'order_number': '00042', "
        "'profile': {'profile_id': 7, …1 more}, …4 more}}}"
    )


def test_reprs_show_lists_of_ids_and_hide_other_values() -> None:
    args, kwargs = task_reprs(
        [42, EMAIL, {"email": EMAIL}],
        {"ids": [str(n) for n in range(25)], "customer": customer(), "note": "Jane"},
    )

    assert args == "(42, <str>, {…1 more})"
    assert kwargs.startswith("{'ids': ['0', '1', ")
    assert "…5 more]" in kwargs
    assert "'note': <str>" in kwargs
    for value in PERSONAL:
        assert value not in args + kwargs


def test_a_record_id_that_is_an_email_is_masked() -> None:
    _, kwargs = task_reprs([], {"record_id": EMAIL})

    assert kwargs == "{'record_id': '[Filtered]'}"


def test_every_message_of_the_app_carries_the_redacted_reprs() -> None:
    message = celery_app.amqp.create_task_message(
        "task-1", "tasks.orders.sync", (), {"record_id": "42", "order": order()},
        create_sent_event=True,
    )  # fmt: skip

    headers, _, body, sent_event = message
    assert headers["kwargsrepr"] == sent_event["kwargs"]
    assert headers["kwargsrepr"].startswith("{'record_id': '42', 'order': {'id': 42")
    assert body[1]["order"]["email"] == EMAIL  # the task still gets its arguments
    assert EMAIL not in headers["kwargsrepr"] and EMAIL not in sent_event["kwargs"]


def _line(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(logs.ContextFilter())
    handler.handle(record)
    return stream.getvalue()


def _failure_record() -> logging.LogRecord:
    """A record as Celery's trace logs a failure: its context, arguments included, as ``data``."""
    try:
        raise ValueError(f"customer {EMAIL} at {STREET} has no valid state")
    except ValueError as exc:
        exc_info = (type(exc), exc, exc.__traceback__)
    return logging.LogRecord(
        "celery.app.trace", logging.ERROR, __file__, 1,
        "Task %(name)s raised unexpected: %(exc)s",
        ({"name": "tasks.orders.sync", "exc": "PermanentError('customer Jane: no valid state')"},),
        exc_info,
    )  # fmt: skip


@pytest.mark.parametrize("formatter", [logs.JsonFormatter(), logs.TextFormatter()])
def test_log_lines_mask_personal_data_of_the_running_task(formatter) -> None:
    record = _failure_record()
    record.data = {"kwargs": repr({"order": order()})}
    record.record_id = "42"
    logs.on_task_prerun(args=(), kwargs={"record_id": "42", "order": order()})
    try:
        line = _line(formatter, record)
    finally:
        logs.on_task_postrun()

    assert "tasks.orders.sync raised unexpected" in line
    assert "has no valid state" in line
    for value in PERSONAL:
        assert value not in line, value
    if isinstance(formatter, logs.JsonFormatter):
        fields = json.loads(line)
        assert fields["record_id"] == "42"
        assert "data" not in fields


def test_values_a_task_adds_are_masked_until_it_ends() -> None:
    formatter = logs.TextFormatter()
    fetched = {"billing_address": {"firstname": "Zebulon", "lastname": "Quixworth"}}

    def line() -> str:
        record = logging.LogRecord(
            "sync_workers.task", logging.ERROR, __file__, 1, "%s %s", ("Zebulon", "Quixworth"), None
        )
        return _line(formatter, record)

    logs.on_task_prerun(args=(), kwargs={"record_id": "42"})
    try:
        before = line()
        logs.mask_in_logs(fetched)
        during = line()
    finally:
        logs.on_task_postrun()
    after = line()

    assert "Zebulon Quixworth" in before
    assert "Zebulon" not in during and "Quixworth" not in during
    assert "Zebulon Quixworth" in after  # another task's values are not this one's
