"""Settings: validated at start-up, one clear line per bad variable, secrets never shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sync_workers.settings import (
    ACUMATICA,
    PASSWORD_MIN_LENGTH,
    VARIABLES,
    WEBHOOK_SECRET_MIN_LENGTH,
    XCART,
    SettingsError,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[2]
#: The environment of this suite without any system or secret setting (the suite's conftest
#: points the engine at sandboxes of its own through XCART_* and ACUMATICA_*).
BARE_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("XCART_", "ACUMATICA_", "WEBHOOK_", "FLOWER_"))
}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    return info.value.problems


def test_no_credentials_means_the_built_in_sandboxes() -> None:
    settings = load_settings({})
    assert settings.sandbox_xcart and settings.sandbox_acumatica
    assert settings.xcart_base_url == "http://127.0.0.1:8091"
    assert settings.acumatica_base_url == "http://127.0.0.1:8092"
    assert settings.acumatica_username == "admin"
    assert settings.database_url.reveal().startswith("sqlite:///")
    assert settings.database_url.reveal().endswith("/data/sync_workers.db")


def test_only_a_ledger_nobody_named_is_the_embedded_one(tmp_path) -> None:
    default = load_settings({"DATA_DIR": str(tmp_path)})
    same_file = f"sqlite:///{tmp_path / 'sync_workers.db'}"
    named = load_settings({"DATA_DIR": str(tmp_path), "DATABASE_URL": same_file})

    assert default.embedded_ledger
    assert default.database_url.reveal() == same_file
    assert not named.embedded_ledger


def test_each_bad_variable_is_named_with_what_is_wrong() -> None:
    lines = problems(
        {
            "ACUMATICA_MAX_SESSIONS": "two",
            "REDIS_URL": "http://localhost:6379",
            "LOG_LEVEL": "LOUD",
            "TASK_SOFT_TIME_LIMIT": "400",
            "XCART_BASE_URL": "https://shop.example",
        }
    )
    joined = "\n".join(lines)
    assert re.search(r"^ACUMATICA_MAX_SESSIONS: Not a valid integer\. \(got 'two'\)$", joined, re.M)
    assert re.search(r"^REDIS_URL: must be a URL with scheme", joined, re.M)
    assert re.search(r"^LOG_LEVEL: Must be one of", joined, re.M)
    assert re.search(r"^TASK_SOFT_TIME_LIMIT: must be below TASK_TIME_LIMIT \(300\)", joined, re.M)
    assert re.search(r"^XCART_API_TOKEN: required when XCART_BASE_URL is set$", joined, re.M)
    assert len(lines) == 5


def test_visibility_timeout_shorter_than_the_longest_delay_is_refused() -> None:
    [line] = problems({"BROKER_VISIBILITY_TIMEOUT": "400", "RETRY_BACKOFF_MAX": "300"})
    assert line.startswith("BROKER_VISIBILITY_TIMEOUT: must exceed 1.5 x the longest delay")


def test_a_lock_that_could_expire_under_a_running_task_is_refused() -> None:
    [line] = problems(
        {"LOCK_TIMEOUT": "300", "TASK_TIME_LIMIT": "300", "TASK_SOFT_TIME_LIMIT": "240"}
    )
    assert line.startswith("LOCK_TIMEOUT: must exceed TASK_TIME_LIMIT (300)")


def test_http_read_retries_is_a_whole_number_from_0_to_10() -> None:
    assert load_settings({}).http_read_retries == 2
    assert load_settings({"HTTP_READ_RETRIES": "0"}).http_read_retries == 0
    assert load_settings({"HTTP_READ_RETRIES": "10"}).http_read_retries == 10
    for bad in ("11", "-1"):
        [line] = problems({"HTTP_READ_RETRIES": bad})
        assert line == (
            "HTTP_READ_RETRIES: Must be greater than or equal to 0 and less than or equal to 10. "
            f"(got '{bad}')"
        )
    for bad in ("two", "1.5"):
        [line] = problems({"HTTP_READ_RETRIES": bad})
        assert line == f"HTTP_READ_RETRIES: Not a valid integer. (got '{bad}')"


def test_real_acumatica_needs_credentials_and_oauth_needs_a_client() -> None:
    lines = problems({"ACUMATICA_BASE_URL": "https://erp.example", "ACUMATICA_USERNAME": "api"})
    assert lines == ["ACUMATICA_PASSWORD: required when ACUMATICA_BASE_URL is set"]
    lines = problems(
        {
            "ACUMATICA_BASE_URL": "https://erp.example",
            "ACUMATICA_AUTH_MODE": "oauth",
            "ACUMATICA_CLIENT_ID": "abc",
        }
    )
    assert lines == ["ACUMATICA_CLIENT_SECRET: required when ACUMATICA_AUTH_MODE is oauth"]


@pytest.mark.parametrize(
    ("system", "name"),
    [(XCART, name) for name in XCART.instance] + [(ACUMATICA, name) for name in ACUMATICA.instance],
)
def test_a_setting_of_a_system_without_its_url_is_refused(system, name) -> None:
    value = "oauth" if name == "ACUMATICA_AUTH_MODE" else "value-of-a-real-system"

    [line] = problems({name: value})

    assert line == (
        f"{system.url}: required with {name}, which the engine never sends to the "
        f"{system.name} sandbox; set it, or unset them to run on the sandbox"
    )


def test_real_credentials_without_the_url_are_named_in_one_line_and_never_shown(
    tmp_path,
) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("real-erp-password\n")

    lines = problems(
        {
            "ACUMATICA_USERNAME": "api-user",
            "ACUMATICA_PASSWORD_FILE": str(password_file),
            "ACUMATICA_TENANT": "Real Company",
        }
    )

    assert lines == [
        "ACUMATICA_BASE_URL: required with ACUMATICA_USERNAME, ACUMATICA_PASSWORD, "
        "ACUMATICA_TENANT, which the engine never sends to the Acumatica sandbox; set it, or "
        "unset them to run on the sandbox"
    ]
    assert "real-erp-password" not in lines[0]


def test_a_system_runs_on_its_sandbox_only_when_none_of_its_settings_is_given() -> None:
    # Defaults spelt out (as docker-compose.yml passes them) and limits are not an account.
    settings = load_settings(
        {
            "ACUMATICA_AUTH_MODE": "cookie",
            "ACUMATICA_ENDPOINT": "Default/24.200.001",
            "ACUMATICA_MAX_SESSIONS": "2",
            "ACUMATICA_REQUESTS_PER_MINUTE": "100",
            "XCART_READ_TIMEOUT": "10",
            "XCART_API_TOKEN": "",
        }
    )
    assert settings.sandbox_acumatica and settings.sandbox_xcart
    assert settings.acumatica_requests_per_minute == 100
    assert (settings.acumatica_username, settings.acumatica_tenant) == ("admin", "Company")

    real = load_settings(
        {"XCART_BASE_URL": "https://shop.example", "XCART_API_TOKEN": "real-store-token"}
    )
    assert not real.sandbox_xcart and real.sandbox_acumatica
    assert real.xcart_api_token.reveal() == "real-store-token"


@pytest.mark.parametrize("name", ["WEBHOOK_ACUMATICA_SECRET", "WEBHOOK_XCART_SECRET"])
def test_a_webhook_secret_needs_32_characters(name, tmp_path) -> None:
    assert WEBHOOK_SECRET_MIN_LENGTH == 32
    for weak in ("x", "s" * 31):
        [line] = problems({name: weak})
        assert line.startswith(f"{name}: must be at least 32 characters")
        assert weak not in line
    secret_file = tmp_path / "secret"
    secret_file.write_text("short-from-a-file\n")
    [line] = problems({f"{name}_FILE": str(secret_file)})
    assert line.startswith(f"{name}: must be at least 32 characters")
    assert "short-from-a-file" not in line

    strong = "S" * 32
    assert load_settings({name: strong}).values[name.lower()].reveal() == strong


def test_every_flower_password_needs_12_characters() -> None:
    assert PASSWORD_MIN_LENGTH == 12
    for weak in ("a:b", "ops:eleven-char", "ops:twelve-chars,guest:short"):
        [line] = problems({"FLOWER_BASIC_AUTH": weak})
        assert line == "FLOWER_BASIC_AUTH: each password must be at least 12 characters"
    for malformed in ("no-colon-at-all", ":no-user-but-long-password", "ops:twelve-chars,"):
        assert problems({"FLOWER_BASIC_AUTH": malformed}) == [
            "FLOWER_BASIC_AUTH: must be user:password"
        ]
    for good in ("ops:twelve-chars", "ops:twelve-chars,audit:with:colons:ok"):
        assert load_settings({"FLOWER_BASIC_AUTH": good}).flower_basic_auth.reveal() == good


def _start(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def _config_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("configuration error")]


def test_the_receiver_refuses_a_weak_webhook_secret_at_start() -> None:
    proc = _start(
        [sys.executable, "-m", "sync_workers.webhooks", "--port", "1"],
        {**BARE_ENV, "WEBHOOK_XCART_SECRET": "k"},
    )

    assert proc.returncode == 2
    assert _config_lines(proc) == [
        "configuration error: WEBHOOK_XCART_SECRET: must be at least 32 characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one)"
    ]


def test_a_worker_refuses_a_weak_flower_password_at_start() -> None:
    proc = _start(
        [sys.executable, "-m", "celery", "-A", "sync_workers", "worker", "--pool", "solo"],
        {**BARE_ENV, "FLOWER_BASIC_AUTH": "a:b"},
    )

    assert proc.returncode == 2
    assert _config_lines(proc) == [
        "configuration error: FLOWER_BASIC_AUTH: each password must be at least 12 characters"
    ]
    assert "a:b" not in proc.stdout + proc.stderr


def test_a_worker_refuses_credentials_without_their_url_at_start() -> None:
    proc = _start(
        [sys.executable, "-m", "celery", "-A", "sync_workers", "worker", "--pool", "solo"],
        {**BARE_ENV, "ACUMATICA_USERNAME": "api-user", "ACUMATICA_PASSWORD": "real-erp-pw"},
    )

    assert proc.returncode == 2
    assert _config_lines(proc) == [
        "configuration error: ACUMATICA_BASE_URL: required with ACUMATICA_USERNAME, "
        "ACUMATICA_PASSWORD, which the engine never sends to the Acumatica sandbox; set it, or "
        "unset them to run on the sandbox"
    ]
    assert "real-erp-pw" not in proc.stdout + proc.stderr


def test_secrets_are_masked_in_repr_and_errors(tmp_path) -> None:
    env = {
        "ACUMATICA_BASE_URL": "https://erp.example",
        "ACUMATICA_USERNAME": "api",
        "ACUMATICA_PASSWORD": "hunter2-pw",
        "XCART_BASE_URL": "https://shop.example",
        "XCART_API_TOKEN": "tok-abc-123",
        "REDIS_URL": "redis://:redis-pw@cache:6379/0",
        "DATABASE_URL": "postgresql://sync:db-pw@db/sync",
        "SENTRY_DSN": "https://key@sentry.example/1",
    }
    text = repr(load_settings(env))
    for secret in ("hunter2-pw", "tok-abc-123", "redis-pw", "db-pw", "key@sentry"):
        assert secret not in text
    assert "redis://:********@cache:6379/0" in text
    bad = problems({**env, "ACUMATICA_PASSWORD": "", "FLOWER_BASIC_AUTH": "admin-no-colon-pw"})
    assert all("admin-no-colon-pw" not in line for line in bad)
    assert "FLOWER_BASIC_AUTH: must be user:password" in bad


def test_a_secret_can_come_from_a_file(tmp_path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-a-file\n")
    settings = load_settings(
        {
            "ACUMATICA_BASE_URL": "https://erp.example",
            "ACUMATICA_USERNAME": "api",
            "ACUMATICA_PASSWORD_FILE": str(secret_file),
        }
    )
    assert settings.acumatica_password.reveal() == "from-a-file"
    lines = problems({"ACUMATICA_PASSWORD_FILE": str(tmp_path / "missing")})
    assert lines[0].startswith("ACUMATICA_PASSWORD_FILE: cannot read")
    both = problems({"ACUMATICA_PASSWORD": "x", "ACUMATICA_PASSWORD_FILE": str(secret_file)})
    assert both[0] == (
        "ACUMATICA_PASSWORD: set either ACUMATICA_PASSWORD or ACUMATICA_PASSWORD_FILE, not both"
    )


def test_celery_refuses_to_start_with_one_line_per_bad_variable_and_no_traceback() -> None:
    env = {**os.environ, "ACUMATICA_MAX_SESSIONS": "0", "XCART_API_TOKEN": "", "LOG_FORMAT": "xml"}
    proc = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "sync_workers", "report"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("configuration error")]
    assert lines == [
        "configuration error: ACUMATICA_MAX_SESSIONS: Must be greater than or equal to 1 and "
        "less than or equal to 100. (got '0')",
        "configuration error: LOG_FORMAT: Must be one of: auto, json, text. (got 'xml')",
        "configuration error: XCART_API_TOKEN: required when XCART_BASE_URL is set",
    ]


def test_env_example_and_readme_list_every_variable() -> None:
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for var in VARIABLES:
        assert re.search(rf"^#?\s*{var.name}=", example, re.M), (
            f"{var.name} missing in .env.example"
        )
        assert f"`{var.name}`" in readme, f"{var.name} missing in the README's configuration table"
