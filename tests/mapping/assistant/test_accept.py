"""Accepting a suggestion: the template in MAPPING_TEMPLATES_DIR gets the entry (checked against
Acumatica over HTTP, validated, the previous file kept), the action is audited, and the open
dead letters it fixes are replayed through the real broker."""

from __future__ import annotations

import shutil

import pytest
import yaml

from bench.mapping_assistant import _refusal, dead_letter
from sync_workers.mapping import templates
from sync_workers.mapping.assistant.accept import AcceptError, accept
from sync_workers.mapping.assistant.fields import (
    PAYMENT_METHOD,
    SHIPPING_METHOD,
    STATE,
    STATE_ID,
)
from sync_workers.mapping.assistant.suggest import open_items


@pytest.fixture
def own_templates(tmp_path):
    """A merchant's copy of the bundled templates, in effect as MAPPING_TEMPLATES_DIR."""
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    templates.use_templates_dir(tmp_path)
    yield tmp_path
    templates.use_templates_dir(None)


def _dead_letter(queue, field, value, n):
    reasons = _refusal(field, value, templates.load_template)
    assert reasons, "the engine refuses the value"
    queue.add(dead_letter(field, value, reasons, n))


def test_accept_writes_the_template_keeps_the_old_one_audits_and_replays(
    sandboxes, redis_client, own_templates
):
    from sync_workers import clients
    from sync_workers.celery import publish
    from sync_workers.task import get_dlq

    queue, acumatica = get_dlq(), clients.acumatica()
    _dead_letter(queue, "shipping_method", "Pickup at the shop", 1)
    _dead_letter(queue, "shipping_method", "pickup at the shop ", 2)
    _dead_letter(queue, "shipping_method", "Drone", 3)
    items = {i.value: i for i in open_items(queue, acumatica)}
    assert items["Pickup at the shop"].best.code == "PICKUP"
    assert items["Pickup at the shop"].best.evidence

    result = accept(
        SHIPPING_METHOD,
        "Pickup at the shop",
        "PICKUP",
        by="olga",
        queue=queue,
        acumatica=acumatica,
        publish=publish,
    )

    written = own_templates / "orders.yaml"
    data = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert data["ship_via"]["Pickup at the shop"] == "PICKUP"
    assert result.comments_kept and "# Shipping method name" in written.read_text()
    assert result.previous is not None and result.previous.parent.name == "previous"
    assert "Pickup at the shop" not in yaml.safe_load(result.previous.read_text())["ship_via"]
    assert templates.validate_all() == []
    assert len(result.replayed) == 2  # both spellings of the value; "Drone" stays open
    statuses = {e.kwargs["record_id"]: e.status for e in queue.iter_entries(status="all")}
    assert statuses == {"bench-1": "replayed", "bench-2": "replayed", "bench-3": "open"}
    audit = [a for a in queue.audit_log(50) if a["action"] == "mapping.accept"]
    assert audit and audit[0]["by"] == "olga" and audit[0]["target"] == "PICKUP"
    assert templates.load_template("orders")["ship_via"]["Pickup at the shop"] == "PICKUP"


def test_payment_method_gets_its_default_cash_account_and_a_wrong_account_is_refused(
    sandboxes, redis_client, own_templates
):
    from sync_workers import clients
    from sync_workers.task import get_dlq

    queue, acumatica = get_dlq(), clients.acumatica()
    with pytest.raises(AcceptError, match="not allowed for PAYPAL"):
        accept(PAYMENT_METHOD, "PayPal Express", "PAYPAL:10100", by="o", queue=queue,
               acumatica=acumatica, publish=None)  # fmt: skip
    assert "PayPal Express" not in (own_templates / "payments.yaml").read_text()
    result = accept(PAYMENT_METHOD, "PayPal Express", "PAYPAL", by="o", queue=queue,
                    acumatica=acumatica, publish=None)  # fmt: skip
    assert result.entry == {"payment_method": "PAYPAL", "cash_account": "10300PP"}


def test_bad_choices_are_refused_and_nothing_is_written(sandboxes, redis_client, own_templates):
    from sync_workers import clients
    from sync_workers.task import get_dlq

    queue, acumatica = get_dlq(), clients.acumatica()
    for spec, value, target, why in (
        (SHIPPING_METHOD, "Hover", "TELEPORT", "not an active ship via"),
        (SHIPPING_METHOD, "Courier", "UPS", "already maps"),
        (SHIPPING_METHOD, "  ", "UPS", "empty"),
        (STATE, "Calif.", "US-ZZ", "not a state of US"),
        (STATE, "Calif.", "Golden", "not a state code"),
        (STATE, "42", "US-CA", "accept it as the field state_id"),
        (STATE_ID, "Calif.", "US-CA", "not a store state id"),
    ):
        with pytest.raises(AcceptError, match=why):
            accept(spec, value, target, by="o", queue=queue, acumatica=acumatica, publish=None)
    assert not (own_templates / "previous").exists()
    assert "Hover" not in (own_templates / "orders.yaml").read_text()


def test_without_a_templates_dir_of_its_own_nothing_is_written(sandboxes, redis_client):
    from sync_workers import clients
    from sync_workers.task import get_dlq

    before = (templates.BUNDLED_DIR / "orders.yaml").read_text()
    with pytest.raises(AcceptError, match="MAPPING_TEMPLATES_DIR is not set"):
        accept(SHIPPING_METHOD, "Hover", "UPS", by="o", queue=get_dlq(),
               acumatica=clients.acumatica(), publish=None)  # fmt: skip
    assert (templates.BUNDLED_DIR / "orders.yaml").read_text() == before


def test_one_accept_writes_a_template_at_a_time(sandboxes, redis_client, own_templates):
    from sync_workers import clients
    from sync_workers.task import get_dlq

    queue = get_dlq()
    redis_client.set(queue.prefix + "mapping:writing:orders", "another", ex=30)
    with pytest.raises(AcceptError, match=r"another accept is writing orders\.yaml"):
        accept(SHIPPING_METHOD, "Hover", "UPS", by="o", queue=queue,
               acumatica=clients.acumatica(), publish=None)  # fmt: skip
    assert "Hover" not in (own_templates / "orders.yaml").read_text()
    redis_client.delete(queue.prefix + "mapping:writing:orders")
    accept(SHIPPING_METHOD, "Hover", "UPS", by="o", queue=queue,
           acumatica=clients.acumatica(), publish=None)  # fmt: skip
    assert not redis_client.exists(queue.prefix + "mapping:writing:orders")
