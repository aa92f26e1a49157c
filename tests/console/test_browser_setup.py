"""The browser tests' setup: Debian's packages or nothing, and a missing browser fails CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console import browser


def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="the browser tests need Chromium: gone"):
        browser.unavailable("gone")

    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="the browser tests need Chromium: gone"):
        browser.unavailable("gone")


def test_without_apt_get_the_missing_binaries_are_named(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get on it

    reason = browser.ensure_installed()

    assert reason == (
        f"{tmp_path / 'chromium'} missing and apt-get cannot install chromium chromium-driver here"
    )


def test_with_both_binaries_present_nothing_is_installed(monkeypatch, tmp_path: Path) -> None:
    for name in ("chromium", "chromedriver"):
        (tmp_path / name).write_text("")
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setattr(browser, "CHROMEDRIVER", tmp_path / "chromedriver")
    monkeypatch.setenv("PATH", str(tmp_path))

    assert browser.ensure_installed() is None
