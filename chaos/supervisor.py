"""A supervisor for worker processes, and the killer that tests it.

``Supervisor.check`` restarts any slot whose process died (and reaps what is left of its
process group); ``Killer`` picks a random live process of a random worker (the main process or
one of its pool children) and sends it SIGKILL. Both are driven by ``tick`` so they can be
tested without threads or clocks.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.measure import children
from bench.processes import Proc


@dataclass
class Supervisor:
    """Keeps ``len(slots)`` processes alive; ``start(index)`` makes the process of a slot."""

    start: Callable[[int], Proc]
    slots: list[Proc] = field(default_factory=list)
    restarts: int = 0
    log: Callable[[str], None] = print

    def launch(self, count: int) -> None:
        self.slots = [self.start(i) for i in range(count)]

    def check(self) -> list[int]:
        """Restart every dead slot; returns the restarted indexes."""
        restarted = []
        for index, proc in enumerate(self.slots):
            if proc.alive():
                continue
            proc.stop(grace=0)  # reap the group (orphaned pool children)
            self.slots[index] = self.start(index)
            self.restarts += 1
            restarted.append(index)
            self.log(f"supervisor: {proc.name} had exited; restarted")
        return restarted

    def stop(self) -> None:
        for proc in self.slots:
            proc.stop(grace=30)


@dataclass
class Killer:
    """SIGKILL to a random worker process every ``every`` seconds (``tick`` decides when)."""

    supervisor: Supervisor
    every: float
    rng: random.Random = field(default_factory=lambda: random.Random(97))
    kills: list[str] = field(default_factory=list)
    next_at: float | None = None
    log: Callable[[str], None] = print

    def candidates(self) -> list[tuple[str, int]]:
        found = []
        for proc in self.supervisor.slots:
            if not proc.alive():
                continue
            found.append((f"{proc.name}/main", proc.pid))
            found += [(f"{proc.name}/child", pid) for pid in children(proc.pid)]
        return found

    def tick(self, now: float) -> str | None:
        if self.next_at is None:
            self.next_at = now + self.every
        if now < self.next_at:
            return None
        self.next_at = now + self.every
        choices = self.candidates()
        if not choices:
            return None
        name, pid = self.rng.choice(choices)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        self.kills.append(name)
        self.log(f"chaos: SIGKILL {name} (pid {pid})")
        return name
