from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_workers.cursor import MemoryCursorStorage, PollCursor, Window

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OVERLAP = timedelta(seconds=60)
SETTLE = timedelta(seconds=10)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def cursor(storage, clock, **kwargs) -> PollCursor:
    return PollCursor(
        storage, "orders", "xcart->acumatica", overlap=OVERLAP, settle=SETTLE, clock=clock, **kwargs
    )


def test_window_is_position_minus_overlap_to_now_minus_settle():
    storage, clock = MemoryCursorStorage(), Clock(T0)
    first = cursor(storage, clock, start_at=T0 - timedelta(hours=1))
    assert first.window() == Window(T0 - timedelta(hours=1) - OVERLAP, T0 - SETTLE)
    first.commit()
    clock.now = T0 + timedelta(minutes=5)
    second = cursor(storage, clock)
    assert second.window() == Window(T0 - SETTLE - OVERLAP, clock.now - SETTLE)


def test_first_poll_without_start_reads_everything_up_to_settle():
    storage, clock = MemoryCursorStorage(), Clock(T0)
    poll = cursor(storage, clock)
    assert poll.window().start is None
    assert poll.accept(1, "v", T0 - timedelta(days=999))
    assert not poll.accept(2, "v", T0 - timedelta(seconds=5))  # still settling


def test_record_seen_in_the_overlap_is_not_handled_twice():
    storage, clock = MemoryCursorStorage(), Clock(T0)
    poll = cursor(storage, clock)
    moment = T0 - timedelta(seconds=30)
    assert poll.accept(7, moment, moment)
    poll.commit()
    clock.now = T0 + timedelta(seconds=20)
    again = cursor(storage, clock)
    # Same instant written with another offset is the same version.
    assert not again.accept(
        7, moment.astimezone(timezone(timedelta(hours=-5))), "2025-12-31T23:59:30+0000"
    )
    assert again.accept(7, "new-hash", moment)


def test_cursor_does_not_move_without_commit():
    storage, clock = MemoryCursorStorage(), Clock(T0)
    poll = cursor(storage, clock, start_at=T0 - timedelta(hours=1))
    poll.accept(1, "a", T0 - timedelta(minutes=30))
    assert storage.get("orders", "xcart->acumatica") is None
    clock.now = T0 + timedelta(hours=1)
    assert cursor(storage, clock, start_at=T0 - timedelta(hours=1)).window().start == (
        T0 - timedelta(hours=1) - OVERLAP
    )


def test_checkpoint_moves_to_handled_time_and_never_back():
    storage, clock = MemoryCursorStorage(), Clock(T0)
    poll = cursor(storage, clock, start_at=T0 - timedelta(hours=1))
    poll.checkpoint(T0 - timedelta(minutes=30))
    poll.checkpoint(T0 - timedelta(minutes=40))
    state = json.loads(storage.get("orders", "xcart->acumatica"))
    assert state["position"] == (T0 - timedelta(minutes=30)).isoformat()


def test_seen_keys_older_than_the_overlap_are_pruned():
    storage, clock = MemoryCursorStorage(), Clock(T0)
    poll = cursor(storage, clock)
    poll.accept("old", 1, T0 - timedelta(hours=2))
    poll.accept("recent", 1, T0 - timedelta(seconds=30))
    poll.commit()
    seen = json.loads(storage.get("orders", "xcart->acumatica"))["seen"]
    assert [key.split("\x1f")[0] for key in seen] == ["recent"]


SWEEP = timedelta(seconds=30)


def test_between_sweeps_a_poll_reads_from_the_position_only():
    storage, clock = MemoryCursorStorage(), Clock(T0)
    first = cursor(storage, clock, start_at=T0 - timedelta(hours=1), sweep_every=SWEEP)
    assert first.window().start == T0 - timedelta(hours=1) - OVERLAP
    assert first.sweeping  # no sweep on record yet
    first.commit()
    clock.now = T0 + timedelta(seconds=5)
    idle = cursor(storage, clock, sweep_every=SWEEP)
    assert idle.window() == Window(T0 - SETTLE, clock.now - SETTLE)
    assert not idle.sweeping
    idle.commit()
    clock.now = T0 + SWEEP
    sweep = cursor(storage, clock, sweep_every=SWEEP)
    # From the end of the last sweep (the first poll's), less the overlap: not from the position.
    assert sweep.window() == Window(T0 - SETTLE - OVERLAP, clock.now - SETTLE)
    assert sweep.sweeping
    sweep.commit()
    assert json.loads(storage.get("orders", "xcart->acumatica"))["swept"] == (
        (clock.now - SETTLE).isoformat()
    )


