"""A real worker's log output names the record, the step and the error, never the shopper.

``celery -A sync_workers worker`` runs in a subprocess, as production runs it, with its output
in a file; an order that dead-letters at ``validate`` (its whole X-Cart order in the message, as
a poll sends it) and a customer whose error message carries an e-mail go through it, in JSON and
in text.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sync_workers.flows import runner
from sync_workers.flows.orders import steps as order_steps
from tests.flows.order_to_cash.helpers import address, checkout, wait_for
from tests.foundation.test_base_task import open_entries
from tests.observability import sentry_tasks
from tests.observability.test_sentry import EMAIL, PERSONAL, customer

ROOT = Path(__file__).resolve().parents[2]

SHOPPER_EMAIL = "zebulon.quixworth@example.com"
FIRST, LAST = "Zebulon", "Quixworth-Marlowe"
STREET = "742 Evergreen Terrace"


def _start_worker(log_path: Path, log_format: str) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "sync_workers", "worker",
                "-P", "prefork", "-c", "1", "-Q", "orders,customers,payments,realtime",
                "-I", "tests.observability.sentry_tasks",
                "--without-gossip", "--without-mingle", "-n", f"logs-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "LOG_FORMAT": log_format,
                 "LOG_LEVEL": "INFO"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_dead_lettered_order_is_logged_by_record_step_and_error_without_the_shopper(
    log_format: str, sandboxes, clean_ledger, tmp_path: Path
) -> None:
    shopper = address(FIRST, LAST, "OR", street=STREET)
    order = checkout(
        sandboxes["xcart"].url,
        {
            "email": SHOPPER_EMAIL,
            "items": [{"sku": "AA-0005", "amount": 1}],
            "billing_address": shopper,
            "payment_method": "Purchase Order",  # not mapped: the order stops at validate
        },
    )
    record_id = str(order["id"])
    as_polled = order_steps.fetch({"record_id": record_id})["order"]
    log_path = tmp_path / "worker.log"
    worker = _start_worker(log_path, log_format)
    try:
        runner.start("orders", record_id, order=as_polled)
        sentry_tasks.reject_customer.apply_async(
            kwargs={"record_id": "cust-91", "customer": customer()}
        )
        [entry] = wait_for(lambda: open_entries(record_id), timeout=60)
        wait_for(lambda: open_entries("cust-91"), timeout=30)
        wait_for(lambda: log_path.read_text("utf-8").count("raised unexpected") >= 2, timeout=10)
    finally:
        _stop(worker)
    output = log_path.read_text("utf-8")

    # the shopper's data was in the task, and is in its dead letter only
    assert (entry.step, entry.error_class) == ("validate", "PermanentError")
    assert SHOPPER_EMAIL in json.dumps(entry.kwargs) and STREET in json.dumps(entry.kwargs)
    for value in (SHOPPER_EMAIL, STREET, FIRST, LAST, shopper["phone"], *PERSONAL):
        assert value not in output, value
    assert EMAIL not in output

    if log_format == "json":
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        [dead] = [r for r in lines if r.get("record_id") == record_id and r.get("dlq_entry")]
        assert (dead["step"], dead["error_class"]) == ("validate", "PermanentError")
        assert "unmapped payment method" in dead["msg"]
        [customer_line] = [r for r in lines if r.get("record_id") == "cust-91"]
        assert "customer [Filtered] has no valid state" in customer_line["msg"]
    else:
        assert f"record {record_id} dead-lettered at step validate (permanent): PermanentError" in (
            output
        )
        assert "record cust-91 dead-lettered at step" in output
        assert "customer [Filtered] has no valid state" in output
