"""What ``make run`` starts for given settings: the sandboxes where no real system is configured,
push notifications wired only to the Acumatica sandbox, and a secret that stays out of sight."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sync_workers import devrun
from sync_workers.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ("XCART_", "ACUMATICA_", "WEBHOOK_", "CONSOLE_")


def _settings(**env: str):
    base = {k: v for k, v in os.environ.items() if not k.startswith(SYSTEMS)}
    return load_settings({**base, **env})


def test_with_no_systems_configured_both_sandboxes_run_on_their_ports_and_push_is_wired() -> None:
    run = devrun.plan(_settings())

    assert [s.name for s in run.services] == [
        "sandboxes", "worker", "beat", "webhooks", "flower", "console"
    ]  # fmt: skip
    sandboxes = run.services[0]
    assert sandboxes.argv[1:3] == ["-m", "sandboxes"]  # a process of its own, never imported
    assert sandboxes.ports == (8091, 8092)
    assert sandboxes.argv[-4:] == ["--xcart-port", "8091", "--acumatica-port", "8092"]
    assert "--only" not in sandboxes.argv
    assert run.systems["x-cart"].startswith("SANDBOX http://127.0.0.1:8091/api (made-up data")
    assert run.systems["acumatica"].startswith("SANDBOX http://127.0.0.1:8092/entity")
    assert run.push is not None
    assert run.push.sandbox_url == "http://127.0.0.1:8092"
    webhooks = next(s for s in run.services if s.name == "webhooks")
    assert webhooks.env is not None
    assert webhooks.env["WEBHOOK_ACUMATICA_SECRET"] == run.push.secret
    assert len(run.push.secret) >= 32
    assert run.push.secret != devrun.plan(_settings()).push.secret  # made for each run
    assert run.push.secret not in repr(run) + devrun.push_line(run)
    assert {s["url"] for s in run.push.subscriptions()} == {
        f"http://127.0.0.1:8090/webhooks/acumatica/{flow}"
        for flow in ("orders", "customers", "payments", "shipments", "products", "inventory")
    }


def test_a_secret_file_for_the_receiver_gives_way_to_the_generated_secret(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("WEBHOOK_ACUMATICA_SECRET_FILE", str(tmp_path / "secret"))

    run = devrun.plan(_settings())

    webhooks = next(s for s in run.services if s.name == "webhooks")
    assert webhooks.env is not None
    assert "WEBHOOK_ACUMATICA_SECRET_FILE" not in webhooks.env  # both set: the receiver exits 2


def test_with_a_real_acumatica_nothing_is_subscribed() -> None:
    settings = _settings(
        ACUMATICA_BASE_URL="https://erp.example.com",
        ACUMATICA_USERNAME="api",
        ACUMATICA_PASSWORD="real-password",
    )

    run = devrun.plan(settings)

    sandboxes = run.services[0]
    assert sandboxes.argv[-4:] == ["--only", "xcart", "--xcart-port", "8091"]
    assert sandboxes.ports == (8091,)
    assert run.push is None
    assert next(s for s in run.services if s.name == "webhooks").env is None
    assert "SM302000" in devrun.push_line(run)
    assert run.systems["acumatica"] == "real instance https://erp.example.com"
    assert run.systems["x-cart"].startswith("SANDBOX ")


def test_the_banner_says_which_system_is_a_sandbox(capsys) -> None:
    settings = _settings(XCART_BASE_URL="https://shop.example.com", XCART_API_TOKEN="real-token")
    run = devrun.plan(settings)

    devrun.banner(settings, run)

    lines = capsys.readouterr().out.splitlines()
    assert "  x-cart     real store https://shop.example.com" in lines
    assert any(
        line.startswith("  acumatica  SANDBOX http://127.0.0.1:8092/entity") for line in lines
    )
    assert any(line.startswith("  push       on, Acumatica sandbox") for line in lines)
    assert "real-token" not in "\n".join(lines)


def _devrun(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_workers.devrun", *args],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(SYSTEMS)}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _config_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("configuration error")]


def test_credentials_without_their_url_stop_make_run_before_anything_starts() -> None:
    proc = _devrun({"ACUMATICA_USERNAME": "api-user", "ACUMATICA_PASSWORD": "real-erp-pw"})

    assert proc.returncode == devrun.CONFIG_ERROR
    assert _config_lines(proc) == [
        "configuration error: ACUMATICA_BASE_URL: required with ACUMATICA_USERNAME, "
        "ACUMATICA_PASSWORD, which the engine never sends to the Acumatica sandbox; set it, or "
        "unset them to run on the sandbox"
    ]
    assert "real-erp-pw" not in proc.stdout + proc.stderr
    assert "sync_workers is running" not in proc.stdout


def test_sandbox_urls_refuse_credentials_other_than_the_sandboxs() -> None:
    proc = _devrun(
        {
            "XCART_BASE_URL": "http://127.0.0.1:18091",
            "XCART_API_TOKEN": "real-store-token",
            "ACUMATICA_BASE_URL": "http://127.0.0.1:18092",
            "ACUMATICA_USERNAME": "admin",
            "ACUMATICA_PASSWORD": "sandbox",
        },
        "--sandbox-urls",
    )

    assert proc.returncode == devrun.CONFIG_ERROR
    assert _config_lines(proc) == [
        "configuration error: XCART_API_TOKEN: not the X-Cart sandbox's own credentials, and "
        "--sandbox-urls sends no others to a sandbox (see docs/sandboxes/)"
    ]
    assert "real-store-token" not in proc.stdout + proc.stderr
    assert "everything stopped" not in proc.stdout


def test_sandbox_urls_must_be_local_http_addresses() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(SYSTEMS)},
        "XCART_BASE_URL": "https://shop.example.com",
        "XCART_API_TOKEN": "real-token",
    }

    proc = subprocess.run(
        [sys.executable, "-m", "sync_workers.devrun", "--sandbox-urls"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == devrun.CONFIG_ERROR
    assert "XCART_BASE_URL must be http://127.0.0.1:<port>" in proc.stderr
    assert "real-token" not in proc.stdout + proc.stderr
    assert "everything stopped" not in proc.stdout  # refused before anything started


def test_without_console_users_on_loopback_an_operator_is_made_and_shown_once(capsys) -> None:
    settings = _settings(CONSOLE_USERS="", CONSOLE_ADDRESS="127.0.0.1", CONSOLE_PORT="8188")
    run = devrun.plan(settings)
    console = run.services[-1]
    assert console.argv[1:3] == ["-m", "sync_workers.console"] and console.ports == (8188,)
    assert console.env is not None
    name, password, role = console.env["CONSOLE_USERS"].split(":")
    assert (name, role) == ("admin", "operator") and len(password) >= 12
    assert "CONSOLE_USERS_FILE" not in console.env
    assert password not in repr(console)

    devrun.banner(settings, run)

    out = capsys.readouterr().out
    assert out.count(password) == 1
    assert f"  console    http://127.0.0.1:8188 (sign in as admin / {password}:" in out
    assert devrun.plan(settings).services[-1].env["CONSOLE_USERS"] != console.env["CONSOLE_USERS"]


def test_configured_console_users_are_never_shown(capsys) -> None:
    users = "ops:configured-pass-123:operator"
    settings = _settings(CONSOLE_USERS=users)
    run = devrun.plan(settings)
    console = run.services[-1]
    assert (console.env, console.note) == (None, "")  # its environment: this one's, unchanged

    devrun.banner(settings, run)

    out = capsys.readouterr().out
    assert "  console    http://127.0.0.1:8088" in out.splitlines()
    assert "configured-pass-123" not in out and "sign in as" not in out


def test_a_console_beyond_loopback_without_users_stops_make_run_before_anything_starts() -> None:
    proc = _devrun({"CONSOLE_USERS": "", "CONSOLE_ADDRESS": "0.0.0.0"})

    assert proc.returncode == devrun.CONFIG_ERROR
    assert _config_lines(proc) == [
        "configuration error: CONSOLE_ADDRESS=0.0.0.0 is not loopback: set CONSOLE_USERS "
        "(name:password:role), or leave CONSOLE_ADDRESS at 127.0.0.1"
    ]
    assert "sync_workers is running" not in proc.stdout
