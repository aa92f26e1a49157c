"""The X-Cart client against the X-Cart sandbox over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from sandboxes.common.catalog import seed_catalog
from sync_workers.connectors.config import XCartConfig
from sync_workers.connectors.errors import Forbidden, NotFound, NotSupported
from sync_workers.connectors.xcart.client import XCartClient
from sync_workers.connectors.xcart.states import StateTable
from sync_workers.cursor import MemoryCursorStorage, PollCursor
from tests.connectors.conftest import PREFIX


class Control:
    def __init__(self, url: str) -> None:
        self.url = f"{url}/_sandbox"
        self.http = requests.Session()

    def post(self, path: str, body: dict | None = None) -> dict:
        answer = self.http.post(f"{self.url}{path}", json=body or {}, timeout=30)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def now(self) -> datetime:
        return datetime.fromtimestamp(
            self.http.get(f"{self.url}/clock", timeout=5).json()["now"], tz=UTC
        )

    def checkout(self, n: int) -> dict:
        return self.post(
            "/checkout",
            {
                "email": f"buyer{n}@example.com",
                "items": [{"sku": "AA-CAFE", "amount": 1}],
                "billing_address": {
                    "firstname": "Zoë",
                    "lastname": "O'Neil",
                    "street": "1 Main St",
                    "city": "Austin",
                    "zipcode": "78701",
                    "country_code": "US",
                    "state_code": "TX",
                    "phone": "5551234567",
                },
                "payment_method": "Check",
                "currency": "USD",
                "shipping_cost": 5,
            },
        )


@pytest.fixture
def control(xcart_sandbox):
    return Control(xcart_sandbox.url)


def client_for(server, redis_client, **options) -> XCartClient:
    settings = {"base_url": server.url, "token": "sandbox-rw", "page_size": 4, **options}
    return XCartClient(XCartConfig(**settings), redis_client, prefix=PREFIX)


@pytest.mark.parametrize("filter_on", [True, False])
def test_changed_since_finds_exactly_the_edited_orders(
    xcart_sandbox, control, redis_client, filter_on
):
    placed = [control.checkout(n)["id"] for n in range(14)]  # one second, across pages
    control.post("/clock", {"advance_seconds": 3600})
    since = control.now()
    edited = [*placed[1:12:2], placed[12]]
    for order_id in edited:
        control.post(f"/orders/{order_id}/edit", {"admin_notes": "checked"})
    control.post("/clock", {"advance_seconds": 60})
    control.post(f"/orders/{placed[3]}/edit", {"admin_notes": "again"})  # edited twice
    control.post("/config", {"last_renew_filter": filter_on})
    xcart = client_for(xcart_sandbox, redis_client)
    found = [order["id"] for order in xcart.orders_changed_since(since)]
    assert xcart.supports_last_renew_filter() is filter_on
    assert sorted(found) == sorted(edited)
    assert len(found) == len(set(found))


def test_poll_cursor_over_the_sandbox_handles_each_change_once(
    xcart_sandbox, control, redis_client
):
    control.post("/config", {"last_renew_filter": False})
    xcart, storage = client_for(xcart_sandbox, redis_client), MemoryCursorStorage()
    placed = [control.checkout(n)["id"] for n in range(6)]
    handled: list[int] = []

    def poll() -> None:
        cursor = PollCursor(
            storage, "orders", "in", clock=control.now, start_at=datetime(2020, 1, 1, tzinfo=UTC)
        )
        window = cursor.window()
        for order in xcart.orders_changed_since(window.start, until=window.end):
            if cursor.accept(order["id"], order["update_date"], order["update_date"]):
                handled.append(order["id"])
        cursor.commit()

    control.post("/clock", {"advance_seconds": 60})
    poll()
    poll()  # the overlap re-reads the same orders: nothing new
    control.post(f"/orders/{placed[0]}/edit", {"notes": "ring twice"})
    control.post("/clock", {"advance_seconds": 60})
    poll()
    assert sorted(handled) == sorted([*placed, placed[0]])


def test_product_scan_streams_the_catalogue_and_spots_a_stock_change(xcart_sandbox, redis_client):
    xcart = client_for(xcart_sandbox, redis_client, page_size=50)
    before = {p["sku"]: (p["id"], h) for p, h in xcart.scan_products()}
    assert {item.sku for item in seed_catalog()} <= set(before)
    product_id = before["AA-CAFE"][0]
    assert xcart.set_product_stock(product_id, 3)["amount"] == 3
    after = {p["sku"]: h for p, h in xcart.scan_products()}
    changed = {sku for sku, (_, h) in before.items() if after[sku] != h}
    assert changed == {"AA-CAFE"}


def test_variant_stock_write(xcart_sandbox, redis_client):
    xcart = client_for(xcart_sandbox, redis_client, page_size=100)
    tee = next(p for p in xcart.iter_products() if p["sku"] == "WEB-TEE")
    variant = next(v for v in xcart.iter_variants(tee["id"]) if v["sku"] == "WEB-TEE-L")
    assert xcart.set_variant_stock(tee["id"], variant["id"], 11)["amount"] == 11
    again = next(v for v in xcart.iter_variants(tee["id"]) if v["id"] == variant["id"])
    assert again["amount"] == 11 and again["default_amount"] is False


def test_status_writes_and_errors(xcart_sandbox, control, redis_client):
    order = control.checkout(1)
    xcart = client_for(xcart_sandbox, redis_client)
    assert xcart.set_shipping_status(order["id"], "S")["code"] == "S"
    assert xcart.get_order(order["id"])["shipping_status"]["code"] == "S"
    with pytest.raises(NotFound):
        xcart.set_shipping_status(999999, "S")
    read_only = XCartClient(
        XCartConfig(base_url=xcart_sandbox.url, token="sandbox-ro"), redis_client, prefix=PREFIX
    )
    with pytest.raises(Forbidden):
        read_only.set_payment_status(order["id"], "P")


def test_tracking_number_through_the_store_module(xcart_sandbox, control, redis_client):
    order = control.checkout(2)
    with pytest.raises(NotSupported):
        client_for(xcart_sandbox, redis_client).add_tracking_number(order["id"], "1Z999")
    control.post("/config", {"tracking_extension": True})
    xcart = client_for(xcart_sandbox, redis_client, tracking_endpoint=True)
    xcart.add_tracking_number(order["id"], "1Z999")
    numbers = xcart.get_order(order["id"])["tracking_numbers"]
    assert [n["value"] for n in numbers] == ["1Z999"]


def test_profile_scan_and_update_change_the_hash(xcart_sandbox, redis_client):
    xcart = client_for(xcart_sandbox, redis_client)
    profiles = {p["id"]: h for p, h in xcart.scan_profiles()}
    target = next(iter(profiles))
    xcart.update_profile(target, {"status": "D"})
    rescanned = {p["id"]: h for p, h in xcart.scan_profiles()}
    assert [pid for pid in profiles if rescanned[pid] != profiles[pid]] == [target]


def test_built_in_state_table_matches_the_sandbox_store(xcart_sandbox, control, redis_client):
    listing = requests.get(f"{control.url}/states", timeout=5).json()
    table = StateTable()
    assert all(table.iso(s["id"]) == f"{s['country_code']}-{s['code']}" for s in listing)
    order = control.checkout(3)
    assert table.code(order["billing_address"]["state"]) == ("US", "TX")


def test_unknown_keys_and_store_zone_dates_are_tolerated(xcart_sandbox, control, redis_client):
    control.post("/config", {"addon_keys": True})
    order = control.checkout(4)
    xcart = client_for(xcart_sandbox, redis_client)
    fetched = xcart.get_order(order["id"])
    assert fetched["id"] == order["id"]
    product = next(xcart.iter_products())
    from sync_workers.dates import parse_datetime

    assert parse_datetime(product["update_date"]).tzinfo == UTC
    assert parse_datetime(fetched["update_date"]) <= control.now()


@pytest.mark.parametrize("skew_seconds", [-25, 0, 25])
def test_store_clock_off_by_less_than_settle_loses_nothing(
    xcart_sandbox, control, redis_client, skew_seconds
):
    """Our clock runs ``skew_seconds`` ahead of the store's; orders keep arriving between polls."""
    from datetime import timedelta

    xcart, storage = client_for(xcart_sandbox, redis_client), MemoryCursorStorage()
    handled: list[int] = []
    placed: list[int] = []

    def our_clock() -> datetime:
        return control.now() + timedelta(seconds=skew_seconds)

    def poll() -> None:
        cursor = PollCursor(
            storage,
            "orders",
            "in",
            clock=our_clock,
            overlap=timedelta(seconds=10),
            settle=timedelta(seconds=30),
        )
        window = cursor.window()
        for order in xcart.orders_changed_since(window.start, until=window.end):
            if cursor.accept(order["id"], order["update_date"], order["update_date"]):
                handled.append(order["id"])
        cursor.commit()

    for step in range(6):
        placed.append(control.checkout(step)["id"])
        control.post("/clock", {"advance_seconds": 17})
        poll()
    control.post("/clock", {"advance_seconds": 120})
    poll()
    assert sorted(handled) == sorted(placed)


