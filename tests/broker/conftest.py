"""RabbitMQ for the broker tests: one vhost per test (made and deleted with ``rabbitmqctl``),
and the engine's worker processes started as ``make worker`` starts them.

``TEST_AMQP_URL`` names the RabbitMQ (default ``amqp://guest:guest@127.0.0.1:5672``, its vhost
left out). Under ``CI=true`` a RabbitMQ that cannot be reached, or no ``rabbitmqctl`` to make a
vhost with, fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

from sync_workers.celery import QUEUES
from tests.conftest import rabbitmqctl

ROOT = Path(__file__).resolve().parents[2]
#: Limits of the workers these tests start: a task of a killed worker holds its records' locks
#: for LOCK_TIMEOUT, and the retry budget (RETRY_MAX retries backing off from 1 s up to 4 s,
#: at least 25 s) outlasts it, as the shipped defaults' does.
WORKER_ENV = {
    "TASK_SOFT_TIME_LIMIT": "12",
    "TASK_TIME_LIMIT": "15",
    "LOCK_TIMEOUT": "17",
    "RETRY_MAX": "12",
    "RETRY_BACKOFF_BASE": "1",
    "RETRY_BACKOFF_MAX": "4",
    "BROKER_VISIBILITY_TIMEOUT": "60",
    "LOG_FORMAT": "text",
}


@pytest.fixture
def vhost(rabbitmq: str) -> Iterator[str]:
    """``BROKER_URL`` of a vhost made for this test; deleted (queues, exchanges and all) after."""
    name = f"sync-test-{uuid.uuid4().hex[:10]}"
    user = unquote(urlsplit(rabbitmq).username or "guest")
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        yield f"{rabbitmq}/{quote(name, safe='')}"
    finally:
        rabbitmqctl("delete_vhost", name)


def queue_messages(broker_url: str) -> dict[str, int]:
    """Ready messages in each queue of the vhost of ``broker_url``, as RabbitMQ counts them."""
    name = unquote(urlsplit(broker_url).path.lstrip("/"))
    out = rabbitmqctl("list_queues", "-p", name, "name", "messages", "type")
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def queue_types(broker_url: str) -> dict[str, str]:
    name = unquote(urlsplit(broker_url).path.lstrip("/"))
    out = rabbitmqctl("list_queues", "-p", name, "name", "type")
    return dict(line.split() for line in out.splitlines() if len(line.split()) == 2)


@dataclass
class Worker:
    """``celery -A sync_workers worker`` (prefork) in its own process group."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited: {self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not in {self.name}'s log: {self.text()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the whole worker: its main process and its pool processes at once."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # pool processes left behind, if any
        self.proc.wait(timeout=10)


def engine_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **WORKER_ENV, **extra}


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Starts workers as ``make worker`` does (every queue, prefork), stopped after the test."""
    workers: list[Worker] = []

    def start(name: str, concurrency: int = 2, **env: str) -> Worker:
        log = tmp_path / f"{name}.log"
        argv = [
            *(sys.executable, "-m", "celery", "-A", "sync_workers", "worker"),
            *("-l", "INFO", "-Q", ",".join(QUEUES), "-P", "prefork"),
            *("-c", str(concurrency), "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h"),
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=engine_env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(name, proc, log)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def engine_command(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    """An engine command line (``celery -A sync_workers ...``) with the workers' environment."""
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "sync_workers", *args],
        cwd=ROOT,
        env=engine_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
