"""Several readers' Redis reads in one round trip, in the real Redis."""

from __future__ import annotations

from sync_workers.redis_client import prefixed, read_together


def test_readers_share_one_round_trip_and_each_gets_its_own_replies(
    redis_client, pipeline_trips
) -> None:
    redis_client.set(prefixed("rt", "a"), "1")
    redis_client.sadd(prefixed("rt", "s"), "x", "y")
    trips = pipeline_trips

    def first(pipe):
        pipe.get(prefixed("rt", "a"))
        pipe.exists(prefixed("rt", "missing"))
        return lambda replies: ("first", replies)

    def nothing(pipe):
        return lambda replies: ("nothing", replies)

    def second(pipe):
        pipe.smismember(prefixed("rt", "s"), ["y", "z"])
        return lambda replies: ("second", replies)

    assert read_together(first, nothing, second) == [
        ("first", ["1", 0]),
        ("nothing", []),
        ("second", [[1, 0]]),
    ]
    assert trips == [3]
    assert read_together(nothing) == [("nothing", [])]
    assert trips == [3]  # nothing queued: no round trip at all
