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
