"""Coalescing in the real Redis: the first change flushes at once, later ones once per window."""

from __future__ import annotations

import time

from sync_workers.flows.coalesce import Coalescer


def test_first_change_flushes_at_once_and_repeats_wait_for_the_pending_flush(redis_client) -> None:
    coalescer = Coalescer("test-coalesce", 0.5)

    assert coalescer.schedule(["A", "B", "A"]) == [("A", 0.0), ("B", 0.0)]
    assert coalescer.schedule(["A", "B"]) == []  # both flushes are still on their way


def test_a_change_after_a_flush_waits_for_the_end_of_the_window(redis_client) -> None:
    coalescer = Coalescer("test-coalesce", 0.5)
    coalescer.schedule(["A"])

    coalescer.begin_flush("A")
    (key, countdown), *rest = coalescer.schedule(["A"])

    assert key == "A" and not rest
    assert 0.3 < countdown <= 0.5
    assert coalescer.schedule(["A"]) == []


def test_once_the_window_has_passed_the_next_change_flushes_at_once(redis_client) -> None:
    coalescer = Coalescer("test-coalesce", 0.2)
    coalescer.schedule(["A"])
    coalescer.begin_flush("A")

    time.sleep(0.3)

    assert coalescer.schedule(["A"]) == [("A", 0.0)]


def test_a_zero_window_never_delays(redis_client) -> None:
    coalescer = Coalescer("test-coalesce", 0)
    coalescer.schedule(["A"])
    coalescer.begin_flush("A")

    assert coalescer.schedule(["A"]) == [("A", 0.0)]


def test_mark_hands_out_the_keys_not_already_waiting_whatever_the_cool_down(redis_client) -> None:
    coalescer = Coalescer("test-coalesce", 5)
    coalescer.schedule(["A"])
    coalescer.begin_flush("A")

    assert coalescer.mark(["A", "B", "B"]) == ["A", "B"]
    assert coalescer.mark(["A", "B"]) == []
