"""The console in a real browser (headless Chromium, Debian's packages) against the real
gunicorn process: each page's main path clicked through, a screenshot of each page kept."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sync_workers.task import get_dlq
from tests.console import browser
from tests.console.conftest import (
    OPERATOR,
    PASSWORDS,
    USERS,
    VIEWER,
    add_entry,
    add_record,
)

ROOT = Path(__file__).resolve().parents[2]
WAIT = 15


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def console_url(ledger, redis_url, tmp_path_factory) -> Iterator[str]:
    """``python -m sync_workers.console`` (gunicorn) on a port of its own."""
    port = _free_port()
    log = tmp_path_factory.mktemp("console-process") / "console.log"
    env = {**os.environ, "CONSOLE_USERS": USERS, "CONSOLE_PORT": str(port)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sync_workers.console", "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the console did not start:\n{log.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "jane@example.com" not in log.read_text()  # no customer data in its log


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    reason = browser.ensure_installed()
    if reason:
        browser.unavailable(reason)
    try:
        session = browser.start_chromium()
    except Exception as exc:
        browser.unavailable(f"{type(exc).__name__}: {exc}")
    session.set_page_load_timeout(WAIT)
    yield session
    session.quit()


@pytest.fixture(scope="module")
def artefacts() -> Path:
    """Where the screenshots are kept: ``$TEST_ARTEFACTS/console`` (``build/test-artefacts``
    by default), replaced on each run."""
    base = Path(os.environ.get("TEST_ARTEFACTS") or ROOT / "build" / "test-artefacts")
    folder = base / "console"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


class Browser:
    """The few moves the tests make, each waiting for the page it leads to."""

    def __init__(self, driver, base: str, artefacts: Path) -> None:
        self.driver = driver
        self.base = base
        self.artefacts = artefacts

    def by(self, css: str):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, WAIT).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, css))
        )

    def all(self, css: str) -> list:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)

    def _leaving(self):
        """Waits, once called, until the page shown now has been replaced by the next one."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        page = self.driver.find_element(By.TAG_NAME, "html")
        return lambda: WebDriverWait(self.driver, WAIT).until(ec.staleness_of(page))

    def click(self, css: str) -> None:
        """Click what leads to another page, and wait for that page."""
        left = self._leaving()
        self.by(css).click()
        left()

    def link(self, text: str) -> None:
        from selenium.webdriver.common.by import By

        left = self._leaving()
        self.driver.find_element(By.LINK_TEXT, text).click()
        left()

    def confirm(self, button) -> None:
        """Click a button that asks for a confirmation, confirm, and wait for the next page."""
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        left = self._leaving()
        button.click()
        WebDriverWait(self.driver, WAIT).until(ec.alert_is_present()).accept()
        left()

    def text(self) -> str:
        return str(self.by("main").text)

    def shot(self, name: str) -> None:
        path = self.artefacts / f"{name}.png"
        assert self.driver.save_screenshot(str(path)) and path.stat().st_size > 0

    def sign_in(self, name: str) -> None:
        self.driver.delete_all_cookies()
        self.go("/")
        self.by("#name").send_keys(name)
        self.by("#password").send_keys(PASSWORDS[name])
        self.click("#sign-in")
        self.by("#who")


@pytest.fixture
def web(driver, console_url, artefacts, redis_client, clean_ledger, known_skus, capsys):
    with capsys.disabled():
        print(f"\nconsole screenshots: {artefacts}")
    return Browser(driver, console_url, artefacts)