def test_between_sweeps_an_idle_poll_reads_one_page_and_the_sweep_finds_a_late_order(
    xcart_sandbox, control, redis_client
):
    """Six orders (two pages of 4) stay in the overlap; the polls between sweeps read only what
    is newer than the last one. An order that commits late (its update time before the cursor's
    position, as the store's clock set back makes it) waits for the next sweep, which hands it
    out once and nothing twice."""
    from datetime import timedelta

    xcart, storage = client_for(xcart_sandbox, redis_client), MemoryCursorStorage()
    assert xcart.supports_last_renew_filter()  # asked once, before the reads are counted
    reads: list[str] = []
    get = xcart.get

    def counted(path, *args, **kwargs):
        reads.append(path)
        return get(path, *args, **kwargs)

    xcart.get = counted  # type: ignore[method-assign]
    handled: list[int] = []

    def poll() -> tuple[bool, int]:
        reads.clear()
        cursor = PollCursor(
            storage,
            "orders",
            "in",
            clock=control.now,
            overlap=timedelta(seconds=300),
            settle=timedelta(seconds=2),
            sweep_every=timedelta(seconds=60),
            start_at=control.now() - timedelta(seconds=30),
        )
        window = cursor.window()
        for order in xcart.orders_changed_since(window.start, until=window.end):
            if cursor.accept(order["id"], order["update_date"], order["update_date"]):
                handled.append(order["id"])
        cursor.commit()
        return cursor.sweeping, reads.count("/api/orders")

    placed = [control.checkout(n)["id"] for n in range(6)]
    control.post("/clock", {"advance_seconds": 5})
    swept, pages = poll()
    assert swept and pages >= 2 and sorted(handled) == sorted(placed)  # pages of 4
    control.post("/clock", {"advance_seconds": 10})
    assert poll() == (False, 1)  # nothing new: one page, the overlap left alone
    control.post("/clock", {"advance_seconds": -20})
    late = control.checkout(99)["id"]  # updated before the last poll's end, seen only now
    control.post("/clock", {"advance_seconds": 25})
    assert poll() == (False, 1)
    assert late not in handled
    control.post("/clock", {"advance_seconds": 60})
    swept, pages = poll()
    assert swept and pages >= 2  # from the last sweep's end less the overlap: all 7 again
    assert sorted(handled) == sorted([*placed, late])
