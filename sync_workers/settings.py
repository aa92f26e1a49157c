"""One settings object, read from environment variables and validated at start-up.

Every variable is declared once in ``VARIABLES`` (name, type, default, meaning); `.env.example` and
the README's configuration table are checked against that list by the tests. A bad variable gives
one line naming it and what is wrong; secrets are wrapped in :class:`Secret` so they never show in
``repr``, logs or errors, and each can also be read from a ``<NAME>_FILE`` path (Docker secrets).

A remote system with none of its instance settings (``SYSTEMS``) runs on its sandbox; any of them
without the system's URL is a bad configuration, so real credentials never reach a sandbox.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from sync_workers.redaction import Secret, redact_url

SANDBOX_XCART_URL = "http://127.0.0.1:8091"
SANDBOX_ACUMATICA_URL = "http://127.0.0.1:8092"
#: The sandboxes' own, well-known credentials (see docs/sandboxes/).
SANDBOX_XCART_TOKEN = "sandbox-rw"
SANDBOX_ACUMATICA_USERNAME = "admin"
SANDBOX_ACUMATICA_PASSWORD = "sandbox"
SANDBOX_ACUMATICA_TENANT = "Company"
SANDBOX_ACUMATICA_CLIENT_SECRET = "sandbox"
#: Request budget against the sandboxes, which have no per-minute quota by default (a real
#: Acumatica licence's is far lower; a hosted store's is unknown, hence the polite 600).
SANDBOX_REQUESTS_PER_MINUTE = 6000

#: Shortest secrets accepted for the engine's own endpoints: the webhook receiver's shared
#: secrets and Flower's passwords. The remote systems' credentials are theirs to choose.
WEBHOOK_SECRET_MIN_LENGTH = 32
PASSWORD_MIN_LENGTH = 12


@dataclass(frozen=True)
class System:
    """A remote system and the settings that describe a real instance of it.

    Any of ``instance`` given (a value other than its default) means a real instance was meant,
    so its URL is required: the engine never sends them to the sandbox that stands in for a
    system with none of them.
    """

    name: str
    url: str
    instance: tuple[str, ...]


XCART = System("X-Cart", "XCART_BASE_URL", ("XCART_API_TOKEN",))
ACUMATICA = System(
    "Acumatica",
    "ACUMATICA_BASE_URL",
    (
        "ACUMATICA_USERNAME",
        "ACUMATICA_PASSWORD",
        "ACUMATICA_TENANT",
        "ACUMATICA_BRANCH",
        "ACUMATICA_AUTH_MODE",
        "ACUMATICA_CLIENT_ID",
        "ACUMATICA_CLIENT_SECRET",
    ),
)
SYSTEMS = (XCART, ACUMATICA)


@dataclass(frozen=True)
class Variable:
    name: str
    field: fields.Field
    default: str | None
    help: str
    secret: bool = False


def _int(minimum: int = 0, maximum: int | None = None) -> fields.Integer:
    return fields.Integer(strict=False, validate=validate.Range(min=minimum, max=maximum))


def _float(minimum: float = 0.0) -> fields.Float:
    return fields.Float(validate=validate.Range(min=minimum))


def _url(schemes: set[str]) -> fields.String:
    def check(value: str) -> None:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not (parts.netloc or parts.path):
            raise ValidationError(f"must be a URL with scheme {' or '.join(sorted(schemes))}")

    return fields.String(validate=check)


def _broker_url() -> fields.String:
    """Redis (as ``REDIS_URL``) or RabbitMQ: ``amqp[s]://user:password@host[:port][/vhost]``."""
    schemes = _REDIS | _AMQP

    def check(value: str) -> None:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not (parts.netloc or parts.path):
            raise ValidationError(f"must be a URL with scheme {' or '.join(sorted(schemes))}")
        if parts.scheme in _AMQP:
            try:
                parts.port  # noqa: B018 (reading it checks it)
            except ValueError:
                raise ValidationError("has a port that is not a number from 0 to 65535") from None
            if not parts.hostname:
                raise ValidationError(
                    "must name RabbitMQ's host: amqp://user:password@host:5672/vhost"
                )

    return fields.String(validate=check)


def _secret_of_length(minimum: int) -> fields.String:
    return fields.String(
        validate=validate.Length(
            min=minimum,
            error=f"must be at least {minimum} characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one)",
        )
    )


