"""Redis as docker-compose.yml runs it: a real redis-server started with the compose service's
arguments and the ACL file deploy/create-secrets.sh makes; its healthcheck; the engine through
``REDIS_URL_FILE`` with the user and password of that file."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import yaml

from tests.deploy.test_compose import create_secrets

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Server:
    url: str = field(repr=False)  # the engine's URL, pointed at this server
    url_file: Path
    secrets: Path
    port: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _on_this_host(secrets: Path, port: int) -> str:
    """The engine's URL from the secret, with the compose host name replaced by this server."""
    url = (secrets / "redis_url").read_text()
    assert "@redis:6379/" in url
    return url.replace("@redis:6379/", f"@127.0.0.1:{port}/")


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server and redis-cli are needed", pytrace=False)
        pytest.skip("redis-server and redis-cli are not installed")
    secrets = tmp_path / "secrets"
    assert create_secrets(secrets).returncode == 0
    port = _free_port()
    # The service's command, its secrets where this machine has them, on a port and in a
    # directory of this test's own.
    command = [
        str(secrets / "redis_users.acl") if arg == "/run/secrets/redis_users_acl" else arg
        for arg in COMPOSE["services"]["redis"]["command"]
    ]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = _on_this_host(secrets, port)
    url_file = tmp_path / "redis_url"
    url_file.write_text(url)
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"redis-server did not start: {proc.communicate()[0]}")
            time.sleep(0.05)
    client.close()
    yield Server(url, url_file, secrets, port)
    proc.terminate()
    proc.wait(timeout=10)


def healthcheck(url_file: Path) -> subprocess.CompletedProcess[str]:
    """The compose healthcheck's command as the container's shell runs it."""
    kind, command = COMPOSE["services"]["redis"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    command = command.replace("$$", "$").replace("/run/secrets/redis_url", str(url_file))
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=10)


def test_redis_refuses_clients_that_do_not_sign_in(server) -> None:
    anonymous = redis.Redis(host="127.0.0.1", port=server.port)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.ping()
    wrong = redis.Redis.from_url(server.url.replace("redis://sync:", "redis://sync:x"))
    with pytest.raises(redis.exceptions.AuthenticationError):
        wrong.ping()
    default = redis.Redis(host="127.0.0.1", port=server.port, username="default", password="")
    with pytest.raises(redis.exceptions.AuthenticationError):
        default.ping()


def test_the_engines_user_may_do_its_work_but_not_administer_redis(server) -> None:
    client = redis.Redis.from_url(server.url)

    assert client.acl_whoami() == "sync"
    client.set("sync:probe", "1", ex=10)
    assert client.eval("return redis.call('GET', KEYS[1])", 1, "sync:probe") == b"1"
    assert client.publish("sync:channel", "x") == 0
    for admin in (
        lambda: client.config_get("dir"),
        lambda: client.config_set("dir", "/tmp"),
        lambda: client.acl_list(),
        lambda: client.execute_command("BGREWRITEAOF"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            admin()


def test_the_healthcheck_signs_in_with_the_engines_url(server, tmp_path) -> None:
    assert healthcheck(server.url_file).returncode == 0

    mismatched = tmp_path / "other_url"
    mismatched.write_text(server.url.replace("redis://sync:", "redis://sync:0"))
    assert healthcheck(mismatched).returncode != 0


def test_a_worker_does_its_work_on_a_redis_with_a_password(server) -> None:
    """A real worker, its settings read from REDIS_URL_FILE: it consumes, retries (a publish)
    and records in Redis, all signed in as the engine's user."""
    from sync_workers.celery import app
    from sync_workers.redis_client import prefixed
    from tests.foundation import sample_tasks as t

    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL_FILE": str(server.url_file)}
    del env["REDIS_URL"]
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.foundation.sample_tasks",
            "worker",
            "-P",
            "solo",
            "-Q",
            "orders",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"acl-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    record_id = f"acl-{uuid.uuid4().hex[:8]}"
    try:
        with app.connection_for_write(server.url) as connection:
            t.flaky_then_ok.apply_async(
                kwargs={"record_id": record_id, "failures": 1}, connection=connection
            )
        client = redis.Redis.from_url(server.url)
        calls_key = prefixed("test", "calls", record_id)
        deadline = time.monotonic() + 40
        while client.llen(calls_key) < 2 and time.monotonic() < deadline:
            assert worker.poll() is None, worker.communicate()[0]
            time.sleep(0.2)
        assert client.llen(calls_key) == 2  # the first run failed, its retry succeeded
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            output = worker.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            worker.kill()
            output = worker.communicate()[0]
    assert "NOAUTH" not in output and "NOPERM" not in output, output
