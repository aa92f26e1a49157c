"""``make run``: every process of the engine on this machine, without Docker.

Starts the sandboxes (only for the systems with none of their settings configured: settings
without their URL stop the start, see ``settings.SYSTEMS``), a worker, beat, the webhook
receiver, Flower and the operations console. When the Acumatica side runs on its sandbox, the sandbox's push
notifications are wired to the receiver: one subscription per flow, carrying a secret generated
for this run. Prints which system is a sandbox and where each process is, restarts one that
dies, and on Ctrl-C (or SIGTERM) stops them all cleanly: workers get a warm shutdown, so
Acumatica sessions are signed out.

``--sandbox-urls`` runs the sandboxes at the configured ``XCART_BASE_URL`` and
``ACUMATICA_BASE_URL`` (loopback addresses, with the sandboxes' own credentials) instead of
their default ports, so a second environment (its own ``DATA_DIR``, ``REDIS_KEY_PREFIX`` and
ports) can run beside the first.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from sync_workers.celery import QUEUES
from sync_workers.observability.flower import is_loopback
from sync_workers.redaction import redact_url, reveal
from sync_workers.settings import (
    SANDBOX_ACUMATICA_CLIENT_SECRET,
    SANDBOX_ACUMATICA_PASSWORD,
    SANDBOX_ACUMATICA_USERNAME,
    SANDBOX_XCART_TOKEN,
    Settings,
    settings_or_exit,
)

STOP_GRACE_SECONDS = 20
START_WAIT_SECONDS = 30
RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 300.0
CONFIG_ERROR = 2
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
#: The sandbox's control surface answers in milliseconds; this only bounds a hung one.
CONTROL_TIMEOUT_SECONDS = 10
SYSTEM_NAMES = {"xcart": "X-Cart", "acumatica": "Acumatica"}


@dataclass
class Service:
    name: str
    argv: list[str]
    where: str
    ports: tuple[int, ...] = ()
    #: The other processes talk to it (the sandboxes), so it stops after them.
    serves_others: bool = False
    #: The whole environment of the process; None inherits this one's.
    env: dict[str, str] | None = field(default=None, repr=False)
    #: Printed after ``where`` in the banner only (a password made for the run).
    note: str = field(default="", repr=False)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restarts: list[float] = field(default_factory=list, repr=False)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, start_new_session=True, env=self.env)

    def may_restart(self, code: int | None, now: float) -> bool:
        """Whether to start this process again after it exited with ``code``."""
        if code == CONFIG_ERROR:
            return False
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_SECONDS]
        return len(self.restarts) < RESTART_LIMIT


def push_queries() -> dict[str, str]:
    """Flow → the inquiry whose push notifications it reads (inventory's from its template)."""
    from sync_workers.mapping.inventory import load_config
    from sync_workers.webhooks.acumatica import PUSH_QUERIES

    return {**PUSH_QUERIES, "inventory": load_config().push_query}


@dataclass(frozen=True)
class PushWiring:
    """Push notifications from the Acumatica sandbox to this run's webhook receiver.

    The secret is made for the run and reaches the receiver through its environment only; the
    sandbox keeps the subscriptions (by name, so the next run replaces them).
    """

    sandbox_url: str
    receiver_url: str
    header: str
    queries: Mapping[str, str]
    secret: str = field(repr=False)

    @classmethod
    def generate(cls, settings: Settings, sandbox_url: str, receiver_port: int) -> PushWiring:
        return cls(
            sandbox_url=sandbox_url,
            receiver_url=f"http://127.0.0.1:{receiver_port}",
            header=settings.webhook_acumatica_header,
            queries=push_queries(),
            secret=secrets.token_urlsafe(32),
        )

    def receiver_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in environ.items() if k != "WEBHOOK_ACUMATICA_SECRET_FILE"}
        env["WEBHOOK_ACUMATICA_SECRET"] = self.secret
        return env

    def subscriptions(self) -> list[dict[str, Any]]:
        return [
            {
                "name": f"sync_workers-{flow}",
                "url": f"{self.receiver_url}/webhooks/acumatica/{flow}",
                "queries": [query],
                "header_name": self.header,
                "header_value": self.secret,
                "active": True,
            }
            for flow, query in self.queries.items()
        ]

    def subscribe(self) -> None:
        """Add (or replace) every flow's subscription; raises ``requests.RequestException``."""
        with requests.Session() as http:
            for subscription in self.subscriptions():
                answer = http.post(
                    f"{self.sandbox_url}/_sandbox/push",
                    json=subscription,
                    timeout=CONTROL_TIMEOUT_SECONDS,
                )
                answer.raise_for_status()

    def unsubscribe(self) -> None:
        """Remove the subscriptions, so a sandbox started alone later does not push to a
        receiver that is gone. Best effort: the next run replaces them anyway."""
        try:
            with requests.Session() as http:
                for subscription in self.subscriptions():
                    http.post(
                        f"{self.sandbox_url}/_sandbox/push",
                        json={"delete": subscription["name"]},
                        timeout=2,
                    )
        except requests.RequestException:
            pass

    def describe(self) -> str:
        return ", ".join(f"{flow} ({query})" for flow, query in self.queries.items())


