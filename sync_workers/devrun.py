"""``make run``: every process of the engine on this machine, without Docker.

Starts the sandboxes (only for the systems with no real credentials configured), a worker and
Flower, and any further process whose subsystem is installed (beat, webhook receiver). Prints
where each one is, and on Ctrl-C (or SIGTERM) stops them all cleanly: workers get a warm shutdown,
so Acumatica sessions are signed out.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from sync_workers.celery import QUEUES
from sync_workers.redaction import redact_url
from sync_workers.settings import Settings, settings_or_exit

STOP_GRACE_SECONDS = 20
RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 300.0
CONFIG_ERROR = 2


@dataclass
class Service:
    name: str
    argv: list[str]
    where: str
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restarts: list[float] = field(default_factory=list, repr=False)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, start_new_session=True)

    def may_restart(self, code: int | None, now: float) -> bool:
        """Whether to start this process again after it exited with ``code``."""
        if code == CONFIG_ERROR:
            return False
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_SECONDS]
        return len(self.restarts) < RESTART_LIMIT


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "sync_workers", *args]


def plan(settings: Settings) -> list[Service]:
    """The processes to start, in order, for these settings."""
    services: list[Service] = []
    only = None
    if settings.sandbox_xcart != settings.sandbox_acumatica:
        only = "xcart" if settings.sandbox_xcart else "acumatica"
    if settings.sandbox_xcart or settings.sandbox_acumatica:
        argv = [
            sys.executable,
            "-m",
            "sync_workers.sandboxes",
            "--seed",
            "--data-dir",
            str(settings.data_dir / "sandboxes"),
        ]
        if only:
            argv += ["--only", only]
        where = []
        if settings.sandbox_xcart:
            where.append(f"X-Cart {settings.xcart_base_url}/api (token sandbox-rw)")
        if settings.sandbox_acumatica:
            where.append(f"Acumatica {settings.acumatica_base_url}/entity (admin / sandbox)")
        port = 8091 if settings.sandbox_xcart else 8092
        services.append(Service("sandboxes", argv, "; ".join(where), port=port))
    services.append(
        Service(
            "worker",
            _celery("worker", "-l", "INFO", "-Q", ",".join(QUEUES), "-c", "2"),
            f"queues {', '.join(QUEUES)}",
        )
    )
    if importlib.util.find_spec("schedules.beat") is not None:
        services.append(
            Service(
                "beat",
                _celery("beat", "-S", "redbeat.RedBeatScheduler", "-l", "INFO"),
                "RedBeat schedule in Redis",
            )
        )
    if importlib.util.find_spec("sync_workers.webhooks") is not None:
        port = settings.webhooks_port
        services.append(
            Service(
                "webhooks",
                [
                    sys.executable,
                    "-m",
                    "sync_workers.webhooks",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    "1",
                ],
                f"http://127.0.0.1:{port} (/webhooks/acumatica/<flow>, /webhooks/xcart, /metrics)",
                port=port,
            )
        )
    services.append(
        Service(
            "flower",
            [sys.executable, "-m", "sync_workers.observability.flower"],
            f"http://{settings.flower_address}:{settings.flower_port}",
            port=settings.flower_port,
        )
    )
    return services


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop_all(services: list[Service]) -> None:
    """SIGTERM each main process (a worker then shuts down warm, signing sessions out), newest
    first; whatever is still running after the grace period is killed with its children."""
    running = [s for s in services if s.proc and s.proc.poll() is None]
    for service in reversed(running):
        assert service.proc is not None
        service.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for service in running:
        assert service.proc is not None
        try:
            service.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(service.proc.pid, signal.SIGKILL)
    print("sync_workers: everything stopped", flush=True)


def supervise(services: list[Service]) -> bool:
    """Start again whatever died; False when something must not be restarted."""
    for service in services:
        if service.proc is None or service.proc.poll() is None:
            continue
        code = service.proc.returncode
        now = time.monotonic()
        if not service.may_restart(code, now):
            why = (
                "a configuration error"
                if code == CONFIG_ERROR
                else (f"{RESTART_LIMIT} restarts in {RESTART_WINDOW_SECONDS:.0f}s")
            )
            print(
                f"sync_workers: {service.name} exited with code {code} ({why});"
                " stopping everything",
                file=sys.stderr,
                flush=True,
            )
            return False
        service.restarts.append(now)
        print(
            f"sync_workers: {service.name} exited with code {code}; starting it again"
            f" ({len(service.restarts)}/{RESTART_LIMIT} in {RESTART_WINDOW_SECONDS:.0f}s)",
            file=sys.stderr,
            flush=True,
        )
        service.start()
    return True


def main() -> int:
    settings = settings_or_exit()
    services = plan(settings)
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for service in services:
            if service.port and port_open(service.port):
                print(
                    f"sync_workers: port {service.port} is already in use; is another "
                    f"'{service.name}' running? Stop it first.",
                    file=sys.stderr,
                )
                return 1
            service.start()
            if service.port:
                deadline = time.monotonic() + 30
                while not port_open(service.port) and time.monotonic() < deadline:
                    if (service.proc and service.proc.poll() is not None) or stopping:
                        break
                    time.sleep(0.2)
        print("\nsync_workers is running (Ctrl-C stops everything):", flush=True)
        print(f"  {'ledger':<10} {redact_url(settings.database_url.reveal())}")
        print(f"  {'redis':<10} {redact_url(settings.redis_url.reveal())}")
        for service in services:
            print(f"  {service.name:<10} {service.where}")
        print(flush=True)
        while not stopping:
            if not supervise(services):
                return 1
            time.sleep(0.5)
        return 0
    finally:
        stop_all(services)


if __name__ == "__main__":
    raise SystemExit(main())
