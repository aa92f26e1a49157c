"""The Celery application: ``celery -A sync_workers worker|beat|flower|...``.

Settings come from the environment (``sync_workers.settings``); a bad variable stops the process
with one line per problem. Reliability defaults: late ack, prefetch 1, no result backend, soft and
hard time limits. The broker is Redis (``REDIS_URL``: a visibility timeout above every delay, keys
under ``REDIS_KEY_PREFIX``) unless ``BROKER_URL`` names RabbitMQ: then quorum queues, publisher
confirms and RabbitMQ's own delayed delivery for countdowns and retries (docs/brokers.md). Locks,
limits, the dead-letter queue and beat's schedule stay in Redis with either broker.

What Celery shows of a task holds no customer data: every message the app publishes carries
ids-only ``argsrepr``/``kwargsrepr`` (:class:`RedactingAMQP`), which the worker's log lines,
task events (Flower) and ``celery inspect`` show instead of the arguments
(:class:`RedactedRequest`), and the errors task events carry are scrubbed.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from celery import Celery, signals
from celery.app.amqp import AMQP
from celery.worker.request import Request
from kombu import Exchange, Queue

from schedules.beat import build_schedule
from sync_workers import logs, tracing
from sync_workers.flows import NAMES
from sync_workers.logs import configure_logging
from sync_workers.mapping.templates import validate_all
from sync_workers.observability.metrics import install_worker_hooks
from sync_workers.observability.scrubbing import scrub_text
from sync_workers.observability.sentry import init_sentry
from sync_workers.redaction import task_reprs
from sync_workers.settings import Settings, settings_or_exit
from sync_workers.task import SyncTask, on_task_failure

FLOW_QUEUES = NAMES
REALTIME_QUEUE = "realtime"
QUEUES = (*FLOW_QUEUES, REALTIME_QUEUE)
#: Schemes of a RabbitMQ ``BROKER_URL`` (anything else is Redis).
AMQP_SCHEMES = ("amqp", "amqps")


def task_modules() -> tuple[str, ...]:
    """Every module of the ``tasks`` package, found by name so the engine never imports it."""
    spec = importlib.util.find_spec("tasks")
    if spec is None or not spec.submodule_search_locations:
        return ()
    found = pkgutil.iter_modules(list(spec.submodule_search_locations))
    return tuple(sorted(f"tasks.{m.name}" for m in found if not m.name.startswith("_")))


def route_task(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any
) -> dict:
    """A step goes to its flow's queue (the task's ``flow``, else ``tasks.<flow>.<step>``);
    ``realtime_*`` steps and everything else go to ``realtime``."""
    parts = name.split(".")
    flow = getattr(task, "flow", None) or (parts[1] if len(parts) >= 3 else None)
    if parts[-1].startswith("realtime_") or flow not in FLOW_QUEUES:
        return {"queue": REALTIME_QUEUE}
    return {"queue": flow}


def beat_schedule(settings: Settings) -> dict[str, Any]:
    """The beat entries from ``schedules/beat.py`` (tasks named by string)."""
    return dict(build_schedule(settings))


def on_rabbitmq(url: str) -> bool:
    return urlsplit(url).scheme in AMQP_SCHEMES


def rabbitmq_backlog(queue: str) -> int:
    """Messages ready in the RabbitMQ queue ``queue`` (a passive declare on this app's broker);
    0 for a queue no worker has declared yet."""
    with app.connection_for_read() as conn:
        try:
            declared = conn.default_channel.queue_declare(queue=queue, passive=True)
        except conn.channel_errors:  # NOT_FOUND
            return 0
        return int(declared.message_count)


def redis_broker(settings: Settings) -> dict[str, Any]:
    """Redis: a message not acknowledged within ``BROKER_VISIBILITY_TIMEOUT`` (a killed worker's)
    goes back to its queue at the next sweep, which every worker runs every 10 s."""
    visibility = settings.broker_visibility_timeout
    transport = {
        "visibility_timeout": visibility,
        "global_keyprefix": settings.redis_key_prefix,
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
        "socket_timeout": 30,
        "socket_connect_timeout": 5,
        "health_check_interval": 25,
    }
    return {
        "broker_url": settings.broker_url.reveal(),
        "broker_transport_options": transport,
        "visibility_timeout": visibility,
        "task_queues": [Queue(name) for name in QUEUES],
    }


def rabbitmq_broker(settings: Settings) -> dict[str, Any]:
    """RabbitMQ: durable quorum queues, each bound to a topic exchange of its name, which lets
    Celery publish a countdown (a retry's too) to RabbitMQ's delayed-delivery exchanges instead
    of holding it unacknowledged in a worker; every publish waits for the broker's confirm. A
    killed worker's connection closes, and RabbitMQ hands its messages to another at once.

    Quorum queues have no global QoS: each queue's consumer gets the prefetch of its own. The
    engine's queues are isolated from another engine's by the vhost of ``BROKER_URL``."""
    return {
        "broker_url": settings.broker_url.reveal(),
        "broker_transport_options": {"confirm_publish": True},
        "broker_heartbeat": 60,
        "task_queues": [
            Queue(
                name,
                Exchange(name, type="topic"),
                routing_key=name,
                queue_arguments={"x-queue-type": "quorum"},
            )
            for name in QUEUES
        ],
        "task_default_queue_type": "quorum",
        "task_default_exchange_type": "topic",
        "worker_detect_quorum_queues": True,
        "broker_native_delayed_delivery_queue_type": "quorum",
    }


def broker_config(settings: Settings) -> dict[str, Any]:
    if on_rabbitmq(settings.broker_url.reveal()):
        return rabbitmq_broker(settings)
    return redis_broker(settings)


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        **broker_config(settings),
        "broker_connection_retry_on_startup": True,
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "timezone": "UTC",
        "enable_utc": True,
        "task_acks_late": True,
        "task_acks_on_failure_or_timeout": True,
        "task_reject_on_worker_lost": False,
        "task_retry_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        "task_default_queue": REALTIME_QUEUE,
        "task_routes": (route_task,),
        "task_track_started": False,
        # Task events cost the worker's main process ~40 % of its CPU (measured with py-spy under
        # load); Flower sends ``enable_events`` to every worker while it runs, so they flow when
        # someone watches. TASK_EVENTS=true sends them always (for an events exporter).
        "worker_send_task_events": settings.task_events,
        "task_send_sent_event": settings.task_events,
        "worker_hijack_root_logger": False,
        "worker_eta_task_limit": 10_000,
        "imports": task_modules(),
        "redbeat_redis_url": settings.redis_url.reveal(),
        "redbeat_key_prefix": settings.redis_key_prefix + "redbeat:",
        "redbeat_lock_timeout": 150,
        "beat_max_loop_interval": 30,
        "beat_schedule": beat_schedule(settings),
    }


class RedactingAMQP(AMQP):
    """Builds every message of the app (``send_task``, ``apply_async``, Celery's own retries,
    beat) with ids-only ``argsrepr``/``kwargsrepr`` (:func:`~sync_workers.redaction.task_reprs`).

    Celery computes both here, once, for the message's headers and for its ``task-sent`` event;
    ``before_task_publish`` sees the headers only, so the event would keep the full repr."""

    def as_task_v2(
        self,
        task_id: str,
        name: str,
        args: Any = None,
        kwargs: Any = None,
        *rest: Any,
        **options: Any,
    ) -> Any:
        options["argsrepr"], options["kwargsrepr"] = task_reprs(args, kwargs)
        return super().as_task_v2(task_id, name, args, kwargs, *rest, **options)


class RedactedRequest(Request):
    """A task as the worker shows it (``SyncTask.Request``).

    ``celery inspect active|reserved|scheduled`` (Flower's worker pages) show the message's
    ``argsrepr``/``kwargsrepr``, never the arguments; the exception, traceback and result that
    task events carry to Flower are scrubbed, the task's own personal values included."""

    _EVENT_TEXT = ("exception", "traceback", "result")

    def info(self, safe: bool = False) -> Any:
        return super().info(safe=True)

    def send_event(self, type: str, **fields: Any) -> None:
        eventer = self.eventer
        if eventer is None or not eventer.enabled:
            return
        if any(isinstance(fields.get(key), str) for key in self._EVENT_TEXT):
            kwargs = self.kwargs if isinstance(self.kwargs, dict) else {}
            known = logs.personal_pattern([self.args, kwargs], kwargs.get("record_id"))
            for key in self._EVENT_TEXT:
                if isinstance(fields.get(key), str):
                    fields[key] = scrub_text(fields[key], known)
        super().send_event(type, **fields)


class EngineCelery(Celery):
    """The engine's app. On RabbitMQ every delay is at least a whole second: Celery routes a
    countdown or ETA through the delayed-delivery exchanges by its whole seconds and refuses
    one under a second (a retry's backoff can be), which would leave the retry unpublished."""

    def send_task(
        self,
        name: str,
        args: Any = None,
        kwargs: Any = None,
        countdown: float | None = None,
        eta: datetime | str | None = None,
        **options: Any,
    ) -> Any:
        if (countdown or eta) and on_rabbitmq(str(self.conf.broker_url)):
            countdown, eta = self._broker_delay(countdown, eta), None
        return super().send_task(name, args, kwargs, countdown=countdown, eta=eta, **options)

    def _broker_delay(self, countdown: float | None, eta: datetime | str | None) -> float | None:
        if eta is not None:
            moment = datetime.fromisoformat(eta) if isinstance(eta, str) else eta
            if moment.tzinfo is None:  # Celery reads a naive ETA in the app's time zone: UTC
                moment = moment.replace(tzinfo=UTC)
            countdown = (moment - self.now()).total_seconds()
        if countdown is None or countdown <= 0:
            return None
        return max(float(countdown), 1.0)


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or settings_or_exit()
    celery_app = EngineCelery("sync_workers", task_cls=SyncTask, amqp=RedactingAMQP)
    celery_app.conf.update(celery_config(settings))
    install_worker_hooks(celery_app)
    return celery_app


@signals.celeryd_init.connect
@signals.beat_init.connect
def _init_sentry(**_: Any) -> None:
    init_sentry(settings_or_exit(), beat_schedule=app.conf.beat_schedule)


def _setup_logging(**_: Any) -> None:
    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)


signals.setup_logging.connect(_setup_logging, weak=False)
signals.before_task_publish.connect(tracing.on_before_publish, weak=False)
signals.task_prerun.connect(tracing.on_task_prerun, weak=False)
signals.task_prerun.connect(logs.on_task_prerun, weak=False)
signals.task_postrun.connect(tracing.on_task_postrun, weak=False)
signals.task_postrun.connect(logs.on_task_postrun, weak=False)
signals.task_failure.connect(on_task_failure, weak=False)


@signals.celeryd_init.connect
def _check_ledger(**_: Any) -> None:
    """A worker refuses to start on a ledger at another schema revision, in one line and exit 2;
    the embedded default is migrated instead (``sync_workers.ledger.schema``)."""
    from sync_workers.ledger.schema import check_at_start

    _setup_logging()  # a worker sets its logging up after this signal: keep the check's lines
    check_at_start(settings_or_exit())


@signals.beat_init.connect
def _check_ledger_for_beat(sender: Any, **_: Any) -> None:
    """The same check for beat. RedBeat takes its lock in a receiver of this same signal, maybe
    before this one: a beat that stops here gives the lock back, or the next beat would wait for
    it to expire."""
    try:
        _check_ledger()
    except SystemExit:
        sender.scheduler.close()
        raise


@signals.worker_init.connect
def _check_templates(**_: Any) -> None:
    """A worker refuses to start on a broken mapping template, one line per problem."""
    problems = validate_all()
    if problems:
        for line in problems:
            print(f"mapping template error: {line}", file=sys.stderr)
        raise SystemExit(2)


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    from sync_workers.ledger.db import dispose_engines

    dispose_engines()


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _close_clients(**_: Any) -> None:
    """Sign Acumatica sessions out when a worker (or one of its processes) stops."""
    from sync_workers.clients import close_all

    close_all()


def publish(
    task: str,
    args: list[Any],
    kwargs: dict[str, Any],
    *,
    queue: str | None,
    chain: list[dict[str, Any]],
    trace_id: str | None,
    headers: dict[str, Any],
) -> str:
    """Publish ``task`` by name with the rest of its chain (the dead-letter queue replays with it)."""
    options: dict[str, Any] = {
        "headers": {**headers, tracing.HEADER: trace_id or tracing.new_trace_id()}
    }
    if queue:
        options["queue"] = queue
    if chain:
        options["chain"] = chain
    result = app.send_task(task, args=args, kwargs=kwargs, **options)
    return str(result.id)


app = create_app()