@dataclass
class Plan:
    services: list[Service]
    #: What each system is, for the banner: ``{"x-cart": "sandbox ...", "acumatica": ...}``.
    systems: dict[str, str] = field(default_factory=dict)
    #: Set when the Acumatica side runs on a sandbox started here.
    push: PushWiring | None = None
    #: Why push notifications are off, once a start has found out.
    push_problem: str | None = None


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "sync_workers", *args]


def foreign_credentials(settings: Settings, kind: str) -> list[str]:
    """The configured credentials of ``kind`` that are not its sandbox's own well-known ones."""
    if kind == "xcart":
        expected = {"XCART_API_TOKEN": SANDBOX_XCART_TOKEN}
    else:
        expected = {
            "ACUMATICA_USERNAME": SANDBOX_ACUMATICA_USERNAME,
            "ACUMATICA_PASSWORD": SANDBOX_ACUMATICA_PASSWORD,
            "ACUMATICA_CLIENT_SECRET": SANDBOX_ACUMATICA_CLIENT_SECRET,
        }
    configured = {name: reveal(getattr(settings, name.lower())) for name in expected}
    return [name for name, value in configured.items() if value not in (None, expected[name])]


def sandbox_ports(settings: Settings, *, at_configured_urls: bool = False) -> dict[str, int]:
    """The sandboxes to start and the port of each: those of the systems with none of their
    settings configured, or, ``at_configured_urls``, both, at their configured URLs (with the
    sandboxes' own credentials only). Raises ``ValueError`` for a URL no local sandbox can
    serve, or credentials that would go to a sandbox."""
    ports: dict[str, int] = {}
    for kind, url, default in (
        ("xcart", settings.xcart_base_url, settings.sandbox_xcart),
        ("acumatica", settings.acumatica_base_url, settings.sandbox_acumatica),
    ):
        if not (default or at_configured_urls):
            continue
        parts = urlsplit(url)
        if (
            parts.scheme != "http"
            or parts.hostname not in LOOPBACK_HOSTS
            or parts.port is None
            or parts.path not in ("", "/")
        ):
            raise ValueError(
                f"{kind.upper()}_BASE_URL must be http://127.0.0.1:<port> for its sandbox to run "
                f"there (got {redact_url(url)})"
            )
        foreign = foreign_credentials(settings, kind)
        if foreign:
            raise ValueError(
                f"{', '.join(foreign)}: not the {SYSTEM_NAMES[kind]} sandbox's own credentials, "
                "and --sandbox-urls sends no others to a sandbox (see docs/sandboxes/)"
            )
        ports[kind] = parts.port
    return ports


