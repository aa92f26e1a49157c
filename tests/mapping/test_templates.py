"""Mapping templates: loaded from YAML, checked at start-up, every reference code mapped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from sync_workers.mapping import templates
from sync_workers.mapping.orders import XCART_PAYMENT_CODES, XCART_SHIPPING_CODES


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    templates.use_templates_dir(tmp_path)
    yield tmp_path
    templates.use_templates_dir(None)


def edit(directory: Path, flow: str, change) -> None:
    path = directory / f"{flow}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_bundled_templates_are_valid() -> None:
    assert templates.validate_all() == []


def test_bundled_orders_template_maps_every_reference_status_code() -> None:
    orders = templates.load_template("orders")
    assert set(XCART_PAYMENT_CODES) <= set(orders["payment_status"])
    assert set(XCART_SHIPPING_CODES) <= set(orders["shipping_status"])


def test_missing_status_code_is_reported_with_the_code(template_dir: Path) -> None:
    edit(template_dir, "orders", lambda t: t["payment_status"].pop("PP"))

    problems = templates.validate_all()

    assert problems == ["orders.yaml: payment_status: no entry for payment status 'PP'"]


def test_bad_values_are_reported_one_line_each(template_dir: Path) -> None:
    def break_it(t: dict) -> None:
        t["tax"]["mode"] = "guess"
        t["payment_status"]["Q"]["action"] = "drop"

    edit(template_dir, "orders", break_it)
    edit(template_dir, "shipments", lambda t: t["status_to_xcart"].update({"Confirmed": "XX"}))

    problems = templates.validate_all()

    assert "orders.yaml: tax.mode: must be send or compute" in problems
    assert any(p.startswith("orders.yaml: payment_status.Q.action") for p in problems)
    assert "shipments.yaml: status_to_xcart.Confirmed: unknown X-Cart code 'XX'" in problems
    assert len(problems) == 3


def test_poll_seconds_must_be_numbers_not_below_zero(template_dir: Path) -> None:
    edit(template_dir, "orders", lambda t: t["poll"].update(sweep_seconds=-1))
    edit(template_dir, "payments", lambda t: t["poll"].update(overlap_seconds="5 min"))
    edit(template_dir, "shipments", lambda t: t.update(poll=[300]))

    problems = templates.validate_all()

    assert sorted(problems) == [
        "orders.yaml: poll.sweep_seconds: must be a number of seconds, 0 or more (got -1)",
        "payments.yaml: poll.overlap_seconds: must be a number of seconds, 0 or more (got '5 min')",
        "shipments.yaml: poll: must be a mapping",
    ]


def test_unreadable_yaml_is_a_problem_not_a_crash(template_dir: Path) -> None:
    (template_dir / "payments.yaml").write_text("methods: [unclosed", encoding="utf-8")

    problems = templates.validate_all()

    assert len(problems) == 1 and problems[0].startswith("payments.yaml: not valid YAML")


def test_an_edited_template_changes_the_mapping_without_code(template_dir: Path) -> None:
    edit(template_dir, "orders", lambda t: t["ship_via"].update({"Courier": "FEDEX"}))

    assert templates.load_template("orders")["ship_via"]["Courier"] == "FEDEX"


def test_loaded_template_is_a_copy_callers_cannot_corrupt() -> None:
    first = templates.load_template("orders")
    first["ship_via"]["Courier"] = "MANGLED"

    assert templates.load_template("orders")["ship_via"]["Courier"] != "MANGLED"


def test_the_flows_cursors_take_the_templates_poll_seconds(clean_ledger) -> None:
    from datetime import timedelta

    from sync_workers.flows.shape import template_cursor

    for flow in ("orders", "payments", "customers", "shipments"):
        cursor = template_cursor(flow, "in", templates.load_template(flow)["poll"])
        assert cursor.overlap == timedelta(seconds=300)
        assert cursor.sweep_every == timedelta(seconds=60), flow
    bare = template_cursor("orders", "in", {"settle_seconds": 1}, settle=2.0)
    assert (bare.overlap, bare.settle, bare.sweep_every) == (
        timedelta(seconds=300),
        timedelta(seconds=1),
        None,
    )
    assert template_cursor("orders", "in", None, settle=2.0).settle == timedelta(seconds=2)
