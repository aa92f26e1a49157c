"""A private engine on this machine: its own Redis, sandboxes, ledger, workers, beat, receiver.

Everything lives under one temporary directory and on ports picked at start, so a run never
touches a developer's ``make run`` (8091/8092/6379) or the test suite. The engine is configured
only through environment variables (``Stack.env``), exactly as a deployment would be.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import yaml

from bench.processes import Proc, ProcessGroup, free_port, port_open, wait_until

REPO = Path(__file__).resolve().parent.parent
QUEUES = "orders,customers,payments,shipments,products,inventory,realtime"
#: The receiver's push secret, made for each run (the engine wants at least 32 characters).
WEBHOOK_SECRET = secrets.token_urlsafe(32)
_INHERITED = (
    "XCART_",
    "ACUMATICA_",
    "SENTRY_",
    "DATABASE_URL",
    "WEBHOOK",
    "REDIS_",
    "BROKER_URL",
    "POLL_",
)


def template_dir(target: Path, *, settle: float) -> Path:
    """The bundled mapping templates with the orders and shipments polls' settle time given."""
    from sync_workers.mapping import templates

    target.mkdir(parents=True, exist_ok=True)
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, target / path.name)
    for name in ("orders", "shipments"):
        path = target / f"{name}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data.setdefault("poll", {})["settle_seconds"] = settle
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


