"""What every request of the console reaches: settings, users, Redis, the ledger, the queue."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import current_app, g
from sqlalchemy import Engine

from sync_workers.console.sessions import Session, SessionStore, hash_token
from sync_workers.console.users import User
from sync_workers.dlq import DeadLetterQueue
from sync_workers.settings import Settings

EXTENSION = "sync_console"


@dataclass
class Console:
    settings: Settings
    users: dict[str, User] = field(repr=False)

    @property
    def prefix(self) -> str:
        return str(self.settings.redis_key_prefix)

    @property
    def redis(self) -> redis.Redis:
        """This process's client (one per process: gunicorn forks after the app is built)."""
        from sync_workers.redis_client import get_redis

        return get_redis(self.settings.redis_url.reveal())

    @property
    def engine(self) -> Engine:
        from sync_workers.ledger.db import get_engine

        return get_engine(self.settings.database_url.reveal())

    @property
    def sessions(self) -> SessionStore:
        return SessionStore(self.redis, self.prefix)

    @property
    def queue(self) -> DeadLetterQueue:
        return DeadLetterQueue(self.redis, self.prefix)


def console() -> Console:
    extension: Console = current_app.extensions[EXTENSION]
    return extension


def current_user() -> User | None:
    return getattr(g, "user", None)


def current_session() -> Session | None:
    return getattr(g, "session", None)


def actor() -> str:
    """Who acts, as the audit names them: ``console:<user>``."""
    user = current_user()
    return f"console:{user.name if user else 'anonymous'}"


def publisher() -> Any:
    """The engine's publisher of tasks by name (imported late: it builds the Celery app)."""
    from sync_workers.celery import publish

    return publish


def _flash_key() -> str | None:
    session = current_session()
    if session is None:
        return None
    return console().prefix + "console:flash:" + hash_token(session.token)


def notify(text: str, kind: str = "ok") -> None:
    """A message for the next page this session sees (``ok`` or ``error``)."""
    key = _flash_key()
    if key is None:
        return
    pipe = console().redis.pipeline(transaction=False)
    pipe.rpush(key, json.dumps({"text": text, "kind": kind}))
    pipe.expire(key, 300)
    pipe.execute()


def take_messages() -> list[dict[str, str]]:
    key = _flash_key()
    if key is None:
        return []
    pipe = console().redis.pipeline(transaction=True)
    pipe.lrange(key, 0, -1)
    pipe.delete(key)
    raw, _ = pipe.execute()
    return [json.loads(item) for item in raw]
