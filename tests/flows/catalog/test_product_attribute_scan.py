"""An edit of a product's attribute values alone (the product record does not change) is seen
by the attribute scan: each cursor poll reads the values of a slice of the catalogue (products
in id order, wrapping around), the slices covering every product once per
``poll.attribute_scan_seconds``; the SKU's chain then writes the new value to its stock item.
A slice's store reads are bounded by its products (3 global lists, then per product 3 lists,
one read per attribute, and the variant list of a product with variants)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest

import tasks.products  # noqa: F401  (registers the products chain's task)
from sync_workers.flows import products, runner
from sync_workers.mapping import templates
from sync_workers.redis_client import get_redis
from tests.flows.catalog.conftest import attributes_of
from tests.flows.catalog.test_product_attributes import add_store_value

KINDS = ("select", "checkbox", "text")
#: The scan's period in these tests: short, so that polls driven for a few seconds cover it.
PERIOD = 10
BUNDLED = "  attribute_scan_seconds: 86400"
#: How late past the period the last slice may come: one poll's duration on a busy machine.
SLACK = 8.0

OWN_LIST = re.compile(r"^GET /api/products/(\d+)/attributes_(select|checkbox|text)$")


@dataclass
class Catalogue:
    """The store's products as its own lists describe them: what reading each one's attribute
    values costs (3 lists and one read per global or own attribute), which have variants, and
    each one's SKU."""

    ids: list[int]
    cost: dict[int, int]
    with_variants: set[int]
    skus: dict[int, str]

    def slice_cost(self, ids: set[int], *, variant_lists: bool = True) -> int:
        """3 global lists, each product's reads, and (when the poll did not scan the store)
        the variant list of each product with variants."""
        if not ids:
            return 0
        variants = len(ids & self.with_variants) if variant_lists else 0
        return 3 + sum(self.cost[i] for i in ids) + variants


def catalogue(store, first: int | None = None) -> Catalogue:
    """The store's products; the cost of each one's values (of the ``first`` in id order
    only, when given)."""
    http, url = store.http, store.url
    globals_ = sum(len(http.get(f"{url}/api/attributes_{k}", timeout=10).json()) for k in KINDS)
    cost: dict[int, int] = {}
    with_variants: set[int] = set()
    found = {int(p["id"]): sku for sku, p in store.products().items()}
    skus = dict(sorted(found.items()))
    for pid in list(skus)[:first]:
        own = sum(
            len(http.get(f"{url}/api/products/{pid}/attributes_{k}", timeout=10).json())
            for k in KINDS
        )
        cost[pid] = 3 + globals_ + own
        if http.get(f"{url}/api/products/{pid}/variants", timeout=10).json():
            with_variants.add(pid)
    return Catalogue(sorted(skus), cost, with_variants, skus)


def slice_of(reads: dict[str, int]) -> set[int]:
    """The products whose own attribute lists a poll read."""
    return {int(m.group(1)) for p in reads if (m := OWN_LIST.match(p))}


def poll(store) -> tuple[list[str], dict[str, int]]:
    """One cursor poll: the SKUs it hands out and the store requests it made."""
    store.reset_stats()
    changed = products.changed_skus()
    return changed, store.stats()


@pytest.fixture
def scanning(template, sandboxes, store, clean_ledger, redis_client):
    """The attribute scan on (every PERIOD seconds); ``first_poll()`` makes the scan's first poll
    (over the aligned seed catalogues; ``primed``: after a poll with the scan off has primed the
    ledger, so that this one is an idle poll) and returns its store reads and the time it
    ended."""
    assert templates.load_template("products")["poll"].get("attribute_scan_seconds") is not None

    def first_poll(*, primed: bool = False) -> tuple[dict[str, int], float]:
        if primed:
            template(BUNDLED, "  attribute_scan_seconds: null")
            assert products.changed_skus() == []
            template("  attribute_scan_seconds: null", f"  attribute_scan_seconds: {PERIOD}")
        else:
            template(BUNDLED, f"  attribute_scan_seconds: {PERIOD}")
        store.reset_stats()
        assert products.changed_skus() == []  # values seen for the first time are remembered
        return store.stats(), time.monotonic()

    return first_poll


