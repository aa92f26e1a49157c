"""Debian's Chromium and ChromeDriver for the browser tests, installed when missing.

Nothing downloads a browser of its own: the packages come from the distribution
(``apt-get install chromium chromium-driver``), and Selenium is pointed at both binaries, so
Selenium Manager has nothing to fetch. Under ``CI=true`` a browser that cannot run fails the
run; elsewhere it skips the browser tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")
ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


def _missing() -> list[str]:
    return [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args], capture_output=True, text=True, timeout=900, env=env, check=False
    )


def ensure_installed() -> str | None:
    """Install Debian's packages when a binary is missing; why the browser cannot run, or None."""
    if not _missing():
        return None
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return (
            f"{', '.join(_missing())} missing and apt-get cannot install {' '.join(PACKAGES)} here"
        )
    installed = _apt("install", "-y", "-q", "--no-install-recommends", *PACKAGES)
    if installed.returncode != 0:  # a fresh machine has no package lists yet
        _apt("update", "-q")
        installed = _apt("install", "-y", "-q", "--no-install-recommends", *PACKAGES)
    if installed.returncode != 0 or _missing():
        return f"apt-get install {' '.join(PACKAGES)} failed: {installed.stderr.strip()[-500:]}"
    return None


def unavailable(reason: str) -> None:
    message = f"the browser tests need Chromium: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def start_chromium():
    """A headless Chromium session driven through Debian's ChromeDriver."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download anything
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ARGUMENTS:
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
