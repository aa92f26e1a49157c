"""The chaos supervisor restarts what died; the killer kills on schedule; replays reorder."""

from __future__ import annotations

import random
import signal
import sys
import time
from pathlib import Path

from bench.processes import Proc
from chaos.pushes import replay_plan
from chaos.supervisor import Killer, Supervisor


def sleeper_factory(tmp_path: Path):
    started: list[Proc] = []

    def start(index: int) -> Proc:
        proc = Proc(
            f"sleeper{index}",
            [sys.executable, "-c", "import time; time.sleep(60)"],
            {},
            tmp_path / f"s{index}-{len(started)}.log",
        ).start()
        started.append(proc)
        return proc

    return start, started


def test_supervisor_restarts_only_the_dead_slot(tmp_path: Path) -> None:
    start, started = sleeper_factory(tmp_path)
    sup = Supervisor(start, log=lambda _: None)
    sup.launch(2)
    try:
        assert sup.check() == []
        first = sup.slots[0]
        first.signal_group(signal.SIGKILL)
        first.popen.wait(5)
        assert sup.check() == [0]
        assert sup.restarts == 1
        assert sup.slots[0] is not first and sup.slots[0].alive()
        assert sup.slots[1] is started[1]
    finally:
        sup.stop()
    assert not any(p.alive() for p in started)


def test_killer_kills_one_process_per_period(tmp_path: Path) -> None:
    start, _started = sleeper_factory(tmp_path)
    sup = Supervisor(start, log=lambda _: None)
    sup.launch(2)
    killer = Killer(sup, every=20, rng=random.Random(1), log=lambda _: None)
    try:
        assert killer.tick(100.0) is None  # the first period starts now
        assert killer.tick(110.0) is None
        victim = killer.tick(120.0)
        assert victim in {"sleeper0/main", "sleeper1/main"}
        deadline = time.monotonic() + 5
        while all(p.alive() for p in sup.slots) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum(p.alive() for p in sup.slots) == 1
        assert killer.tick(130.0) is None
        assert sup.check() != []
        assert all(p.alive() for p in sup.slots)
    finally:
        sup.stop()


def test_replay_plan_resends_everything_some_under_new_ids_in_another_order() -> None:
    notes = [
        ("shipments", {"Id": f"n{i}", "Inserted": [{"ShipmentNbr": str(i)}]}) for i in range(40)
    ]
    plan = replay_plan(notes, random.Random(3))
    assert sorted(b["Inserted"][0]["ShipmentNbr"] for _, b in plan) == sorted(
        str(i) for i in range(40)
    )
    same = sum(1 for _, b in plan if b["Id"] == "n" + b["Inserted"][0]["ShipmentNbr"])
    assert 0 < same < 40
    assert [b["Inserted"][0]["ShipmentNbr"] for _, b in plan] != [str(i) for i in range(40)]