def test_a_late_record_missed_between_sweeps_comes_with_the_next_sweep_once():
    storage, clock = MemoryCursorStorage(), Clock(T0)
    cursor(storage, clock, start_at=T0 - timedelta(hours=1), sweep_every=SWEEP).commit()
    late = T0 - SETTLE + timedelta(seconds=2)  # updated then, visible only after the next poll
    clock.now = T0 + timedelta(seconds=10)
    idle = cursor(storage, clock, sweep_every=SWEEP)
    assert idle.window().start == T0 - SETTLE
    assert not idle.sweeping
    assert idle.accept("early", 1, T0 - timedelta(seconds=5))  # "late" is not visible yet
    idle.commit()
    clock.now = T0 + timedelta(seconds=20)
    idle = cursor(storage, clock, sweep_every=SWEEP)
    assert late not in idle.window()  # too late for the poll that read its second
    assert not idle.sweeping
    idle.commit()
    clock.now = T0 + timedelta(seconds=40)
    sweep = cursor(storage, clock, sweep_every=SWEEP)
    assert sweep.sweeping
    assert sweep.accept("late", 1, late)
    assert not sweep.accept("early", 1, T0 - timedelta(seconds=5))  # kept since its poll
    sweep.commit()
    clock.now = T0 + timedelta(seconds=80)
    again = cursor(storage, clock, sweep_every=SWEEP)
    assert again.sweeping
    assert not again.accept("late", 1, late)


def test_the_keys_since_the_last_sweep_are_kept_until_the_next():
    storage, clock = MemoryCursorStorage(), Clock(T0)
    first = cursor(storage, clock, start_at=T0 - timedelta(hours=1), sweep_every=SWEEP)
    first.accept("swept", 1, T0 - SETTLE - OVERLAP)
    first.commit()
    clock.now = T0 + timedelta(seconds=25)
    idle = cursor(storage, clock, sweep_every=SWEEP)
    assert idle.window().start == T0 - SETTLE
    assert not idle.sweeping
    idle.commit()  # its position is past the first one's: the overlap alone would drop the key
    seen = json.loads(storage.get("orders", "xcart->acumatica"))["seen"]
    assert [key.split("\x1f")[0] for key in seen] == ["swept"]


@pytest.mark.parametrize("sweep", [None, SWEEP])
@pytest.mark.parametrize("later_saves_first", [True, False])
def test_two_runs_of_one_poll_keep_each_others_keys_and_never_move_back(sweep, later_saves_first):
    storage, clock = MemoryCursorStorage(), Clock(T0)
    cursor(storage, clock, start_at=T0 - timedelta(hours=1), sweep_every=sweep).commit()
    clock.now = T0 + timedelta(seconds=40)
    early = cursor(storage, clock, sweep_every=sweep)  # a poll, and a follow-up that overlaps
    early.window()
    clock.now = T0 + timedelta(seconds=50)
    later = cursor(storage, clock, sweep_every=sweep)
    later.window()
    assert early.accept("a", 1, T0 + timedelta(seconds=20))
    assert later.accept("b", 1, T0 + timedelta(seconds=35))
    for poll in (later, early) if later_saves_first else (early, later):
        poll.commit()

    state = json.loads(storage.get("orders", "xcart->acumatica"))
    assert state["position"] == (T0 + timedelta(seconds=40)).isoformat()  # the later end
    assert state["swept"] >= (T0 + timedelta(seconds=30)).isoformat()  # the early one swept
    clock.now = T0 + timedelta(seconds=200)
    after = cursor(storage, clock, sweep_every=sweep)
    assert after.sweeping
    assert not after.accept("a", 1, T0 + timedelta(seconds=20))
    assert not after.accept("b", 1, T0 + timedelta(seconds=35))


def test_a_negative_sweep_is_refused():
    with pytest.raises(ValueError, match="sweep_every"):
        cursor(MemoryCursorStorage(), Clock(T0), sweep_every=timedelta(seconds=-1))


offsets = st.sampled_from([0, -5 * 60, 3 * 60, 5 * 60 + 30, -(9 * 60 + 30)])


@st.composite
def scenarios(draw):
    """Records (many sharing one instant, written with mixed offsets) that become visible up to
    settle + overlap late, and polls at random times."""
    instants = draw(st.lists(st.integers(0, 600), min_size=1, max_size=8))
    records = []
    for rid in range(draw(st.integers(1, 60))):
        updated = T0 + timedelta(seconds=draw(st.sampled_from(instants)))
        delay = draw(st.integers(0, int((SETTLE + OVERLAP).total_seconds())))
        offset = timezone(timedelta(minutes=draw(offsets)))
        records.append((rid, updated, updated + timedelta(seconds=delay), offset))
    polls = sorted(draw(st.lists(st.integers(0, 900), min_size=1, max_size=25)))
    return records, [*polls, 2000]  # a last poll once everything is visible


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.sampled_from([None, 1, 30, 45, 200]))
def test_every_record_is_delivered_exactly_once(scenario, sweep_seconds):
    records, polls = scenario
    sweep = None if sweep_seconds is None else timedelta(seconds=sweep_seconds)
    storage, clock = MemoryCursorStorage(), Clock(T0)
    delivered: list[int] = []
    for at in polls:
        clock.now = T0 + timedelta(seconds=at)
        poll = cursor(storage, clock, start_at=T0 - timedelta(hours=1), sweep_every=sweep)
        window = poll.window()
        visible = [r for r in records if r[2] <= clock.now and r[1] in window]
        for rid, updated, _, offset in reversed(visible):
            text = updated.astimezone(offset).strftime("%Y-%m-%dT%H:%M:%S%z")
            if poll.accept(rid, updated.astimezone(offset), text):
                delivered.append(rid)
        poll.commit()
    assert len(delivered) == len(set(delivered)), "a record was delivered twice"
    assert sorted(delivered) == [r[0] for r in records], "a record was lost"
