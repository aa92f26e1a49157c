"""JSON output of reconcile and resync --dry-run: which field differs, never the customer's data."""

from __future__ import annotations

from sync_workers.cli.output import field_differences, masked
from sync_workers.redaction import MASK


def test_values_under_personal_keys_are_masked_and_the_fields_stay_named():
    drift = {
        "flow": "customers",
        "source_id": "profile:7",
        "kind": "mismatch",
        "details": {
            "address": {"Address/City": {"now": "Springfield", "expected": "Shelbyville"}},
            "contact": {"Phone1": {"now": None, "expected": "+1 555 0100"}},
            "status": {"Status": {"now": "Active", "expected": "Inactive"}},
        },
    }
    shown = masked([drift])[0]
    assert shown["source_id"] == "profile:7"
    assert shown["details"]["address"] == {"Address/City": {"now": MASK, "expected": MASK}}
    assert shown["details"]["contact"] == {"Phone1": {"now": None, "expected": MASK}}
    assert shown["details"]["status"] == {"Status": {"now": "Active", "expected": "Inactive"}}
    assert drift["details"]["address"]["Address/City"]["now"] == "Springfield"  # a copy


def test_fields_lists_mask_by_the_field_they_name():
    details = {
        "fields": [
            {"field": "ShipToContact/Email", "current": "a@example.com", "proposed": "b@x.org"},
            {"field": "Details[1]/OrderQty", "current": 1, "proposed": 2},
        ],
        "repairable": True,
    }
    shown = masked(details)
    assert shown["fields"][0] == {"field": "ShipToContact/Email", "current": MASK, "proposed": MASK}
    assert shown["fields"][1] == {"field": "Details[1]/OrderQty", "current": 1, "proposed": 2}
    # the text rendering agrees with the JSON one
    assert field_differences(details)[0] == ("ShipToContact/Email", MASK, MASK)
