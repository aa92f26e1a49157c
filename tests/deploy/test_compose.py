"""docker-compose.yml against the settings and the hardening it promises: the services a
deployment needs, every variable, secrets as files, containers that cannot write their code, and
the receiver on loopback behind a TLS proxy that passes on /webhooks/ only."""

from __future__ import annotations

import hashlib
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sync_workers.celery import QUEUES
from sync_workers.settings import VARIABLES, load_settings

ROOT = Path(__file__).resolve().parents[2]
ENGINE_SERVICES = ("migrate", "worker", "beat", "webhooks", "console", "flower")
SECRET_VARIABLES = tuple(v.name for v in VARIABLES if v.secret)
#: Defaults a container needs to differ from a checkout's (documented in docs/operations.md).
CONTAINER_DEFAULTS = {
    "DATA_DIR": "/data",
    "WEBHOOKS_HOST": "0.0.0.0",
    "FLOWER_ADDRESS": "0.0.0.0",
    "CONSOLE_ADDRESS": "0.0.0.0",
    "LOG_FORMAT": "json",
}
#: Where each service may write (volumes and tmpfs; docs/operations.md, "Containers").
WRITABLE = {
    **{name: {"/data", "/tmp"} for name in ENGINE_SERVICES},
    "redis": {"/data"},
    "rabbitmq": {"/var/lib/rabbitmq", "/tmp"},
    "postgres": {"/var/lib/postgresql/data", "/run/postgresql", "/tmp"},
    "sandboxes": {"/data", "/tmp"},
    "proxy": {"/data", "/config", "/tmp"},
}
REFERENCE = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+):-(?P<default>.*)\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def create_secrets(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ROOT / "deploy" / "create-secrets.sh"), str(directory)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_compose_has_every_service_of_a_deployment(compose) -> None:
    services = compose["services"]

    assert set(services) == {
        "redis",
        "postgres",
        *ENGINE_SERVICES,
        "sandboxes",
        "proxy",
        "rabbitmq",
    }
    assert services["sandboxes"]["profiles"] == ["sandboxes"]
    assert services["proxy"]["profiles"] == ["proxy"]
    assert services["rabbitmq"]["profiles"] == ["rabbitmq"]
    optional = {"sandboxes", "proxy", "rabbitmq"}
    assert all("profiles" not in s for name, s in services.items() if name not in optional)


def test_redis_keeps_an_append_only_file_and_never_evicts(compose) -> None:
    command = " ".join(compose["services"]["redis"]["command"])

    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(v.endswith(":/data") for v in compose["services"]["redis"]["volumes"])


@pytest.mark.parametrize("service", ENGINE_SERVICES)
def test_engine_services_pass_every_setting_with_its_default(compose, service) -> None:
    env = compose["services"][service]["environment"]

    plain = {v.name for v in VARIABLES if not v.secret}
    assert set(env) == plain | {f"{name}_FILE" for name in SECRET_VARIABLES}
    for var in VARIABLES:
        if var.secret:
            continue
        match = REFERENCE.match(env[var.name])
        assert match and match["name"] == var.name, env[var.name]
        expected = CONTAINER_DEFAULTS.get(var.name, var.default or "")
        assert match["default"] == expected, var.name


@pytest.mark.parametrize("service", ENGINE_SERVICES)
def test_engine_services_read_every_secret_from_a_mounted_file(compose, service) -> None:
    definition = compose["services"][service]
    env = definition["environment"]

    for name in SECRET_VARIABLES:
        secret = name.lower()
        assert env[f"{name}_FILE"] == f"/run/secrets/{secret}"
        assert secret in definition["secrets"]
        assert compose["secrets"][secret] == {"file": f"./secrets/{secret}"}


