"""The arithmetic of the recovery figure: which orders a worker held, and their percentiles."""

from __future__ import annotations

from bench.recovery import SYNC_TASK, TARGET_P95, _finished, figures, held_orders, task_ids
from bench.report import rows
from sync_workers.redaction import task_reprs


def _inspected(name: str, kwargs: dict) -> dict:
    """A task as ``celery inspect active`` shows it: the message's ids-only reprs."""
    argsrepr, kwargsrepr = task_reprs([], kwargs)
    return {"id": "t", "name": name, "args": argsrepr, "kwargs": kwargsrepr}


def test_held_orders_are_read_from_the_ids_only_kwargs_repr() -> None:
    order = {"id": 42, "order_number": "00042", "email": "buyer@example.com", "total": 9.5}
    tasks = [
        _inspected(SYNC_TASK, {"order": order, "verify": False, "record_id": "42"}),
        _inspected("tasks.orders.poll", {"follow_up": None}),
        _inspected(SYNC_TASK, {"verify": True, "record_id": "7"}),
        _inspected(SYNC_TASK, {"verify": True, "record_id": "42"}),
    ]

    assert held_orders(tasks) == ["42", "7"]
    assert task_ids(tasks[:2]) == {"42": "t"}
    assert "buyer@example.com" not in tasks[0]["kwargs"]


def test_an_unfinished_order_ranks_beyond_the_bound() -> None:
    found = figures([0.4, None, 2.0, 1.0], 600.0)

    assert found["held"] == 4 and found["finished"] == 3 and found["unfinished"] == 1
    assert found["p50"] == 1.0
    assert found["p95"] is None and found["max"] is None


def test_every_order_finished_gives_plain_percentiles() -> None:
    seconds: list[float | None] = [float(s) for s in range(1, 21)]

    found = figures(seconds, 600.0)

    assert (found["p50"], found["p95"], found["max"], found["unfinished"]) == (10.0, 19.0, 20.0, 0)
    assert figures([], 600.0)["p95"] is None


def test_the_finish_is_the_first_ok_or_found_done_run_ending_after_the_kill() -> None:
    busy = "orders record 5 is being processed by another worker"
    runs = [
        (90.0, 99.0, "ok", "", "t1", "fetch,push"),  # before the kill: not this delivery
        (100.5, 121.0, "retry", busy, "t2", "fetch"),
        (400.0, 401.0, "ok", "", "t3", "fetch,push"),
        (300.0, 331.0, "ok", "", "t2", "fetch"),
    ]

    assert _finished(runs, 100.0) == runs[3]
    assert _finished(runs[:2], 100.0) is None
    # the killed task linked the order before it died: the run after it finds it done
    found_done = (101.0, 102.0, "skipped", "", "t2", "fetch")
    assert _finished([*runs[:2], found_done], 100.0) == found_done
    assert _finished([*runs[:2], (101.0, 102.0, "failed", "boom", "t2", "fetch")], 100.0) is None


def _result(seconds: list[float | None]) -> dict:
    shipped = {"broker_visibility_timeout": 1800, "lock_timeout": 330}
    return {"shipped_settings": shipped, "held_with_lock": 1, **figures(seconds, 600.0)}


def test_report_rows_give_rabbitmq_a_verdict_and_redis_the_figure() -> None:
    results = {
        "recovery": {
            "brokers": {
                "rabbitmq": _result([0.5, 1.0, TARGET_P95 + 280]),
                "redis": _result([None, None]),
            }
        }
    }

    rabbit, redis = rows(results)[-2:]

    assert rabbit[1].startswith("1/340/340 over 3 held; 1 with the killed task's lock")
    assert (rabbit[2], rabbit[3]) == (f"p95 <= {TARGET_P95:g}", "MISSED")
    assert redis[1].startswith(">600/>600/>600 over 2 held")
    assert "2 not finished within 600 s (bounded by the 1800 s visibility timeout)" in redis[1]
    assert (redis[2], redis[3]) == ("reported", "-")
    fast = {"recovery": {"brokers": {"rabbitmq": _result([0.5, 1.0])}}}
    assert rows(fast)[-1][3] == "met"


def test_a_broker_that_could_not_run_is_a_failed_row_beside_the_other() -> None:
    results = {
        "recovery": {
            "brokers": {
                "rabbitmq": {"broker": "rabbitmq", "error": "RuntimeError: rabbitmqctl add_vhost"},
                "redis": _result([None]),
            }
        }
    }

    rabbit, redis = rows(results)[-2:]

    assert rabbit[1:] == (
        "not measured: RuntimeError: rabbitmqctl add_vhost",
        "p95 <= 60",
        "FAILED",
    )
    assert redis[1].startswith(">600/>600/>600 over 1 held")
