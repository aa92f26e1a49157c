from __future__ import annotations

import pytest

from sync_workers.connectors.xcart.states import StateTable


def test_built_in_us_and_canada_both_ways():
    table = StateTable()
    state_id = table.state_id("US", "CA")
    assert state_id is not None
    assert table.iso(state_id) == "US-CA"
    assert table.code(table.state_id("CA", "QC")) == ("CA", "QC")


def test_names_and_iso_codes_resolve_to_ids():
    table = StateTable()
    assert table.state_id("CA", "Québec") == table.state_id("CA", "QC")
    assert table.state_id("US", "  new   york ") == table.state_id("US", "NY")
    assert table.state_id("US", "US-TX") == table.state_id("US", "TX")


def test_unknown_values_give_none():
    table = StateTable()
    assert table.iso(999999) is None and table.iso(None) is None
    assert table.state_id("US", "Atlantis") is None
    assert table.state_id("DE", "BY") is None
    assert table.state_id("US", "") is None


def test_store_overrides_win_both_ways():
    default_ca = StateTable().state_id("US", "CA")
    table = StateTable({5001: "us-ca", 5002: "DE-BY"})
    assert table.state_id("US", "California") == 5001
    assert table.iso(5001) == "US-CA"
    assert table.code(5002) == ("DE", "BY")
    assert table.state_id("DE", "BY") == 5002
    assert table.iso(default_ca) == "US-CA"  # old id still readable


def test_bad_override_is_refused():
    with pytest.raises(ValueError):
        StateTable({1: "California"})