def test_the_first_poll_reads_one_product_not_the_catalogue(scanning, store) -> None:
    shop = catalogue(store, first=1)
    reads, _ = scanning()
    first = slice_of(reads)
    assert first == {shop.ids[0]}  # one product, the first in id order
    attribute_reads = sum(n for p, n in reads.items() if "attributes_" in p)
    # this poll scanned the store as well, whose variant lists the slice uses
    assert attribute_reads == shop.slice_cost(first, variant_lists=False)
    print(f"first poll: {attribute_reads} attribute reads of {sum(reads.values())} store reads")
    memory = products.remembered()
    assert memory[shop.skus[shop.ids[0]]].get("attributes_hash")
    assert [s for s, data in memory.items() if data.get("attributes_hash")] == [
        shop.skus[shop.ids[0]]
    ]


def test_slices_are_bounded_and_cover_every_product_within_the_period(scanning, store) -> None:
    shop = catalogue(store)
    _, started = scanning(primed=True)
    position = 0  # the first poll read shop.ids[0]
    seen = {shop.ids[0]}
    slices: list[int] = []
    while len(seen) < len(shop.ids):
        assert time.monotonic() - started <= PERIOD + SLACK, f"{len(seen)} of {len(shop.ids)}"
        changed, reads = poll(store)
        assert changed == []
        found = slice_of(reads)
        assert len(found) <= products.ATTRIBUTE_SLICE_MAX
        assert sum(reads.values()) == shop.slice_cost(found), reads  # nothing else is read
        expected = [shop.ids[(position + 1 + i) % len(shop.ids)] for i in range(len(found))]
        assert found == set(expected)  # the products after the last slice's, in id order
        # no product twice before every product was read (a last slice may go round again)
        assert not found & seen or seen | found == set(shop.ids)
        seen |= found
        position = (position + len(found)) % len(shop.ids)
        if found:
            slices.append(len(found))
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    assert elapsed >= PERIOD * 0.8  # spread over the period, not read at once
    while not (found := slice_of(poll(store)[1])):
        time.sleep(0.2)
    # and on, round again after the last product
    assert found == {shop.ids[(position + 1 + i) % len(shop.ids)] for i in range(len(found))}
    print(f"{len(shop.ids)} products in {len(slices)} slices over {elapsed:.1f}s: {slices}")


def test_an_attribute_only_edit_runs_the_chain_within_one_period(scanning, erp, store) -> None:
    shop = catalogue(store, first=1)
    _, started = scanning(primed=True)
    first = shop.ids[0]  # read by the first poll: its values are remembered
    assert first not in shop.with_variants
    sku = shop.skus[first]
    add_store_value(store, first, "Color", "Red")

    changed: list[str] = []
    while not changed:
        assert time.monotonic() - started <= PERIOD + SLACK
        changed, _ = poll(store)
        time.sleep(0.2)
    assert changed == [sku]

    runner.run_inline("products", "sync", sku)
    assert attributes_of(erp, sku).get("COLOR") == "RED"
    get_redis().delete(products.attribute_scan_key())  # the scan starts over: first product
    changed, reads = poll(store)
    assert slice_of(reads) == {first}
    assert changed == []  # the chain remembered the values it wrote


def test_without_the_setting_no_attribute_is_read_by_a_poll(template, sandboxes, store) -> None:
    template(BUNDLED, "  attribute_scan_seconds: null")
    store.reset_stats()
    products.changed_skus()
    assert {p: n for p, n in store.stats().items() if "attributes_" in p} == {}


def test_a_bad_attribute_scan_setting_is_a_template_error(template) -> None:
    template(BUNDLED, "  attribute_scan_seconds: soon")
    problems = templates.validate_all(["products"])
    assert problems == [
        "products.yaml: poll.attribute_scan_seconds: must be a number of seconds >= 0, or null"
    ]