def _check_basic_auth(value: str) -> None:
    """``user:password``, or several separated by commas (as Flower reads them)."""
    for entry in value.split(","):
        user, colon, password = entry.partition(":")
        if not user or not colon or not password:
            raise ValidationError("must be user:password")
        if len(password) < PASSWORD_MIN_LENGTH:
            raise ValidationError(
                f"each password must be at least {PASSWORD_MIN_LENGTH} characters"
            )


def _check_console_users(value: str) -> None:
    """``name:password:role``, several separated by commas (see ``sync_workers.console.users``)."""
    from sync_workers.console.users import UsersError, parse_users

    try:
        parse_users(value)
    except UsersError as exc:
        raise ValidationError(str(exc)) from None


_HTTP = {"http", "https"}
_REDIS = {"redis", "rediss", "unix"}
_AMQP = {"amqp", "amqps"}

VARIABLES: tuple[Variable, ...] = (
    # Storage and broker
    Variable(
        "DATA_DIR",
        fields.String(),
        "data",
        "Directory for the embedded SQLite ledger and sandbox data",
    ),
    Variable(
        "DATABASE_URL",
        fields.String(validate=validate.Length(min=1)),
        None,
        "SQLAlchemy URL of the ledger; default: SQLite file in DATA_DIR",
        secret=True,
    ),
    Variable(
        "REDIS_URL",
        _url(_REDIS),
        "redis://127.0.0.1:6379/0",
        "Redis for the broker, locks, shared limits and the dead-letter queue",
        secret=True,
    ),
    Variable(
        "BROKER_URL",
        _broker_url(),
        None,
        "Celery broker: amqp://user:password@host:5672/vhost runs the tasks on RabbitMQ (quorum "
        "queues, one vhost per engine); default: REDIS_URL (docs/brokers.md)",
        secret=True,
    ),
    Variable(
        "REDIS_KEY_PREFIX",
        fields.String(validate=validate.Length(min=1, max=40)),
        "sync:",
        "Prefix of every Redis key the engine writes (broker keys included)",
    ),
    # X-Cart
    Variable(
        "XCART_BASE_URL",
        _url(_HTTP),
        None,
        "Store URL (API under /api); required with XCART_API_TOKEN; with neither set: the "
        f"X-Cart sandbox at {SANDBOX_XCART_URL}",
    ),
    Variable(
        "XCART_API_TOKEN",
        fields.String(validate=validate.Length(min=1)),
        None,
        "X-Cart read/write API key; required with XCART_BASE_URL",
        secret=True,
    ),
    Variable(
        "XCART_REQUESTS_PER_MINUTE",
        _int(1),
        "600",
        "Fleet-wide cap on X-Cart requests per minute (6000 on the sandbox)",
    ),
    Variable("XCART_MAX_CONCURRENT", _int(1), "8", "Fleet-wide cap on concurrent X-Cart requests"),
    Variable(
        "XCART_TRACKING_ENDPOINT",
        fields.Boolean(),
        "false",
        "The store has the tracking-number module (POST /api/orders/{id}/tracking_numbers)",
    ),
    # Acumatica
    Variable(
        "ACUMATICA_BASE_URL",
        _url(_HTTP),
        None,
        "Instance URL; required with any of ACUMATICA_USERNAME, _PASSWORD, _TENANT, _BRANCH, "
        "_CLIENT_ID, _CLIENT_SECRET or _AUTH_MODE=oauth; with none of them set: the Acumatica "
        f"sandbox at {SANDBOX_ACUMATICA_URL}",
    ),
    Variable(
        "ACUMATICA_USERNAME",
        fields.String(validate=validate.Length(min=1)),
        None,
        "API user; required with ACUMATICA_BASE_URL",
    ),
    Variable(
        "ACUMATICA_PASSWORD",
        fields.String(validate=validate.Length(min=1)),
        None,
        "API user's password; required with ACUMATICA_BASE_URL",
        secret=True,
    ),
    Variable("ACUMATICA_TENANT", fields.String(), None, "Tenant (company) name; sandbox: Company"),
    Variable("ACUMATICA_BRANCH", fields.String(), None, "Branch to sign in to (optional)"),
    Variable(
        "ACUMATICA_ENDPOINT",
        fields.String(
            validate=validate.Regexp(
                r"^[A-Za-z0-9_]+/\d+\.\d+\.\d+$", error="must look like Default/24.200.001"
            )
        ),
        "Default/24.200.001",
        "Contract-based endpoint name/version",
    ),
    Variable(
        "ACUMATICA_AUTH_MODE",
        fields.String(validate=validate.OneOf(["cookie", "oauth"])),
        "cookie",
        "cookie (login/logout) or oauth (password grant + refresh token)",
    ),
    Variable("ACUMATICA_CLIENT_ID", fields.String(), None, "OAuth client id (oauth mode)"),
    Variable(
        "ACUMATICA_CLIENT_SECRET",
        fields.String(),
        None,
        "OAuth client secret (oauth mode)",
        secret=True,
    ),
    Variable(
        "ACUMATICA_MAX_SESSIONS", _int(1, 100), "1", "API sessions the whole fleet may hold at once"
    ),
    Variable(
        "ACUMATICA_REQUESTS_PER_MINUTE",
        _int(1),
        "300",
        "Fleet-wide cap on Acumatica requests per minute (match the licence; 6000 on the sandbox)",
    ),
    Variable(
        "ACUMATICA_MAX_CONCURRENT", _int(1), "4", "Fleet-wide cap on concurrent Acumatica requests"
    ),
    Variable(
        "ACUMATICA_ODATA_AUTH",
        fields.String(validate=validate.OneOf(["basic", "bearer"])),
        "basic",
        "How the OData change polls sign in with ACUMATICA_AUTH_MODE=oauth: basic (the user's "
        "password; a conventional user, no API seat) or bearer (the fleet's OAuth token); cookie "
        "mode always uses basic",
    ),
    Variable(
        "ACUMATICA_ODATA_IN_RATE_LIMIT",
        fields.Boolean(),
        "true",
        "Basic-auth OData requests count in ACUMATICA_REQUESTS_PER_MINUTE's window; false: only in "
        "ACUMATICA_MAX_CONCURRENT (Acumatica does not document whether OData counts in the API "
        "request rate)",
    ),
    Variable("ACUMATICA_CONNECT_TIMEOUT", _float(0.1), "5", "Seconds to open a connection"),
    Variable(
        "ACUMATICA_READ_TIMEOUT",
        _float(1),
        "120",
        "Seconds to wait for an answer (Acumatica queues rather than refuses)",
    ),
    Variable("XCART_CONNECT_TIMEOUT", _float(0.1), "5", "Seconds to open a connection to X-Cart"),
    Variable("XCART_READ_TIMEOUT", _float(1), "30", "Seconds to wait for an X-Cart answer"),
    Variable(
        "HTTP_READ_RETRIES",
        _int(0, 10),
        "2",
        "Extra in-place attempts of a failed read (GET on 429/5xx or a refused/reset connection) "
        "before the task-level retry; 0 disables",
    ),
    # Tasks and retries
    Variable(
        "RETRY_MAX", _int(0, 100), "8", "Retries of a transient failure before dead-lettering"
    ),
    Variable(
        "RETRY_BACKOFF_BASE", _float(0.01), "2", "First retry delay in seconds; doubles each retry"
    ),
    Variable("RETRY_BACKOFF_MAX", _float(0.01), "300", "Longest retry delay in seconds"),
    Variable("TASK_SOFT_TIME_LIMIT", _int(1), "240", "Seconds before a task is asked to stop"),
    Variable("TASK_TIME_LIMIT", _int(1), "300", "Seconds before a task's process is killed"),
    Variable(
        "BROKER_VISIBILITY_TIMEOUT",
        _int(60),
        "1800",
        "Seconds before an unacknowledged message is redelivered (also how long the tasks of a killed worker wait); must exceed every delay",
    ),
    Variable(
        "LOCK_TIMEOUT",
        _int(1),
        "330",
        "Seconds a per-record lock lives if its holder dies; above TASK_TIME_LIMIT, well below the retry budget",
    ),
    Variable(
        "STALL_SECONDS",
        _int(60),
        "2400",
        "A record with no progress for this long is restarted by its flow's poll (its message was "
        "lost); must exceed BROKER_VISIBILITY_TIMEOUT + RETRY_BACKOFF_MAX",
    ),
    Variable(
        "HISTORY_RETENTION_DAYS",
        _int(1),
        "30",
        "Days each record's run history (steps, outcome, error, trace id) is kept in the ledger",
    ),
    Variable(
        "DLQ_RETENTION_DAYS",
        _int(1),
        "30",
        "Days a dead letter keeps its payload, arguments and upstream answers after its last "
        "failure (an open one then expires); an entry without them is deleted as long after",
    ),
    Variable(
        "MAPPING_TEMPLATES_DIR",
        fields.String(),
        None,
        "Directory of the mapping templates (<flow>.yaml); default: those shipped with the engine",
    ),
    # Polling
    Variable("POLL_INTERVAL_SECONDS", _float(1), "30", "Default interval of every poll"),
    Variable(
        "ORDERS_POLL_INTERVAL_SECONDS",
        _float(1),
        None,
        "Interval of the orders poll; default: POLL_INTERVAL_SECONDS",
    ),
    Variable(
        "CUSTOMERS_POLL_INTERVAL_SECONDS",
        _float(1),
        None,
        "Interval of the customers poll; default: POLL_INTERVAL_SECONDS",
    ),
    Variable(
        "PAYMENTS_POLL_INTERVAL_SECONDS",
        _float(1),
        None,
        "Interval of the payments poll; default: POLL_INTERVAL_SECONDS",
    ),
    Variable(
        "SHIPMENTS_POLL_INTERVAL_SECONDS",
        _float(1),
        None,
        "Interval of the shipments poll; default: POLL_INTERVAL_SECONDS",
    ),
    Variable(
        "PRODUCTS_POLL_INTERVAL_SECONDS",
        _float(1),
        None,
        "Interval of the products poll; default: POLL_INTERVAL_SECONDS",
    ),
    Variable(
        "INVENTORY_POLL_INTERVAL_SECONDS",
        _float(1),
        None,
        "Interval of the inventory poll; default: POLL_INTERVAL_SECONDS",
    ),
    # Operations
    Variable(
        "LOG_LEVEL",
        fields.String(validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])),
        "INFO",
        "Log level",
    ),
    Variable(
        "LOG_FORMAT",
        fields.String(validate=validate.OneOf(["auto", "json", "text"])),
        "auto",
        "json, text, or auto (text on a terminal, JSON otherwise)",
    ),
    Variable(
        "SENTRY_DSN", fields.String(), None, "Sentry DSN; Sentry is off when unset", secret=True
    ),
    Variable("SENTRY_ENVIRONMENT", fields.String(), "production", "Sentry environment name"),
    Variable(
        "WEBHOOK_ACUMATICA_SECRET",
        _secret_of_length(WEBHOOK_SECRET_MIN_LENGTH),
        None,
        "Value of the custom header Acumatica push notifications must carry; at least "
        f"{WEBHOOK_SECRET_MIN_LENGTH} characters",
        secret=True,
    ),
    Variable(
        "WEBHOOK_XCART_SECRET",
        _secret_of_length(WEBHOOK_SECRET_MIN_LENGTH),
        None,
        "HMAC key of signed webhooks from the X-Cart store module; at least "
        f"{WEBHOOK_SECRET_MIN_LENGTH} characters",
        secret=True,
    ),
    Variable(
        "FLOWER_BASIC_AUTH",
        fields.String(validate=_check_basic_auth),
        None,
        "Flower credentials (user:password, several separated by commas); each password at "
        f"least {PASSWORD_MIN_LENGTH} characters",
        secret=True,
    ),
    Variable(
        "FLOWER_ADDRESS",
        fields.String(validate=validate.Length(min=1)),
        "127.0.0.1",
        "Address Flower listens on; anything but loopback requires FLOWER_BASIC_AUTH",
    ),
    Variable("FLOWER_PORT", _int(1, 65535), "5555", "Port of the Flower monitoring UI"),
    Variable(
        "TASK_EVENTS",
        fields.Boolean(),
        "false",
        "Workers always send Celery task events (costs ~40 % of a worker's own CPU); when false, "
        "Flower turns them on while it runs",
    ),
    Variable(
        "WEBHOOKS_HOST",
        fields.String(validate=validate.Length(min=1)),
        "127.0.0.1",
        "Address the webhook receiver listens on",
    ),
    Variable("WEBHOOKS_PORT", _int(1, 65535), "8090", "Port of the webhook receiver"),
    Variable("WEBHOOKS_WORKERS", _int(1, 64), "2", "gunicorn worker processes of the receiver"),
    Variable(
        "WEBHOOK_MAX_BODY_BYTES",
        _int(1024),
        "1048576",
        "Largest webhook body accepted; larger requests get 413",
    ),
    Variable(
        "WEBHOOK_ACUMATICA_HEADER",
        fields.String(validate=validate.Regexp(r"^[A-Za-z0-9-]+$", error="must be a header name")),
        "X-Sync-Secret",
        "Name of the custom header carrying WEBHOOK_ACUMATICA_SECRET",
    ),
    Variable(
        "WEBHOOK_DEDUPE_SECONDS",
        _int(60),
        "172800",
        "How long a notification id is remembered (Acumatica resends for two days)",
    ),
    Variable(
        "WEBHOOK_REPLAY_WINDOW_SECONDS",
        _int(1),
        "300",
        "Signed X-Cart webhooks older (or newer) than this many seconds are refused",
    ),
    Variable(
        "METRICS_LAG_WINDOW_SECONDS",
        _int(60),
        "3600",
        "Records synced within this many seconds feed the lag percentiles",
    ),
    Variable(
        "CONSOLE_USERS",
        fields.String(validate=_check_console_users),
        None,
        "Operations console sign-ins (name:password:role, several separated by commas; role "
        f"viewer or operator); each password at least {PASSWORD_MIN_LENGTH} characters",
        secret=True,
    ),
    Variable(
        "CONSOLE_ADDRESS",
        fields.String(validate=validate.Length(min=1)),
        "127.0.0.1",
        "Address the operations console listens on; anything but loopback requires CONSOLE_USERS",
    ),
    Variable("CONSOLE_PORT", _int(1, 65535), "8088", "Port of the operations console"),
)

