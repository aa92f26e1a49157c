"""Child processes of a proof run: start in their own process group, stop the whole group.

Every process a run starts (sandboxes, Redis, workers, beat, webhook receiver) is a ``Proc``;
a ``ProcessGroup`` stops them all in reverse order, also on Ctrl-C, SIGTERM or an exception.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready within {timeout:.0f}s")
        time.sleep(interval)


@dataclass
class Proc:
    """One child process (and its descendants: it leads its own process group)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> Proc:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(
            list(self.argv),
            env=dict(self.env),
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM to the group, SIGKILL after ``grace`` seconds; returns the exit code."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait(5)
        # Descendants that outlived their leader (pool children of a killed worker).
        self.signal_group(signal.SIGKILL)
        if self._log:
            self._log.close()
            self._log = None
        return self.popen.returncode

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class ProcessGroup:
    """Every process of a run; ``stop_all`` in reverse start order (idempotent)."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def add(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc.start()

    def remove(self, proc: Proc, grace: float = 15.0) -> None:
        proc.stop(grace)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self, grace: float = 15.0) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):  # keep stopping the others
                proc.stop(grace)
        self.procs.clear()


def install_signal_handlers() -> None:
    """SIGTERM behaves like Ctrl-C, so ``finally`` blocks stop every child."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
