"""Settings: validated at start-up, one clear line per bad variable, secrets never shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sync_workers.settings import VARIABLES, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


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
    lines = problems({"ACUMATICA_AUTH_MODE": "oauth", "ACUMATICA_CLIENT_ID": "abc"})
    assert lines == ["ACUMATICA_CLIENT_SECRET: required when ACUMATICA_AUTH_MODE is oauth"]


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