def test_no_secret_reaches_a_container_through_its_environment(compose) -> None:
    secret_names = set(SECRET_VARIABLES) | {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        assert not secret_names & set(env), name
        for value in env.values():
            interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)", str(value)))
            assert not interpolated & secret_names, (name, value)
    postgres = compose["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert postgres["secrets"] == ["postgres_password"]
    for service in compose["services"].values():
        mounted = {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}
        assert mounted <= set(compose["secrets"])
    assert all(s["file"].startswith("./secrets/") for s in compose["secrets"].values())


def test_redis_admits_only_the_engines_user_and_its_healthcheck_signs_in(compose) -> None:
    redis = compose["services"]["redis"]
    command = redis["command"]

    assert command[command.index("--aclfile") + 1] == "/run/secrets/redis_users_acl"
    assert set(redis["secrets"]) == {"redis_users_acl", "redis_url"}
    check = redis["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL"
    assert '-u "$$(cat /run/secrets/redis_url)"' in check[1]  # the engine's own URL
    for name in ENGINE_SERVICES:
        assert compose["services"][name]["environment"]["REDIS_URL_FILE"] == (
            "/run/secrets/redis_url"
        )


def test_the_secrets_script_makes_every_file_compose_mounts(compose, tmp_path) -> None:
    directory = tmp_path / "secrets"
    made = create_secrets(directory)
    assert made.returncode == 0, made.stderr

    files = {Path(s["file"]).name for s in compose["secrets"].values()}
    assert {p.name for p in directory.iterdir()} == files
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in directory.iterdir())
    text = {p.name: p.read_text() for p in directory.iterdir()}
    password = text["postgres_password"]
    assert len(password) >= 32
    assert text["database_url"] == f"postgresql://sync:{password}@postgres:5432/sync"
    match = re.fullmatch(r"redis://sync:([0-9a-f]{32,})@redis:6379/0", text["redis_url"])
    assert match
    digest = hashlib.sha256(match[1].encode()).hexdigest()
    assert text["redis_users.acl"].splitlines() == [
        "user default off",
        f"user sync on #{digest} ~* &* +@all -@admin",
    ]
    assert match[1] not in text["redis_users.acl"]
    for empty in ("xcart_api_token", "acumatica_password", "acumatica_client_secret", "sentry_dsn"):
        assert text[empty] == ""


def test_the_engine_accepts_the_secrets_as_made(tmp_path) -> None:
    directory = tmp_path / "secrets"
    assert create_secrets(directory).returncode == 0
    env = {f"{name}_FILE": str(directory / name.lower()) for name in SECRET_VARIABLES}

    settings = load_settings(env)

    assert settings.redis_url.reveal() == (directory / "redis_url").read_text()
    assert settings.database_url.reveal() == (directory / "database_url").read_text()
    user, password = settings.flower_basic_auth.reveal().split(":", 1)
    assert user == "sync" and len(password) == 60
    assert settings.xcart_api_token.reveal() == "sandbox-rw"  # empty file: unset, the sandbox
    name, password, role = settings.console_users.reveal().split(":")
    assert (name, role) == ("admin", "operator") and len(password) == 60
    assert settings.sandbox_xcart and settings.sandbox_acumatica


def test_flower_launched_with_the_secret_files_starts_with_settings_it_accepts(tmp_path) -> None:
    """The launcher hands Flower the credentials; Flower's process loads the settings again."""
    from sync_workers.observability.flower import flower_command

    directory = tmp_path / "secrets"
    assert create_secrets(directory).returncode == 0
    env = {f"{name}_FILE": str(directory / name.lower()) for name in SECRET_VARIABLES}
    env["FLOWER_ADDRESS"] = "0.0.0.0"

    _, flower_env = flower_command(load_settings(env), env)

    again = load_settings(flower_env)
    assert again.flower_basic_auth.reveal() == (directory / "flower_basic_auth").read_text()


def test_the_secrets_script_never_changes_a_file(tmp_path) -> None:
    directory = tmp_path / "secrets"
    assert create_secrets(directory).returncode == 0
    (directory / "xcart_api_token").write_text("the-store-token")
    (directory / "flower_basic_auth").unlink()
    before = {p.name: p.read_text() for p in directory.iterdir()}

    again = create_secrets(directory)

    assert again.returncode == 0
    assert again.stdout.strip() == f"created {directory}/flower_basic_auth"
    after = {p.name: p.read_text() for p in directory.iterdir()}
    assert after.pop("flower_basic_auth").startswith("sync:")
    assert after == before
    (directory / "redis_users.acl").unlink()  # half of the Redis pair: nothing to derive it from
    refused = create_secrets(directory)
    assert refused.returncode == 1
    assert "redis_url" in refused.stderr and not (directory / "redis_users.acl").exists()


def test_every_container_runs_without_new_privileges_on_a_read_only_root(compose) -> None:
    for name, service in compose["services"].items():
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["read_only"] is True, name


def test_containers_write_only_to_their_volumes_and_tmpfs(compose) -> None:
    for name, service in compose["services"].items():
        writable = {path.split(":")[0] for path in service.get("tmpfs", [])}
        for volume in service.get("volumes", []):
            _, target, *mode = volume.split(":")
            if mode != ["ro"]:
                writable.add(target)
        assert writable == WRITABLE[name], name
    for name in (*ENGINE_SERVICES, "sandboxes"):
        assert compose["services"][name]["cap_drop"] == ["ALL"], name
    assert compose["services"]["proxy"]["cap_drop"] == ["ALL"]
    assert compose["services"]["proxy"]["cap_add"] == ["NET_BIND_SERVICE"]


def test_only_the_proxy_publishes_beyond_the_hosts_loopback(compose) -> None:
    services = compose["services"]

    assert services["webhooks"]["ports"] == [
        "127.0.0.1:${WEBHOOKS_PORT:-8090}:${WEBHOOKS_PORT:-8090}"
    ]
    for name, service in services.items():
        if name != "proxy":
            assert all(p.startswith("127.0.0.1:") for p in service.get("ports", [])), name
    assert set(services["proxy"]["ports"]) == {"80:80", "443:443", "443:443/udp"}


def test_the_proxy_passes_on_webhooks_and_nothing_else(compose) -> None:
    proxy = compose["services"]["proxy"]
    assert "./deploy/caddy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert proxy["environment"]["WEBHOOKS_UPSTREAM"] == "webhooks:${WEBHOOKS_PORT:-8090}"
    assert proxy["depends_on"]["webhooks"]["condition"] == "service_healthy"

    lines = [
        line.strip()
        for line in (ROOT / "deploy" / "caddy" / "Caddyfile").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    handles = [i for i, line in enumerate(lines) if line.startswith("handle")]
    assert [lines[i] for i in handles] == ["handle /webhooks/* {", "handle {"]
    proxied = [i for i, line in enumerate(lines) if line.startswith("reverse_proxy")]
    assert len(proxied) == 1 and handles[0] < proxied[0] < handles[1]
    assert lines[proxied[0]] == "reverse_proxy {$WEBHOOKS_UPSTREAM:webhooks:8090}"
    assert lines[handles[1] + 1] == "respond 404"

    nginx = (ROOT / "deploy" / "nginx" / "sync_workers.conf").read_text()
    locations = re.findall(r"location (\S+) \{([^}]*)\}", nginx)
    assert [path for path, _ in locations] == ["/webhooks/", "/"]
    assert "proxy_pass http://127.0.0.1:8090;" in locations[0][1]
    assert locations[1][1].strip() == "return 404;"
    assert nginx.count("proxy_pass") == 1
    assert re.findall(r"^\s*listen (.*);", nginx, re.M) == ["443 ssl", "[::]:443 ssl"]


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
    assert services["console"]["command"] == ["python", "-m", "sync_workers.console"]
    for name in ("worker", "beat", "webhooks", "console", "flower"):
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

    assert {".env", ".venv", ".git", "data", "secrets"} <= set(ignored)
    assert "USER sync" in dockerfile
    assert re.search(r"^CMD \[\"celery\", \"-A\", \"sync_workers\", \"worker\"", dockerfile, re.M)


def test_the_code_in_the_images_belongs_to_root_not_to_the_user_running_it() -> None:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = [
        line.split(None, 1) for line in text.splitlines() if line and not line.startswith("#")
    ]

    user = "root"
    for keyword, rest in instructions:
        if keyword == "FROM":
            user = "root"
        elif keyword == "USER":
            user = rest.strip()
        elif keyword in ("COPY", "ADD", "RUN"):
            assert user == "root", rest  # every file is made by root, none by the running user
        assert "--chown" not in rest and "--chmod" not in rest, rest
        assert re.findall(r"\bchown\s+\S+\s+(\S+)", rest) in ([], ["/data"]), rest
    assert user == "sync"


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


def test_the_sandboxes_listen_beyond_loopback_in_their_container_only_by_leave(compose) -> None:
    """The sandboxes refuse a non-loopback --host without --allow-remote; compose publishes
    their ports on the host's loopback only."""
    dockerfile = (ROOT / "Dockerfile").read_text().split(" AS engine")[0]
    image_cmd = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    for argv in (compose["services"]["sandboxes"]["command"], yaml.safe_load(image_cmd[-1])):
        assert argv[argv.index("--host") + 1] == "0.0.0.0"
        assert "--allow-remote" in argv


def test_the_console_is_on_the_hosts_loopback_and_refuses_to_start_without_users(
    compose, tmp_path
) -> None:
    """Inside its container the console listens on every interface, so it needs its users:
    the secrets script makes one, and without it the console exits 2 before it serves."""
    console = compose["services"]["console"]
    assert console["ports"] == ["127.0.0.1:${CONSOLE_PORT:-8088}:${CONSOLE_PORT:-8088}"]
    assert "/healthz" in " ".join(console["healthcheck"]["test"])
    assert console["environment"]["CONSOLE_USERS_FILE"] == "/run/secrets/console_users"

    env = {
        "PATH": "/usr/bin:/bin",
        "CONSOLE_ADDRESS": "0.0.0.0",
        "DATA_DIR": str(tmp_path / "data"),
    }
    refused = subprocess.run(
        [sys.executable, "-m", "sync_workers.console"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "CONSOLE_USERS" in refused.stderr and "Traceback" not in refused.stderr


def test_the_rabbitmq_profile_runs_the_broker_the_engine_waits_for(compose, tmp_path) -> None:
    """RabbitMQ (quorum queues need 3.10 or later) reads its user, password and vhost from a
    secret, publishes nothing on the host, and the engine's services wait for it to be healthy
    when its profile runs; a BROKER_URL naming it is accepted, its password never shown."""
    services = compose["services"]
    rabbitmq = services["rabbitmq"]
    major, minor = (int(n) for n in rabbitmq["image"].split(":")[1].split("-")[0].split(".")[:2])
    assert (major, minor) >= (3, 10)
    assert rabbitmq["secrets"] == [
        {"source": "rabbitmq_conf", "target": "/etc/rabbitmq/conf.d/90-sync.conf"}
    ]
    assert compose["secrets"]["rabbitmq_conf"] == {"file": "./secrets/rabbitmq.conf"}
    assert "ports" not in rabbitmq
    assert "rabbitmq-diagnostics" in rabbitmq["healthcheck"]["test"]
    for name in ("worker", "beat", "webhooks", "console", "flower"):
        assert services[name]["depends_on"]["rabbitmq"] == {
            "condition": "service_healthy",
            "required": False,
        }

    (tmp_path / "broker_url").write_text("amqp://sync:a-rabbit-password@rabbitmq:5672/sync")
    settings = load_settings({"BROKER_URL_FILE": str(tmp_path / "broker_url")})
    assert settings.broker_url.reveal().startswith("amqp://sync:")
    assert "a-rabbit-password" not in repr(settings)
