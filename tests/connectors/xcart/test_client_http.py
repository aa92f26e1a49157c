"""The X-Cart client against a tiny in-test order store served through ``responses``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_workers.connectors.config import XCartConfig
from sync_workers.connectors.errors import AuthError, NotFound, NotSupported, ValidationFailed
from sync_workers.connectors.xcart.client import XCartClient
from sync_workers.dates import parse_datetime
from tests.connectors.conftest import PREFIX

BASE = "http://shop.test"
T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


class FakeOrders:
    """Answers ``GET /api/orders`` like X-Cart: filters, sorts (ties by id), pages."""

    def __init__(self, orders: list[dict], *, filter_supported: bool) -> None:
        self.orders = orders
        self.filter_supported = filter_supported
        self.requests: list[dict[str, str]] = []

    def __call__(self, request):
        args = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.requests.append(args)
        rows = list(self.orders)
        if self.filter_supported:
            if "lastRenewDate[after]" in args:
                low = parse_datetime(args["lastRenewDate[after]"])
                rows = [o for o in rows if parse_datetime(o["update_date"]) >= low]
            if "lastRenewDate[before]" in args:
                high = parse_datetime(args["lastRenewDate[before]"])
                rows = [o for o in rows if parse_datetime(o["update_date"]) <= high]
        direction = args.get("order[lastRenewDate]")
        rows.sort(key=lambda o: o["id"])
        if direction:
            rows.sort(key=lambda o: parse_datetime(o["update_date"]), reverse=direction == "desc")
        page, size = int(args.get("page", 1)), min(int(args.get("itemsPerPage", 30)), 100)
        body = rows[(page - 1) * size : page * size]
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


def make_orders(stamps: list[datetime]) -> list[dict]:
    return [
        {
            "id": i + 1,
            "order_number": str(1000 + i),
            "update_date": fmt(s),
            "used_coupons": [],
            "mobile_order": False,
        }
        for i, s in enumerate(stamps)
    ]


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def xcart(redis_client):
    client = XCartClient(
        XCartConfig(base_url=BASE, token="rw-token", page_size=3), redis_client, prefix=PREFIX
    )
    yield client
    client.close()


def serve(mock, store: FakeOrders) -> None:
    mock.add_callback("GET", f"{BASE}/api/orders", callback=store)


def changed_ids(xcart, since, until=None) -> list[int]:
    return [o["id"] for o in xcart.orders_changed_since(since, until=until)]


def test_token_header_is_sent_and_wrong_token_is_permanent(mock, xcart):
    mock.add("GET", f"{BASE}/api/products/1", status=401, json={"message": "Invalid credentials."})
    with pytest.raises(AuthError):
        xcart.get_product(1)
    assert mock.calls[0].request.headers["X-Auth-Token"] == "rw-token"
    assert "rw-token" not in repr(xcart.config)


def test_filter_feature_is_detected_once_and_shared(mock, xcart, redis_client):
    store = FakeOrders(make_orders([T0]), filter_supported=True)
    serve(mock, store)
    assert xcart.supports_last_renew_filter() is True
    assert xcart.supports_last_renew_filter() is True
    other = XCartClient(XCartConfig(base_url=BASE, token="rw-token"), redis_client, prefix=PREFIX)
    assert other.supports_last_renew_filter() is True
    assert len(store.requests) == 2  # the probe, then the "store has orders" check


def test_missing_filter_is_detected(mock, xcart):
    serve(mock, FakeOrders(make_orders([T0]), filter_supported=False))
    assert xcart.supports_last_renew_filter() is False


def test_empty_store_is_not_cached(mock, xcart, redis_client):
    store = FakeOrders([], filter_supported=False)
    serve(mock, store)
    xcart.supports_last_renew_filter()
    assert redis_client.keys(PREFIX + "*last_renew_filter*") == []


@pytest.mark.parametrize("filter_supported", [True, False])
def test_many_orders_sharing_one_date_across_pages_are_all_found(mock, xcart, filter_supported):
    stamps = [T0 - timedelta(hours=1)] * 2 + [T0] * 8 + [T0 + timedelta(minutes=1)] * 2
    serve(mock, FakeOrders(make_orders(stamps), filter_supported=filter_supported))
    found = changed_ids(xcart, T0)
    assert sorted(found) == list(range(3, 13))
    assert len(found) == len(set(found))


@pytest.mark.parametrize("filter_supported", [True, False])
def test_until_bounds_the_window(mock, xcart, filter_supported):
    stamps = [T0 + timedelta(minutes=m) for m in range(10)]
    serve(mock, FakeOrders(make_orders(stamps), filter_supported=filter_supported))
    assert sorted(changed_ids(xcart, T0 + timedelta(minutes=2), T0 + timedelta(minutes=5))) == [
        3,
        4,
        5,
        6,
    ]


def test_fallback_stops_paging_at_the_watermark(mock, xcart):
    stamps = [T0 - timedelta(days=d) for d in range(30)]
    store = FakeOrders(make_orders(stamps), filter_supported=False)
    serve(mock, store)
    assert sorted(changed_ids(xcart, T0 - timedelta(days=4))) == [1, 2, 3, 4, 5]
    pages = [r for r in store.requests if r.get("order[lastRenewDate]") == "desc"]
    assert len(pages) == 2


def test_fallback_drops_an_order_shifted_into_the_next_page(mock, xcart):
    """An order edited during the scan moves to the front and pushes one back a page."""
    stamps = [T0 - timedelta(minutes=m) for m in range(7)]
    orders = make_orders(stamps)
    store = FakeOrders(orders, filter_supported=False)
    real = store.__call__

    def edit_after_first_page(request):
        answer = real(request)
        if "desc" in request.url and "page=1&" in request.url + "&":
            orders.append({"id": 99, "update_date": fmt(T0 + timedelta(seconds=5))})
        return answer

    mock.add_callback("GET", f"{BASE}/api/orders", callback=edit_after_first_page)
    xcart._last_renew_filter = False
    found = changed_ids(xcart, T0 - timedelta(minutes=6), T0)
    assert sorted(found) == [1, 2, 3, 4, 5, 6, 7]


def test_dates_in_three_formats_compare_as_utc(mock, xcart):
    orders = [
        {"id": 1, "update_date": "2026-01-10T12:00:00+0000"},
        {"id": 2, "update_date": "2026-01-10T12:00:00+00:00"},
        {"id": 3, "update_date": "2026-01-10T07:00:00-05:00"},
        {"id": 4, "update_date": "2026-01-10T11:59:59+0000"},
    ]
    serve(mock, FakeOrders(orders, filter_supported=False))
    assert sorted(changed_ids(xcart, T0)) == [1, 2, 3]


def test_products_are_streamed_with_stable_hashes(mock, xcart):
    products = [
        {
            "id": i,
            "sku": f"S{i}",
            "amount": i,
            "update_date": "2026-01-01T00:00:00-05:00",
            "market_price": 1.0,
        }
        for i in range(1, 8)
    ]
    for page in range(3):
        mock.add("GET", f"{BASE}/api/products", json=products[page * 3 : (page + 1) * 3])
    scanned = list(xcart.scan_products())
    assert [p["id"] for p, _ in scanned] == list(range(1, 8))
    assert scanned[0][0]["market_price"] == 1.0  # add-on keys pass through
    touched = dict(products[0], update_date="2026-02-02T00:00:00-05:00")
    changed = dict(products[0], amount=50)
    hashes = {h for _, h in scanned}
    assert len(hashes) == 7
    from sync_workers.connectors.xcart.client import PRODUCT_VOLATILE_KEYS
    from sync_workers.hashing import content_hash

    assert content_hash(touched, PRODUCT_VOLATILE_KEYS) == scanned[0][1]
    assert content_hash(changed, PRODUCT_VOLATILE_KEYS) != scanned[0][1]


def test_stock_and_status_writes(mock, xcart):
    mock.add("PUT", f"{BASE}/api/products/5", json={"id": 5, "amount": 15})
    mock.add("PUT", f"{BASE}/api/products/5/variants/9", json={"id": 9, "amount": 7})
    mock.add("PUT", f"{BASE}/api/orders/3/shipping_status", json={"id": 3, "code": "S"})
    mock.add("PUT", f"{BASE}/api/orders/3/payment_status", json={"id": 4, "code": "P"})
    assert xcart.set_product_stock(5, 15)["amount"] == 15
    assert xcart.set_variant_stock(5, 9, 7)["amount"] == 7
    assert xcart.set_shipping_status(3, "S")["code"] == "S"
    assert xcart.set_payment_status(3, "P")["code"] == "P"
    bodies = [json.loads(c.request.body) for c in mock.calls]
    assert bodies == [
        {"amount": 15},
        {"amount": 7, "default_amount": False},
        {"code": "S"},
        {"code": "P"},
    ]


def test_variant_read_and_partial_write(mock, xcart):
    mock.add("GET", f"{BASE}/api/products/5/variants/9", json={"id": 9, "sku": "TEE-M"})
    mock.add("PUT", f"{BASE}/api/products/5/variants/9", json={"id": 9, "price": 27.5})
    assert xcart.get_variant(5, 9)["sku"] == "TEE-M"
    assert xcart.update_variant(5, 9, {"price": 27.5, "default_price": False})["price"] == 27.5
    assert json.loads(mock.calls[1].request.body) == {"price": 27.5, "default_price": False}


def test_new_product_is_posted_and_the_store_answer_returned(mock, xcart):
    mock.add("POST", f"{BASE}/api/products", status=201, json={"id": 77, "sku": "NEW-1"})
    assert xcart.create_product({"sku": "NEW-1", "name": "New"})["id"] == 77
    assert json.loads(mock.calls[0].request.body) == {"sku": "NEW-1", "name": "New"}


def test_one_product_page_is_read_with_its_size(mock, xcart):
    mock.add("GET", f"{BASE}/api/products", json=[{"id": 1}, {"id": 2}])
    assert [p["id"] for p in xcart.product_page(2, page_size=100)] == [1, 2]
    query = parse_qs(urlsplit(mock.calls[0].request.url).query)
    assert query == {"page": ["2"], "itemsPerPage": ["100"]}


def test_variant_list_read_is_tried_again_in_place_and_a_create_is_not(mock, xcart):
    from sync_workers.errors import TransientError

    mock.add("GET", f"{BASE}/api/products/5/variants", status=503)
    mock.add("GET", f"{BASE}/api/products/5/variants", json=[{"id": 9, "sku": "TEE-M"}])
    mock.add("POST", f"{BASE}/api/products", status=503)
    assert [v["id"] for v in xcart.iter_variants(5)] == [9]
    with pytest.raises(TransientError):
        xcart.create_product({"sku": "NEW-1"})
    assert [c.request.method for c in mock.calls] == ["GET", "GET", "POST"]


def test_unknown_order_status_write_is_not_found(mock, xcart):
    mock.add(
        "PUT",
        f"{BASE}/api/orders/999/shipping_status",
        status=400,
        json={"title": "An error occurred", "detail": "Order with ID 999 not found"},
    )
    with pytest.raises(NotFound):
        xcart.set_shipping_status(999, "S")


def test_profile_write_validation_names_the_field(mock, xcart):
    mock.add(
        "POST",
        f"{BASE}/api/profiles",
        status=400,
        json={"title": "An error occurred", "detail": 'Field "login" must be unique'},
    )
    with pytest.raises(ValidationFailed) as caught:
        xcart.create_profile({"login": "a@b.c"})
    assert "login" in caught.value.field_errors


def test_tracking_needs_the_store_module(mock, xcart, redis_client):
    with pytest.raises(NotSupported):
        xcart.add_tracking_number(3, "1Z999")
    assert not xcart.supports_tracking
    with_module = XCartClient(
        XCartConfig(base_url=BASE, token="t", tracking_endpoint=True), redis_client, prefix=PREFIX
    )
    mock.add("POST", f"{BASE}/api/orders/3/tracking_numbers", json={"id": 1, "value": "1Z999"})
    assert with_module.add_tracking_number(3, "1Z999")["value"] == "1Z999"
    assert json.loads(mock.calls[-1].request.body) == {"value": "1Z999"}


def test_offsets_of_the_since_bound_do_not_matter(mock, xcart):
    serve(mock, FakeOrders(make_orders([T0, T0 + timedelta(seconds=1)]), filter_supported=True))
    since = T0.astimezone(timezone(timedelta(hours=-5)))
    assert sorted(changed_ids(xcart, since)) == [1, 2]


@st.composite
def order_sets(draw):
    instants = draw(st.lists(st.integers(0, 50), min_size=1, max_size=4))
    stamps = [
        T0 + timedelta(seconds=draw(st.sampled_from(instants)))
        for _ in range(draw(st.integers(0, 25)))
    ]
    low = T0 + timedelta(seconds=draw(st.integers(0, 50)))
    high = draw(st.one_of(st.none(), st.integers(0, 50).map(lambda s: T0 + timedelta(seconds=s))))
    return stamps, low, high, draw(st.integers(1, 6)), draw(st.booleans())


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order_sets())
def test_changed_since_is_exact_for_any_ties_and_page_size(redis_client, case):
    stamps, low, high, size, filter_supported = case
    orders = make_orders(stamps)
    expected = sorted(
        o["id"]
        for o in orders
        if parse_datetime(o["update_date"]) >= low
        and (high is None or parse_datetime(o["update_date"]) <= high)
    )
    client = XCartClient(
        XCartConfig(base_url=BASE, token="t", page_size=size), redis_client, prefix=PREFIX
    )
    client._last_renew_filter = filter_supported  # skip the probe: both paths are exercised
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(
            "GET",
            f"{BASE}/api/orders",
            callback=FakeOrders(orders, filter_supported=filter_supported),
        )
        found = [o["id"] for o in client.orders_changed_since(low, until=high)]
    assert len(found) == len(set(found))
    assert sorted(found) == expected


def test_iterators_fetch_one_page_at_a_time(mock, xcart):
    for page, count in ((1, 3), (2, 3), (3, 1)):
        mock.add("GET", f"{BASE}/api/products", json=[{"id": page * 10 + i} for i in range(count)])
    stream = xcart.iter_products()
    assert next(stream)["id"] == 10
    assert len(mock.calls) == 1  # nothing read ahead
    assert [p["id"] for p in stream] == [11, 12, 20, 21, 22, 30]
    assert len(mock.calls) == 3


def test_a_truncated_answer_is_transient_and_a_write_may_have_been_applied(mock, xcart):
    from sync_workers.errors import TransientError

    mock.add("GET", f"{BASE}/api/products/1", body='{"id": 1, "sku": "A', status=200)
    mock.add("PUT", f"{BASE}/api/products/1", body="<html>proxy</html>", status=200)
    with pytest.raises(TransientError) as read:
        xcart.get_product(1)
    assert "maybe_applied" not in read.value.details
    with pytest.raises(TransientError) as write:
        xcart.set_product_stock(1, 5)
    assert write.value.details["maybe_applied"] is True
