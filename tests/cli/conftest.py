"""Run the ``celery -A sync_workers ...`` command line in-process with click's runner."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from celery.bin.celery import celery
from click.testing import CliRunner

from sync_workers.settings import get_settings


@dataclass
class Run:
    exit_code: int
    output: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.output)


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Run:
    runner = CliRunner()
    result = runner.invoke(
        celery, ["-A", "sync_workers", *args], env=env, input=input, catch_exceptions=False
    )
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli(redis_client):
    return run_cli


def queued(redis_client, queue: str) -> list[dict]:
    """Messages waiting on a broker queue: task name and kwargs."""
    import base64

    out = []
    for raw in redis_client.lrange(get_settings().redis_key_prefix + queue, 0, -1):
        message = json.loads(raw)
        _args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        out.append(
            {"task": message["headers"]["task"], "kwargs": kwargs, "headers": message["headers"]}
        )
    return out