class Stack:
    """One isolated engine. Use as a context manager; every process stops on exit."""

    def __init__(
        self,
        *,
        name: str = "bench",
        keep: bool = False,
        redis_persistence: bool = False,
        orders_settle: float | None = None,
        extra_env: dict[str, str] | None = None,
        database: str | None = None,
        broker: str | None = None,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"sync-workers-{name}-"))
        #: ``sqlite`` (a file in the temp dir, the default) or ``postgres``: a database of its
        #: own on ``BENCH_POSTGRES`` (default the local server), dropped on close.
        self.database = database or os.environ.get("BENCH_DATABASE", "sqlite")
        self.postgres_db: str | None = None
        #: ``redis`` (the stack's own Redis, the default) or ``rabbitmq``: a vhost of its own on
        #: ``BENCH_AMQP`` (default the local server), deleted on close.
        self.broker = broker or os.environ.get("BENCH_BROKER", "redis")
        self.vhost: str | None = None
        self.keep = keep
        self.redis_persistence = redis_persistence
        self.group = ProcessGroup()
        self.xcart_port = free_port()
        self.acumatica_port = free_port()
        self.redis_port = free_port()
        self.webhooks_port = free_port()
        self.workers: list[Proc] = []
        self.beat: Proc | None = None
        self.webhooks: Proc | None = None
        self.redis: Proc | None = None
        self.sandboxes: Proc | None = None
        (self.root / "logs").mkdir()
        base = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
        self.env: dict[str, str] = {
            **base,
            "PYTHONPATH": str(REPO),
            "DATA_DIR": str(self.root / "data"),
            "DATABASE_URL": self._database_url(name),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "REDIS_KEY_PREFIX": f"{name}:",
            "XCART_BASE_URL": f"http://127.0.0.1:{self.xcart_port}",
            "XCART_API_TOKEN": "sandbox-rw",
            "XCART_REQUESTS_PER_MINUTE": "100000",
            "XCART_MAX_CONCURRENT": "16",
            "ACUMATICA_BASE_URL": f"http://127.0.0.1:{self.acumatica_port}",
            "ACUMATICA_USERNAME": "admin",
            "ACUMATICA_PASSWORD": "sandbox",
            "ACUMATICA_TENANT": "Company",
            "ACUMATICA_REQUESTS_PER_MINUTE": "100000",
            "ACUMATICA_MAX_CONCURRENT": "8",
            "ACUMATICA_MAX_SESSIONS": "1",
            "ACUMATICA_READ_TIMEOUT": "30",
            "XCART_READ_TIMEOUT": "30",
            "WEBHOOK_ACUMATICA_SECRET": WEBHOOK_SECRET,
            "WEBHOOKS_PORT": str(self.webhooks_port),
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",
            **(extra_env or {}),
        }
        if self.broker == "rabbitmq":
            self.env["BROKER_URL"] = self._rabbitmq_vhost(name)
        elif self.broker != "redis":
            raise ValueError(f"broker must be redis or rabbitmq, not {self.broker!r}")
        (self.root / "data").mkdir()
        if orders_settle is not None:
            # The bundled templates, but the orders and shipments polls settle this long.
            templates = str(template_dir(self.root / "templates", settle=orders_settle))
            self.env["MAPPING_TEMPLATES_DIR"] = templates

    def _database_url(self, name: str) -> str:
        if self.database == "sqlite":
            return f"sqlite:///{self.root / 'ledger.sqlite3'}"
        if self.database != "postgres":
            raise ValueError(f"database must be sqlite or postgres, not {self.database!r}")
        self.postgres_db = f"sync_workers_{name}_{os.getpid()}_{self.root.name[-8:]}".lower()
        self.postgres_db = "".join(c if c.isalnum() else "_" for c in self.postgres_db)
        _postgres_admin(f'CREATE DATABASE "{self.postgres_db}"')
        return f"{_postgres_server()}/{self.postgres_db}"

    def _rabbitmq_vhost(self, name: str) -> str:
        self.vhost = f"sync-workers-{name}-{os.getpid()}-{self.root.name[-8:]}".lower()
        user = unquote(urlsplit(_amqp_server()).username or "guest")
        _rabbitmqctl("add_vhost", self.vhost)
        _rabbitmqctl("set_permissions", "-p", self.vhost, user, ".*", ".*", ".*")
        return f"{_amqp_server()}/{quote(self.vhost, safe='')}"

    # -- life cycle ------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.group.stop_all()
        if self.postgres_db:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{self.postgres_db}" WITH (FORCE)')
        if self.vhost:
            _rabbitmqctl("delete_vhost", self.vhost)
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def apply_env(self) -> None:
        """Point this (harness) process's engine imports at the stack; call before importing."""
        for key in [k for k in os.environ if k.startswith(_INHERITED)]:
            del os.environ[key]
        os.environ.update(self.env)
        from sync_workers.settings import get_settings

        get_settings.cache_clear()

    def _proc(self, name: str, argv: list[str]) -> Proc:
        return Proc(name, argv, self.env, self.root / "logs" / f"{name}.log", cwd=REPO)

    def python(self, *args: str) -> list[str]:
        return [sys.executable, *args]

    # -- services --------------------------------------------------------------------------

    def start_redis(self) -> Proc:
        argv = [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--port", str(self.redis_port), "--bind", "127.0.0.1",
            "--dir", str(self.root), "--save", "",
            "--appendonly", "yes" if self.redis_persistence else "no",
            "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction",
            "--protected-mode", "no",
        ]  # fmt: skip
        self.redis = self.group.add(self._proc("redis", argv))
        wait_until(lambda: port_open(self.redis_port), 15, "redis")
        return self.redis

    def restart_redis(self) -> None:
        """Stop Redis (SIGTERM: it writes its AOF) and start it again on the same port."""
        assert self.redis is not None
        self.group.remove(self.redis)
        self.start_redis()

    def start_sandboxes(self, *, seed: bool = True) -> Proc:
        argv = self.python(
            "-m", "sandboxes",
            "--data-dir", str(self.root / "sandboxes"),
            "--xcart-port", str(self.xcart_port),
            "--acumatica-port", str(self.acumatica_port),
        )  # fmt: skip
        if seed:
            argv.append("--seed")
        self.sandboxes = self.group.add(self._proc("sandboxes", argv))
        for port in (self.xcart_port, self.acumatica_port):
            wait_until(lambda p=port: port_open(p), 60, f"sandbox on port {port}")
        return self.sandboxes

    def migrate(self) -> None:
        subprocess.run(
            self.python("-m", "sync_workers.ledger", "upgrade"),
            env=self.env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )

    def worker_argv(self, index: int, concurrency: int) -> list[str]:
        return self.python(
            "-m", "celery", "-A", "sync_workers", "worker",
            "-P", "prefork", "-c", str(concurrency), "-Q", QUEUES,
            "-n", f"w{index}@%h", "-l", "WARNING", "--without-gossip", "--without-mingle",
        )  # fmt: skip

    def start_worker(self, index: int, concurrency: int) -> Proc:
        proc = self.group.add(self._proc(f"worker{index}", self.worker_argv(index, concurrency)))
        self.workers.append(proc)
        return proc

    def stop_workers(self) -> None:
        for proc in self.workers:
            self.group.remove(proc, grace=30)
        self.workers.clear()

    def start_beat(self) -> Proc:
        argv = self.python(
            "-m", "celery", "-A", "sync_workers", "beat", "-S", "redbeat.RedBeatScheduler",
            "-l", "WARNING", "--max-interval", "1",
        )  # fmt: skip
        self.beat = self.group.add(self._proc("beat", argv))
        return self.beat

    def stop_beat(self) -> None:
        if self.beat is not None:
            self.group.remove(self.beat)
            self.beat = None

    def start_webhooks(self) -> Proc:
        argv = self.python("-m", "sync_workers.webhooks", "--port", str(self.webhooks_port))
        self.webhooks = self.group.add(self._proc("webhooks", argv))
        wait_until(lambda: port_open(self.webhooks_port), 30, "webhook receiver")
        return self.webhooks

    def start_console(self, port: int, workers: int = 2) -> Proc:
        """The operations console on ``port`` (its users from ``CONSOLE_USERS`` in ``env``);
        it groups the open dead letters before it listens."""
        argv = self.python(
            "-m", "sync_workers.console", "--port", str(port), "--workers", str(workers)
        )  # fmt: skip
        proc = self.group.add(self._proc("console", argv))
        wait_until(lambda: port_open(port), 300, "console")
        return proc

    def describe(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "redis_port": self.redis_port,
            "xcart": self.env["XCART_BASE_URL"],
            "acumatica": self.env["ACUMATICA_BASE_URL"],
        }