def describe_systems(settings: Settings, ports: Mapping[str, int]) -> dict[str, str]:
    """Banner lines saying which system is a sandbox started here and which a real one."""
    xcart, acumatica = settings.xcart_base_url, settings.acumatica_base_url
    return {
        "x-cart": (
            f"SANDBOX {xcart}/api (made-up data; token {SANDBOX_XCART_TOKEN})"
            if "xcart" in ports
            else f"real store {redact_url(xcart)}"
        ),
        "acumatica": (
            f"SANDBOX {acumatica}/entity (made-up data; "
            f"{SANDBOX_ACUMATICA_USERNAME} / {SANDBOX_ACUMATICA_PASSWORD})"
            if "acumatica" in ports
            else f"real instance {redact_url(acumatica)}"
        ),
    }


def plan(settings: Settings, *, at_configured_urls: bool = False) -> Plan:
    """The processes to start, in order, for these settings (``ValueError``: see
    :func:`sandbox_ports`)."""
    services: list[Service] = []
    ports = sandbox_ports(settings, at_configured_urls=at_configured_urls)
    if ports:
        argv = [
            sys.executable,
            "-m",
            "sandboxes",
            "--seed",
            "--data-dir",
            str(settings.data_dir / "sandboxes"),
        ]
        if len(ports) == 1:
            argv += ["--only", next(iter(ports))]
        where = []
        if "xcart" in ports:
            argv += ["--xcart-port", str(ports["xcart"])]
            where.append(f"X-Cart on {ports['xcart']}")
        if "acumatica" in ports:
            argv += ["--acumatica-port", str(ports["acumatica"])]
            where.append(f"Acumatica on {ports['acumatica']}")
        where.append(f"seeded, data in {settings.data_dir / 'sandboxes'}")
        services.append(
            Service(
                "sandboxes", argv, "; ".join(where), ports=tuple(ports.values()), serves_others=True
            )
        )
    receiver_port = settings.webhooks_port
    push = None
    if "acumatica" in ports:
        push = PushWiring.generate(settings, settings.acumatica_base_url, receiver_port)
    services += [
        Service(
            "worker",
            _celery("worker", "-l", "INFO", "-Q", ",".join(QUEUES), "-c", "2"),
            f"queues {', '.join(QUEUES)}",
        ),
        Service(
            "beat",
            _celery("beat", "-S", "redbeat.RedBeatScheduler", "-l", "INFO"),
            "RedBeat schedule in Redis",
        ),
        Service(
            "webhooks",
            [
                sys.executable,
                "-m",
                "sync_workers.webhooks",
                "--host",
                "127.0.0.1",
                "--port",
                str(receiver_port),
                "--workers",
                "1",
            ],
            f"http://127.0.0.1:{receiver_port} (/webhooks/acumatica/<flow>, /webhooks/xcart, "
            "/metrics)",
            ports=(receiver_port,),
            env=push.receiver_env(os.environ) if push else None,
        ),
        Service(
            "flower",
            [sys.executable, "-m", "sync_workers.observability.flower"],
            f"http://{settings.flower_address}:{settings.flower_port}",
            ports=(settings.flower_port,),
        ),
        console_service(settings),
    ]
    return Plan(services, describe_systems(settings, ports), push)


def console_service(settings: Settings) -> Service:
    """The operations console (a non-loopback address without ``CONSOLE_USERS`` is refused
    before anything starts). With no ``CONSOLE_USERS`` on loopback, one operator
    ``admin`` with a password made for this run: it reaches the console through its environment
    and is shown once, in the banner on this terminal (never in a log). A configured user's
    password is never shown."""
    argv = [sys.executable, "-m", "sync_workers.console", "--workers", "1"]
    where = f"http://{settings.console_address}:{settings.console_port}"
    service = Service("console", argv, where, ports=(settings.console_port,))
    if not settings.console_users and not is_loopback(settings.console_address):
        raise ValueError(
            f"CONSOLE_ADDRESS={settings.console_address} is not loopback: set CONSOLE_USERS "
            "(name:password:role), or leave CONSOLE_ADDRESS at 127.0.0.1"
        )
    if not settings.console_users:
        password = secrets.token_urlsafe(18)
        service.env = {k: v for k, v in os.environ.items() if k != "CONSOLE_USERS_FILE"}
        service.env["CONSOLE_USERS"] = f"admin:{password}:operator"
        service.note = f" (sign in as admin / {password}: made for this run)"
    return service


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start(run: Plan, stopping: Callable[[], bool] = lambda: False) -> str | None:
    """Start every process, each once its predecessors listen, then wire push notifications.
    Returns why nothing was started (a port in use), else None."""
    for service in run.services:
        for port in service.ports:
            if port_open(port):
                return (
                    f"port {port} is already in use; is another '{service.name}' running "
                    "(`make run`)? Stop it first."
                )
    for service in run.services:
        service.start()
        deadline = time.monotonic() + START_WAIT_SECONDS
        for port in service.ports:
            while not port_open(port) and time.monotonic() < deadline:
                if (service.proc and service.proc.poll() is not None) or stopping():
                    break
                time.sleep(0.2)
    if run.push:
        try:
            run.push.subscribe()
        except requests.RequestException as exc:
            run.push_problem = f"the Acumatica sandbox refused the subscriptions ({exc})"
    return None


