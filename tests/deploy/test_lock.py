"""The dependency lock: what CI tests is what a fresh machine and the image install."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DEV_LOCK = ROOT / "requirements" / "dev.txt"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
sys.path.insert(0, str(ROOT / "scripts"))
check_lock = __import__("check-lock")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirements(group: str | None) -> list[Requirement]:
    project = _project()
    texts = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return [Requirement(text) for text in texts]


def test_installed_versions_equal_the_lock() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check-lock.py"), str(DEV_LOCK)],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("group", [None, "dev"])
def test_every_declared_range_has_an_upper_bound_and_admits_the_locked_version(group) -> None:
    locked = check_lock.locked(DEV_LOCK)

    for requirement in _requirements(group):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is not in {DEV_LOCK.name}: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{requirement.name}=={locked[name]} is outside {requirement.specifier}"
        )
        assert any(s.operator in ("<", "==", "~=") for s in requirement.specifier), (
            f"{requirement} has no upper bound"
        )


def test_runtime_lock_is_the_dev_lock_without_the_tools() -> None:
    runtime, dev = check_lock.locked(RUNTIME_LOCK), check_lock.locked(DEV_LOCK)
    tools = {canonicalize_name(r.name) for r in _requirements("dev")}

    assert {n: v for n, v in runtime.items() if dev.get(n) != v} == {}
    assert not tools & set(runtime), "a dev tool is in the runtime lock"
    for requirement in _requirements(None):
        assert canonicalize_name(requirement.name) in runtime, requirement.name


def test_known_advisories_are_excluded_by_the_declared_minimums() -> None:
    minimums = {canonicalize_name(r.name): r.specifier for r in _requirements(None)}

    for name, vulnerable in {
        "gunicorn": "22.0.0",  # request smuggling, CVE-2024-6827 (fixed in 23.0.0)
        "requests": "2.32.3",  # .netrc credentials sent to other hosts, CVE-2024-47081
        "werkzeug": "3.0.5",  # multipart resource exhaustion, CVE-2024-49767
        "tornado": "6.5.4",  # multipart parsing DoS, CVE-2025-47287 and CVE-2026-31958
    }.items():
        assert not minimums[name].contains(vulnerable), name


@pytest.mark.slow
def test_the_runtime_lock_installs_alone_and_runs_the_engine(tmp_path: Path) -> None:
    """As the image does: the runtime lock, hash-checked, then the project without isolation."""
    env_dir = tmp_path / "runtime"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )

    for step in (
        [
            "-m",
            "pip",
            "install",
            "--quiet",
            "--require-hashes",
            "--no-deps",
            "-r",
            str(RUNTIME_LOCK),
        ],
        ["-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", "."],
        ["-m", "pip", "check"],
        [str(ROOT / "scripts" / "check-lock.py"), str(RUNTIME_LOCK)],
        ["-m", "celery", "-A", "sync_workers", "sync-status", "--help"],
        ["-c", "import sync_workers.webhooks.app, sync_workers.observability.flower"],
    ):
        result = run(*step)
        assert result.returncode == 0, f"{' '.join(step)}\n{result.stdout}\n{result.stderr}"