_BY_NAME = {v.name: v for v in VARIABLES}


class SettingsError(Exception):
    """One or more variables are wrong; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _field_name(name: str) -> str:
    return name.lower()


class _EnvSchema(Schema):
    @validates_schema(skip_on_field_errors=False)
    def _pairs(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("xcart_base_url") and not data.get("xcart_api_token"):
            errors["xcart_api_token"] = ["required when XCART_BASE_URL is set"]
        if data.get("acumatica_base_url"):
            for key in ("acumatica_username", "acumatica_password"):
                if not data.get(key) and data.get("acumatica_auth_mode") != "oauth":
                    errors[key] = ["required when ACUMATICA_BASE_URL is set"]
            if data.get("acumatica_auth_mode") == "oauth":
                for key in ("acumatica_client_id", "acumatica_client_secret"):
                    if not data.get(key):
                        errors[key] = ["required when ACUMATICA_AUTH_MODE is oauth"]
        soft, hard = data.get("task_soft_time_limit"), data.get("task_time_limit")
        if soft is not None and hard is not None and soft >= hard:
            errors["task_soft_time_limit"] = [f"must be below TASK_TIME_LIMIT ({hard})"]
        lock = data.get("lock_timeout")
        if lock is not None and hard is not None and lock <= hard:
            errors["lock_timeout"] = [
                f"must exceed TASK_TIME_LIMIT ({hard}), or a lock can expire under a running task"
            ]
        vis = data.get("broker_visibility_timeout")
        stall = data.get("stall_seconds")
        if (
            stall is not None
            and vis is not None
            and stall <= vis + (data.get("retry_backoff_max") or 0)
        ):
            errors["stall_seconds"] = [
                "must exceed BROKER_VISIBILITY_TIMEOUT + RETRY_BACKOFF_MAX, or records waiting "
                "for redelivery are restarted twice"
            ]
        longest = max(data.get("retry_backoff_max") or 0, hard or 0)
        if vis is not None and vis <= longest * 1.5:
            errors["broker_visibility_timeout"] = [
                f"must exceed 1.5 x the longest delay or time limit ({longest:g} s), "
                "or messages run twice"
            ]
        if errors:
            raise ValidationError(errors)


EnvSchema = _EnvSchema.from_dict({_field_name(v.name): v.field for v in VARIABLES})


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Secrets are :class:`Secret`; call ``.reveal()`` where needed."""

    values: Mapping[str, Any] = field(repr=False)
    sandbox_xcart: bool
    sandbox_acumatica: bool
    #: No DATABASE_URL was given: the ledger is the SQLite file in DATA_DIR.
    embedded_ledger: bool

    def __getattr__(self, item: str) -> Any:
        values = object.__getattribute__(self, "values")
        try:
            return values[item]
        except KeyError:
            raise AttributeError(item) from None

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={self._shown(k)!r}" for k in sorted(self.values))
        return f"Settings({shown})"

    def _shown(self, key: str) -> Any:
        value = self.values[key]
        if key in ("database_url", "redis_url", "broker_url") and isinstance(value, Secret):
            return redact_url(value.reveal())
        return value

    @property
    def data_dir(self) -> Path:
        return Path(self.values["data_dir"])

    @property
    def acumatica_endpoint_name(self) -> str:
        return str(self.values["acumatica_endpoint"]).split("/")[0]

    @property
    def acumatica_endpoint_version(self) -> str:
        return str(self.values["acumatica_endpoint"]).split("/")[1]


