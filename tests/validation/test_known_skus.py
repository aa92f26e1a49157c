"""Known InventoryIDs for the order check: the shared Redis set, against the Acumatica sandbox."""

from __future__ import annotations

from sync_workers.validation import known_skus
from tests.flows.order_to_cash.helpers import acumatica_stats, entity_calls, sandbox


def stock_reads(url: str) -> int:
    return sum(n for path, n in entity_calls(acumatica_stats(url)).items() if "StockItem" in path)


def test_an_orders_skus_are_checked_from_the_shared_set_and_unknown_ones_looked_up(
    sandboxes, redis_client
) -> None:
    url = sandboxes["acumatica"].url
    check = known_skus.checker(["aa-0001 ", "AA-0002", "NOPE-1"])  # first use: the list is read
    listed = stock_reads(url)
    assert listed >= 1
    assert check("aa-0001") and check("AA-0002 ")
    assert stock_reads(url) == listed  # known SKUs cost no call
    assert not check("NOPE-1")  # not in the set: looked up by key before it is refused
    assert stock_reads(url) == listed + 1

    sandbox(url, "stats/reset", {})
    again = known_skus.checker(["AA-0001"])  # the set is fresh: nothing read
    assert again("AA-0001") and known_skus.sku_known("aa-0002")
    assert stock_reads(url) == 0


def test_an_orders_skus_and_its_buyers_history_are_read_in_one_round_trip(
    sandboxes, redis_client, request
) -> None:
    """The validate step reads the SKU set and the risk history in one pipeline, and each
    reader gets its own replies back."""
    import copy

    from sync_workers.errors import PermanentError
    from sync_workers.flows import orders
    from sync_workers.validation import history
    from tests.mapping.test_orders_mapping import ORDER

    order = copy.deepcopy(ORDER)
    order["shipping_address"] = copy.deepcopy(order["billing_address"])  # a mapped tax region
    order["items"][1]["sku"] = "NOPE-2"
    known_skus.checker(["AA-0001"])  # the shared set is read (and fresh) before counting
    history.remember({**order, "id": 9001})  # one earlier order of the same buyer
    trips = request.getfixturevalue("pipeline_trips")  # counted from here on
    state = {"record_id": str(order["id"]), "order": order, "transactions": []}
    try:
        orders.validate(state)
    except PermanentError as exc:  # the unknown SKU is refused, after the one round trip
        assert set(exc.field_errors) == {"items[1].sku"}
    else:
        raise AssertionError("an order with an unknown SKU passed validation")
    assert trips == [2 + 6]  # the SKU reads and the history's, together
    trips.clear()
    order["items"][1]["sku"] = "AA-0002"
    validated = orders.validate(state)
    assert len(trips) == 1
    assert validated["risk"]["score"] >= 0 and "hold" in validated
    assert history.recent(order, 60).previous_count == 1