def push_line(run: Plan) -> str:
    if run.push is None:
        return (
            "not wired here (Acumatica is a real instance: define its push notifications on "
            "SM302000, see docs/operations.md)"
        )
    if run.push_problem:
        return f"off: {run.push_problem}; changes arrive with the next poll"
    return f"on, Acumatica sandbox -> receiver for {run.push.describe()}"


def banner(settings: Settings, run: Plan) -> None:
    print("\nsync_workers is running (Ctrl-C stops everything):", flush=True)
    for system, what in run.systems.items():
        print(f"  {system:<10} {what}")
    print(f"  {'ledger':<10} {redact_url(settings.database_url.reveal())}")
    print(f"  {'redis':<10} {redact_url(settings.redis_url.reveal())}")
    if settings.broker_url.reveal() != settings.redis_url.reveal():
        print(f"  {'broker':<10} {redact_url(settings.broker_url.reveal())}")
    for service in run.services:
        print(f"  {service.name:<10} {service.where}{service.note}")
    print(f"  {'push':<10} {push_line(run)}")
    print(flush=True)


def stop(run: Plan) -> None:
    if run.push:
        run.push.unsubscribe()
    stop_all(run.services)


def stop_all(services: list[Service]) -> None:
    """SIGTERM each main process (a worker then shuts down warm, signing sessions out), newest
    first; whatever is still running after the grace period is killed with its children. The
    sandboxes stop only after the rest: a worker's last tasks and its sign-out still talk to
    them."""
    engine = [s for s in services if not s.serves_others]
    _stop([s for s in engine if s.proc and s.proc.poll() is None])
    _stop([s for s in services if s.serves_others and s.proc and s.proc.poll() is None])
    print("sync_workers: everything stopped", flush=True)


def _stop(running: list[Service]) -> None:
    for service in reversed(running):
        assert service.proc is not None
        service.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for service in running:
        assert service.proc is not None
        try:
            service.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.proc.pid, signal.SIGKILL)
            service.proc.wait()


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync_workers.devrun", description=__doc__)
    parser.add_argument(
        "--sandbox-urls",
        action="store_true",
        help="run the sandboxes at XCART_BASE_URL and ACUMATICA_BASE_URL (http://127.0.0.1:<port>)",
    )
    args = parser.parse_args(argv)
    settings = settings_or_exit()
    try:
        run = plan(settings, at_configured_urls=args.sandbox_urls)
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return CONFIG_ERROR
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        refusal = start(run, lambda: stopping)
        if refusal:
            print(f"sync_workers: {refusal}", file=sys.stderr)
            return 1
        banner(settings, run)
        if any(service.serves_others for service in run.services):  # a sandbox runs here
            from sync_workers.preflight.summary import run_summary

            print("\n".join(run_summary(settings)) + "\n", flush=True)
        while not stopping:
            if not supervise(run.services):
                return 1
            time.sleep(0.5)
        return 0
    finally:
        stop(run)


if __name__ == "__main__":
    raise SystemExit(main())