def test_an_operator_walks_every_page(web, clean_ledger) -> None:
    add_record(
        clean_ledger,
        source_id="42",
        data={"order_number": "1042", "status": "Open"},
        runs=[
            {"outcome": "retry", "error_class": "TransientError", "error": "Acumatica timed out"},
            {"outcome": "ok", "attempt": 2, "steps": "fetch,validate,customer,transform,push"},
        ],
    )
    unknown_sku = {"items[0].sku": "SKU 'GHOST' is not known in Acumatica and not mapped"}
    for record in ("301", "302", "303"):
        add_entry(
            record,
            message=f"order {record} is invalid: items[0].sku: SKU 'GHOST' is not known in "
            "Acumatica and not mapped",
            field_errors=unknown_sku,
        )
    to_edit = add_entry("42")

    web.go("/")
    web.by("#sign-in")
    web.shot("01-sign-in")
    web.sign_in(OPERATOR)
    assert "Needs attention" in web.text()
    web.shot("02-overview")

    web.link("Records")
    web.by("#q").send_keys("1042")
    web.click("#search")
    web.by("#results")
    web.shot("03-records-search")
    web.link("X-Cart 42")
    web.by("#timeline")
    assert web.by("#target-key").text == "SO/000042"
    assert len(web.all("#timeline tbody tr")) == 2
    web.shot("04-record-timeline")

    web.link("Dead letters")
    web.by("#groups")
    web.shot("05-dead-letters")
    row = next(r for r in web.all("#groups tbody tr") if "GHOST" in r.text)
    row.find_element("css selector", "input[name=note]").send_keys("SKU created in Acumatica")
    web.confirm(row.find_element("css selector", "button.resolve-group"))
    assert "3 resolved" in web.by(".flash").text
    assert not [r for r in web.all("#groups tbody tr") if "GHOST" in r.text]

    web.go(f"/dead-letters/{to_edit.id}")
    web.by("#kwargs")
    web.shot("06-dead-letter")
    web.click("#edit")
    area = web.by("#arguments")
    original = area.get_attribute("value")
    area.clear()
    area.send_keys(original.replace('"Drone"', '"Teleport"'))
    web.click("#validate-replay")
    assert "unmapped shipping method 'Teleport'" in web.by("#refused").text
    web.shot("07-edit-refused")
    assert get_dlq().get(to_edit.id).status == "open"  # nothing published
    area = web.by("#arguments")
    area.clear()
    area.send_keys(original.replace('"Drone"', '"Courier"'))
    web.click("#validate-replay")
    assert "Edited and replayed" in web.by(".flash").text
    assert get_dlq().get(to_edit.id).status == "replayed"
    web.shot("08-edited-and-replayed")

    web.link("Mapping")
    web.by("#templates")
    web.shot("09-mapping")
    web.link("Reconcile")
    web.by("#run-check")
    web.shot("10-reconcile")
    web.link("Audit")
    assert "resolved" in web.by("#audit").text and f"console:{OPERATOR}" in web.text()
    web.shot("11-audit")


def test_a_viewer_sees_no_action_and_is_refused_one(web) -> None:
    entry = add_entry("55")
    web.sign_in(VIEWER)

    web.go(f"/dead-letters/{entry.id}")
    assert "shown to operators only" in web.text()
    assert not web.all("#replay") and not web.all("#edit") and not web.all("#resolve")
    web.go(f"/dead-letters/{entry.id}/edit")
    assert "403" in web.by("h1").text
    web.shot("12-viewer-refused")
    assert get_dlq().get(entry.id).status == "open"


def test_an_operator_runs_the_preflight_and_reads_each_check(web, sandboxes) -> None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    web.sign_in(OPERATOR)
    web.link("Preflight")
    orders = web.by("#orders")
    orders.clear()
    orders.send_keys("5")
    web.click("#run-preflight")

    def status(driver) -> str | None:  # the page refreshes itself while the run goes on
        try:
            text = driver.find_element(By.ID, "run-status").text
        except (NoSuchElementException, StaleElementReferenceException):
            return None
        return text if text != "running" else None

    assert WebDriverWait(web.driver, 120, poll_frequency=0.3).until(status) == "done"
    sign_in_row = web.by("#preflight-checks").find_element(
        By.XPATH, ".//tr[td/code[text()='access.acumatica_sign_in']]"
    )
    assert "outcome-pass" in sign_in_row.get_attribute("class")
    assert web.by("#preflight-verdict").text.startswith(("Ready", "Not ready"))
    web.shot("13-preflight")
