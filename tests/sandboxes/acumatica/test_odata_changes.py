"""DAC OData as the change polls read it: raw codes, date windows, keyset paging, and the
licence: Basic-auth OData is a conventional user's, never an API seat."""

from __future__ import annotations

import time

import requests

from .client import Api
from .conftest import DEFAULT_LICENCE

AUTH = ("admin", "sandbox")


def dac(api: Api, name: str, **params: object) -> requests.Response:
    return requests.get(
        f"{api.url}/t/Company/api/odata/dac/{name}", params=params or None, auth=AUTH, timeout=10
    )


def stats(api: Api) -> dict:
    return api.control("GET", "/stats")


def test_polled_dacs_answer_key_status_and_date_columns_only(api: Api) -> None:
    order = api.order()
    api.action(
        "SalesOrder", "SalesOrderCreateShipment", {"id": order["id"]}, WarehouseID="WHOLESALE"
    )
    [shipment] = dac(
        api, "SOShipment", **{"$select": "ShipmentNbr,Status,LastModifiedDateTime"}
    ).json()["value"]
    assert set(shipment) == {"ShipmentNbr", "Status", "LastModifiedDateTime"}
    assert shipment["Status"] == "N"  # the database code, not "Open"
    customers = dac(api, "Customer", **{"$select": "AcctCD,LastModifiedDateTime"}).json()["value"]
    assert customers and all(set(c) == {"AcctCD", "LastModifiedDateTime"} for c in customers)
    items = dac(
        api,
        "InventoryItem",
        **{"$filter": "StkItem eq true", "$select": "InventoryCD,LastModifiedDateTime"},
    ).json()["value"]
    assert {"AA-0001", "O'NEIL/42"} <= {i["InventoryCD"] for i in items}


def test_date_window_with_bare_literals_and_keyset_pages(api: Api) -> None:
    """Records sharing one LastModifiedDateTime are paged by (date, key): every one once."""
    api.control("POST", "/behaviour", {"frozen_clock": "2031-05-01T10:00:00.25+00:00"})
    try:
        for n in range(5):
            api.put(
                "Customer", {"CustomerID": {"value": f"KEYSET{n}"}, "CustomerName": {"value": "K"}}
            )
    finally:
        api.control("POST", "/behaviour", {"frozen_clock": None})
    window = (
        "LastModifiedDateTime ge 2031-05-01T10:00:00.25Z"
        " and LastModifiedDateTime le 2031-05-01T10:00:00.250Z"
    )
    params = {
        "$select": "AcctCD,LastModifiedDateTime",
        "$orderby": "LastModifiedDateTime,AcctCD",
        "$top": 2,
    }
    seen: list[str] = []
    expr = window
    while True:
        rows = dac(api, "Customer", **{**params, "$filter": expr}).json()["value"]
        seen += [r["AcctCD"] for r in rows]
        if len(rows) < 2:
            break
        last = rows[-1]
        moment = last["LastModifiedDateTime"].replace("+00:00", "Z")
        expr = (
            f"({window}) and ((LastModifiedDateTime gt {moment})"
            f" or ((LastModifiedDateTime eq {moment}) and (AcctCD gt '{last['AcctCD']}')))"
        )
    assert seen == [f"KEYSET{n}" for n in range(5)]


def test_dates_sort_by_instant_whatever_their_offset() -> None:
    from sandboxes.acumatica.inquiries import EDM_DATETIME, EDM_STRING
    from sandboxes.acumatica.odata import query_rows

    rows = [
        {"K": "a", "T": "2030-01-01T10:00:00+02:00"},  # 08:00 UTC
        {"K": "b", "T": "2030-01-01T09:00:00+00:00"},
        {"K": "c", "T": "2030-01-01T03:30:00-05:00"},  # 08:30 UTC
    ]
    ordered = query_rows(rows, (("K", EDM_STRING), ("T", EDM_DATETIME)), {"$orderby": "T"})
    assert [r["K"] for r in ordered] == ["a", "c", "b"]


