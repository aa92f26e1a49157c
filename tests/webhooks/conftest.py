"""A receiver with both secrets set, on the test Redis; enqueues recorded or on the real broker."""

from __future__ import annotations

import os
from typing import Any

import pytest

from sync_workers.settings import load_settings

PUSH_SECRET = "push-shared-secret-of-at-least-32-chars"
XCART_SECRET = "xcart-hmac-key-of-at-least-32-chars"


class Recorder:
    """An enqueue function that keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, task: str, kwargs: dict[str, Any]) -> str:
        self.calls.append((task, kwargs))
        return f"task-{len(self.calls)}"


def receiver_settings(**overrides: str):
    env = {
        **os.environ,
        "WEBHOOK_ACUMATICA_SECRET": PUSH_SECRET,
        "WEBHOOK_XCART_SECRET": XCART_SECRET,
        "WEBHOOK_MAX_BODY_BYTES": "4096",
        **overrides,
    }
    return load_settings(env)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(redis_client, recorder):
    from sync_workers.webhooks import create_app

    app = create_app(receiver_settings(), enqueue=recorder)
    return app.test_client()
