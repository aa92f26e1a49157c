"""One entry added to a template file: the rest of the file is kept as it was."""

from __future__ import annotations

import yaml

from sync_workers.mapping.assistant.writer import new_text

TEMPLATE = """\
# Orders.
version: 1

# Shipping method name -> ShipVia.
ship_via:
  Courier: UPS   # the usual one

tax:
  mode: send
  # Region -> TaxID.
  tax_id_by_region:
    US-NY: NYSTATE

sku_map: {}    # none yet
addresses:
  state_ids: {}
"""


def _added(path, key, value):
    text, kept = new_text(TEMPLATE, yaml.safe_load(TEMPLATE), path, key, value)
    return text, kept, yaml.safe_load(text)


def test_an_entry_goes_under_its_section_and_every_comment_stays():
    text, kept, data = _added("tax.tax_id_by_region", "CA-QC", "QCGSTQST")
    assert kept and data["tax"]["tax_id_by_region"] == {"CA-QC": "QCGSTQST", "US-NY": "NYSTATE"}
    assert [line for line in TEMPLATE.splitlines() if line not in text.splitlines()] == []
    assert "    CA-QC: QCGSTQST\n" in text


def test_keys_that_need_quoting_and_mapping_values_stay_one_line():
    text, kept, data = _added("ship_via", "O'Neil: fast #1", "DHL")
    assert (
        kept
        and data["ship_via"]["O'Neil: fast #1"] == "DHL"
        and "  'O''Neil: fast #1': DHL\n" in text
    )
    _text, kept, data = _added("ship_via", "yes", "DHL")
    assert kept and data["ship_via"]["yes"] == "DHL"  # not the boolean true
    entry = {"payment_method": "PAYPAL", "cash_account": "10300PP"}
    _text, kept, data = _added("ship_via", "PayPal Express", entry)
    assert kept and data["ship_via"]["PayPal Express"] == entry


def test_an_empty_inline_section_becomes_a_block_keeping_its_comment():
    text, kept, data = _added("sku_map", "A-1", "B-1")
    assert kept and data["sku_map"] == {"A-1": "B-1"} and "sku_map:    # none yet\n" in text
    text, kept, data = _added("addresses.state_ids", 205, "US-CA")
    assert kept and data["addresses"]["state_ids"] == {205: "US-CA"}


def test_a_missing_section_is_written_from_the_data():
    _text, kept, data = _added("customer_notes_by_store", "default", "note")
    assert not kept and data["customer_notes_by_store"] == {"default": "note"}
    assert data["ship_via"] == {"Courier": "UPS"}