def _postgres_server() -> str:
    """Where ``--database postgres`` creates its databases (no database name, no secrets logged)."""
    return os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432").rstrip(
        "/"
    )


def _postgres_admin(statement: str) -> None:
    import psycopg

    url = _postgres_server().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{url}/postgres", autocommit=True) as db:
        db.execute(statement)


def _amqp_server() -> str:
    """Where ``--broker rabbitmq`` makes its vhosts (no vhost in it; never logged)."""
    return os.environ.get("BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672").rstrip("/")


def _rabbitmqctl(*args: str) -> None:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {args[0]}: {(done.stderr or done.stdout).strip()}")


def add_broker_option(parser: Any) -> None:
    """``--broker`` of ``python -m chaos``."""
    parser.add_argument(
        "--broker",
        choices=("redis", "rabbitmq"),
        default=None,
        help="the engine's broker: the stack's own Redis (default) or a fresh vhost on "
        "$BENCH_AMQP (default amqp://guest:guest@127.0.0.1:5672, through rabbitmqctl), deleted "
        "after",
    )


def use_broker(choice: str | None) -> None:
    """Make every ``Stack`` of this run use ``choice`` (``None``: ``$BENCH_BROKER`` or Redis)."""
    if choice:
        os.environ["BENCH_BROKER"] = choice


def add_database_option(parser: Any) -> None:
    """``--database`` of ``python -m bench`` and ``python -m chaos``."""
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default=None,
        help="the engine's ledger: a SQLite file (default) or a fresh PostgreSQL database on "
        "$BENCH_POSTGRES (default postgresql+psycopg://postgres@127.0.0.1:5432), dropped after",
    )


def use_database(choice: str | None) -> None:
    """Make every ``Stack`` of this run use ``choice`` (``None``: ``$BENCH_DATABASE`` or SQLite)."""
    if choice:
        os.environ["BENCH_DATABASE"] = choice
