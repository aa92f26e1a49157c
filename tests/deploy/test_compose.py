"""docker-compose.yml against the settings: the services a deployment needs, every variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sync_workers.celery import QUEUES
from sync_workers.settings import VARIABLES

ROOT = Path(__file__).resolve().parents[2]
ENGINE_SERVICES = ("migrate", "worker", "beat", "webhooks", "flower")
#: Defaults a container needs to differ from a checkout's (documented in docs/operations.md).
CONTAINER_DEFAULTS = {
    "DATA_DIR": "/data",
    "DATABASE_URL": "postgresql://sync:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}@postgres:5432/sync",
    "REDIS_URL": "redis://redis:6379/0",
    "WEBHOOKS_HOST": "0.0.0.0",
    "FLOWER_ADDRESS": "0.0.0.0",
    "LOG_FORMAT": "json",
}
REFERENCE = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+):-(?P<default>.*)\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_has_every_service_of_a_deployment(compose) -> None:
    services = compose["services"]

    assert set(services) == {"redis", "postgres", *ENGINE_SERVICES, "sandboxes"}
    assert services["sandboxes"]["profiles"] == ["sandboxes"]
    assert all("profiles" not in s for name, s in services.items() if name != "sandboxes")


def test_redis_keeps_an_append_only_file_and_never_evicts(compose) -> None:
    command = " ".join(compose["services"]["redis"]["command"])

    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(v.endswith(":/data") for v in compose["services"]["redis"]["volumes"])


@pytest.mark.parametrize("service", ENGINE_SERVICES)
def test_engine_services_pass_every_setting_with_its_default(compose, service) -> None:
    env = compose["services"][service]["environment"]

    assert set(env) == {v.name for v in VARIABLES}
    for var in VARIABLES:
        match = REFERENCE.match(env[var.name])
        assert match and match["name"] == var.name, env[var.name]
        expected = CONTAINER_DEFAULTS.get(var.name, var.default or "")
        assert match["default"] == expected, var.name


def test_processes_run_the_right_commands_in_order(compose) -> None:
    services = compose["services"]

    assert services["migrate"]["command"][-2:] == ["sync_workers.ledger", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    worker = services["worker"]["command"]
    assert worker[:4] == ["celery", "-A", "sync_workers", "worker"]
    assert set(worker[worker.index("-Q") + 1].split(",")) == set(QUEUES)
    assert "redbeat.RedBeatScheduler" in services["beat"]["command"]
    assert services["webhooks"]["command"] == ["python", "-m", "sync_workers.webhooks"]
    assert services["flower"]["command"][-1] == "sync_workers.observability.flower"
    for name in ("worker", "beat", "webhooks", "flower"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["redis"]["condition"] == "service_healthy"


def test_flower_and_sandboxes_are_published_on_loopback_only(compose) -> None:
    services = compose["services"]

    assert all(p.startswith("127.0.0.1:") for p in services["flower"]["ports"])
    assert all(p.startswith("127.0.0.1:") for p in services["sandboxes"]["ports"])


def test_the_image_and_its_context_leave_secrets_and_local_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert {".env", ".venv", ".git", "data"} <= set(ignored)
    assert "USER sync" in dockerfile
    assert re.search(r"^CMD \[\"celery\", \"-A\", \"sync_workers\", \"worker\"", dockerfile, re.M)


def dockerfile_stages() -> dict[str, tuple[str, list[str]]]:
    """Stage name → (what it is built from, the sources of its COPY instructions), in order."""
    stages: dict[str, tuple[str, list[str]]] = {}
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match line.split():
            case ["FROM", base, "AS", name]:
                copied: list[str] = []
                stages[name] = (base, copied)
            case ["COPY", *arguments, _destination]:
                copied += [a for a in arguments if not a.startswith("--")]
    return stages


def test_the_engine_image_leaves_the_sandboxes_out_and_the_sandboxes_image_has_them(
    compose,
) -> None:
    services = compose["services"]
    stages = dockerfile_stages()

    assert list(stages)[-1] == "engine"  # what a plain `docker build .` builds
    engine_and_bases = ["engine"]
    while (base := stages[engine_and_bases[-1]][0]) in stages:
        engine_and_bases.append(base)
    assert "sandboxes" not in engine_and_bases
    for stage in engine_and_bases:
        copied = stages[stage][1]
        assert not any(c == "." or c.startswith("sandboxes") for c in copied), stage
    assert stages["sandboxes"][1] == ["sandboxes"]

    for name in ENGINE_SERVICES:
        assert services[name]["build"] == {"context": ".", "target": "engine"}, name
    assert services["sandboxes"]["build"] == {"context": ".", "target": "sandboxes"}
    assert services["sandboxes"]["image"] != services["worker"]["image"]
    assert services["sandboxes"]["command"][:3] == ["python", "-m", "sandboxes"]