def test_basic_auth_odata_is_a_concurrent_user_not_an_api_seat(anon: Api) -> None:
    anon.control("POST", "/licence", {**DEFAULT_LICENCE, "max_sessions": 1})
    anon.login()  # the only API seat is taken
    other = requests.post(
        f"{anon.url}/entity/auth/login",
        json={"name": "admin", "password": "sandbox", "tenant": "Company"},
        timeout=10,
    )
    assert other.status_code == 429 and "API Login Limit" in other.text
    for _ in range(3):
        assert dac(anon, "SOShipment").status_code == 200
    seen = stats(anon)
    assert seen["sessions_in_use"] == 1  # the cookie session, nothing more
    assert seen["concurrent_users_in_use"] == 1 and seen["odata_basic_requests"] == 3
    assert (
        requests.get(
            f"{anon.url}/t/Company/api/odata/dac/SOShipment", auth=("admin", "wrong"), timeout=10
        ).status_code
        == 401
    )
    assert stats(anon)["odata_basic_requests"] == 3  # a refused sign-in is no user
    anon.logout()


def test_switch_keeps_basic_odata_out_of_the_api_request_queue(anon: Api) -> None:
    """Whether OData counts against the API request limits is not documented: a switch."""
    throttled = {**DEFAULT_LICENCE, "requests_per_minute": 2, "minute_seconds": 1}
    anon.control("POST", "/licence", {**throttled, "odata_in_api_queue": False})
    try:
        anon.control("POST", "/stats/reset", {})
        started = time.monotonic()
        for _ in range(6):
            assert dac(anon, "Customer", **{"$top": 1}).status_code == 200
        assert time.monotonic() - started < 1.0
        free = stats(anon)
    finally:
        anon.control("POST", "/licence", {**throttled, "odata_in_api_queue": True})
    assert free["requests_per_minute_peak"] == 0 and free["throttled_requests"] == 0

    anon.control("POST", "/stats/reset", {})
    for _ in range(6):
        assert dac(anon, "Customer", **{"$top": 1}).status_code == 200
    queued = stats(anon)
    assert queued["requests_per_minute_peak"] >= 2 and queued["throttled_requests"] >= 1
    assert anon.control("GET", "/licence")["odata_in_api_queue"] is True


def test_the_switch_takes_only_a_boolean(anon: Api) -> None:
    answer = requests.post(
        f"{anon.url}/_sandbox/licence", json={"odata_in_api_queue": "no"}, timeout=10
    )
    assert answer.status_code == 400 and "odata_in_api_queue" in answer.text


def test_site_status_rows_navigate_to_item_and_warehouse_codes(api: Api) -> None:
    api.order(lines=[("AA-LODZ", 5)])
    rows = dac(
        api,
        "INSiteStatus",
        **{
            "$filter": "LastModifiedDateTime ge 2000-01-01T00:00:00Z",
            "$select": "InventoryID,SiteID,QtyAvail,LastModifiedDateTime",
            "$expand": "InventoryItemByInventoryID($select=InventoryCD),INSiteBySiteID($select=SiteCD)",
            "$orderby": "LastModifiedDateTime,InventoryID,SiteID",
        },
    ).json()["value"]
    [lodz] = [
        r
        for r in rows
        if r["InventoryItemByInventoryID"] == {"InventoryCD": "AA-LODZ"}
        and r["INSiteBySiteID"] == {"SiteCD": "WHOLESALE"}
    ]
    assert isinstance(lodz["InventoryID"], int) and isinstance(lodz["SiteID"], int)
    assert lodz["QtyAvail"] == 55.0 and lodz["LastModifiedDateTime"]
    from datetime import datetime

    moments = [datetime.fromisoformat(r["LastModifiedDateTime"]) for r in rows]
    assert moments == sorted(moments) and moments[-1] == datetime.fromisoformat(
        lodz["LastModifiedDateTime"]
    )  # the order just booked is the latest change
    unknown = dac(api, "INSiteStatus", **{"$expand": "NoSuchLink"})
    assert unknown.status_code == 400 and "NoSuchLink" in unknown.text