def _read_raw(environ: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    raw: dict[str, str] = {}
    for var in VARIABLES:
        value = environ.get(var.name)
        file_path = environ.get(f"{var.name}_FILE") if var.secret else None
        if file_path:
            if value not in (None, ""):
                problems.append(f"{var.name}: set either {var.name} or {var.name}_FILE, not both")
                continue
            try:
                value = Path(file_path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                problems.append(f"{var.name}_FILE: cannot read {file_path} ({exc.strerror})")
                continue
        if value is None or value == "":
            value = var.default
        if value is not None:
            raw[_field_name(var.name)] = value
    return raw


def _without_url(raw: Mapping[str, str]) -> list[str]:
    """One line per system with settings of a real instance given but not its URL."""
    lines = []
    for system in SYSTEMS:
        given = [
            name
            for name in system.instance
            if raw.get(_field_name(name)) not in (None, _BY_NAME[name].default)
        ]
        if given and _field_name(system.url) not in raw:
            lines.append(
                f"{system.url}: required with {', '.join(given)}, which the engine never sends "
                f"to the {system.name} sandbox; set it, or unset them to run on the sandbox"
            )
    return lines


def _describe(name: str, messages: Any, raw: Mapping[str, str]) -> str:
    var = _BY_NAME.get(name.upper())
    text = "; ".join(_flatten(messages))
    if var is None:
        return f"{name}: {text}"
    if var.secret or name not in raw:
        return f"{var.name}: {text}"
    return f"{var.name}: {text} (got {raw[name]!r})"


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, dict):
        return [m for v in messages.values() for m in _flatten(v)]
    if isinstance(messages, list):
        return [str(m) for m in messages]
    return [str(messages)]


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the environment; raise :class:`SettingsError` naming each bad variable."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    raw = _read_raw(env, problems)
    problems.extend(_without_url(raw))
    try:
        data = EnvSchema().load(raw)
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"": exc.messages}
        problems.extend(_describe(name, msgs, raw) for name, msgs in sorted(errors.items()))
        data = {}
    if problems:
        raise SettingsError(problems)

    sandbox_xcart = not data.get("xcart_base_url")
    sandbox_acumatica = not data.get("acumatica_base_url")
    # Settings of a real instance without its URL were refused above, so a system without a
    # URL has none of them: it runs on its sandbox, with the sandbox's own credentials.
    if sandbox_xcart:
        data["xcart_base_url"] = SANDBOX_XCART_URL
        if not env.get("XCART_REQUESTS_PER_MINUTE"):
            data["xcart_requests_per_minute"] = SANDBOX_REQUESTS_PER_MINUTE
        data["xcart_api_token"] = SANDBOX_XCART_TOKEN
    if sandbox_acumatica:
        data["acumatica_base_url"] = SANDBOX_ACUMATICA_URL
        if not env.get("ACUMATICA_REQUESTS_PER_MINUTE"):
            data["acumatica_requests_per_minute"] = SANDBOX_REQUESTS_PER_MINUTE
        data["acumatica_username"] = SANDBOX_ACUMATICA_USERNAME
        data["acumatica_password"] = SANDBOX_ACUMATICA_PASSWORD
        data["acumatica_tenant"] = SANDBOX_ACUMATICA_TENANT
    if not data.get("broker_url"):
        data["broker_url"] = data["redis_url"]
    embedded_ledger = not data.get("database_url")
    if embedded_ledger:
        db_file = Path(data["data_dir"]).resolve() / "sync_workers.db"
        data["database_url"] = f"sqlite:///{db_file}"
    for var in VARIABLES:
        key = _field_name(var.name)
        data.setdefault(key, None)
        if var.secret and data.get(key) is not None:
            data[key] = Secret(data[key])
    for key in ("xcart_base_url", "acumatica_base_url"):
        data[key] = str(data[key]).rstrip("/")
    return Settings(
        values=data,
        sandbox_xcart=sandbox_xcart,
        sandbox_acumatica=sandbox_acumatica,
        embedded_ledger=embedded_ledger,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached). Call ``get_settings.cache_clear()`` after changing env."""
    return load_settings()


def settings_or_exit(loader: Callable[[], Settings] = get_settings) -> Settings:
    """For entry points: print one line per bad variable to stderr and exit 2, no traceback."""
    try:
        return loader()
    except SettingsError as exc:
        for line in exc.problems:
            print(f"configuration error: {line}", file=sys.stderr)
        raise SystemExit(2) from None
