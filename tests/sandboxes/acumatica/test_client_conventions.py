"""Details third-party clients rely on: trailing slashes, the business date and branch headers,
the sign-in page's tenant marker, and how strictly ``$filter`` literals are typed."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import requests

from .client import BASE, Api, value

AUTH = ("admin", "sandbox")
TOKEN_FORM = {
    "grant_type": "password",
    "client_id": "8E0761D9-F4EC-2D4B-A60F-BCE2708C6FDD@Company",
    "client_secret": "sandbox",
    "username": "admin",
    "password": "sandbox",
    "scope": "api",
}
ORDER = {
    "CustomerID": {"value": "XCGUEST"},
    "Details": [{"InventoryID": {"value": "AA-0001"}, "OrderQty": {"value": 1}}],
}


def test_every_route_answers_the_same_with_a_trailing_slash(api: Api) -> None:
    order = api.order()
    odata = "/t/Company/api/odata"
    reads = [
        ("/entity", None),
        (f"{BASE}/swagger.json", None),
        (f"{BASE}/SalesOrder", None),
        (f"{BASE}/SalesOrder/SO/{value(order, 'OrderNbr')}", None),
        (f"{BASE}/SalesOrder/{order['id']}", None),
        (f"{BASE}/StockItem/$adHocSchema", None),
        ("/identity/.well-known/openid-configuration", None),
        (f"{odata}/gi", AUTH),
        (f"{odata}/gi/$metadata", AUTH),
        (f"{odata}/gi/SalesOrders", AUTH),
        (f"{odata}/dac", AUTH),
        (f"{odata}/dac/$metadata", AUTH),
        (f"{odata}/dac/SOOrder", AUTH),
        ("/Frames/Login.aspx", None),
    ]
    for path, auth in reads:
        plain = api.http.get(f"{api.url}{path}", auth=auth, timeout=30)
        slashed = api.http.get(f"{api.url}{path}/", auth=auth, timeout=30)
        assert plain.status_code == 200, path
        assert (slashed.status_code, slashed.content) == (plain.status_code, plain.content), path

    put = api.http.put(f"{api.url}{BASE}/SalesOrder/", json=ORDER, timeout=30)
    assert put.status_code == 200 and value(put.json(), "OrderNbr") == "000002"
    action = api.http.post(
        f"{api.url}{BASE}/SalesOrder/CancelSalesOrder/",
        json={"entity": {"id": put.json()["id"]}},
        timeout=30,
    )
    assert action.status_code == 204
    token = requests.post(f"{api.url}/identity/connect/token/", data=TOKEN_FORM, timeout=10)
    assert token.status_code == 200 and token.json()["token_type"] == "Bearer"
    assert api.logout().status_code == 204
    again = api.http.post(
        f"{api.url}/entity/auth/login/", json={"name": "admin", "password": "sandbox"}, timeout=10
    )
    assert again.status_code == 204
    assert api.http.post(f"{api.url}/entity/auth/logout/", timeout=10).status_code == 204
    assert api.http.get(f"{api.url}{BASE}/SalesOrder/", timeout=10).status_code == 401


def test_business_date_header_sets_the_dates_of_new_documents(api: Api) -> None:
    for header in ("2025/01/01", "01/01/2025 00:00:00", "01-Jan-2025", "2025-01-01T18:30:00+05:00"):
        dated = api.put("SalesOrder", ORDER, headers={"PX-CbApiBusinessDate": header}).json()
        for name in ("Date", "RequestedOn", "EffectiveDate"):
            assert value(dated, name) == "2025-01-01T00:00:00+00:00", (header, name)
    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00+00:00")
    assert value(api.put("SalesOrder", ORDER).json(), "Date") == today  # for that request only

    shipped = api.http.post(
        f"{api.url}{BASE}/SalesOrder/SalesOrderCreateShipment",
        json={"entity": {"id": dated["id"]}, "parameters": {}},
        headers={"PX-CbApiBusinessDate": "March 3, 2025"},
        timeout=30,
    )
    assert shipped.status_code == 204
    (shipment,) = api.get("Shipment").json()
    assert value(shipment, "ShipmentDate") == "2025-03-03T00:00:00+00:00"


def test_business_date_reaches_an_action_that_runs_after_the_answer(api: Api) -> None:
    api.control(
        "POST",
        "/behaviour",
        {"long_actions": ["SalesOrderCreateShipment"], "long_action_seconds": 0.1},
    )
    order = api.put("SalesOrder", ORDER).json()
    started = api.http.post(
        f"{api.url}{BASE}/SalesOrder/SalesOrderCreateShipment",
        json={"entity": {"id": order["id"]}, "parameters": {}},
        headers={"PX-CbApiBusinessDate": "2025-04-30"},
        timeout=30,
    )
    assert started.status_code == 202
    status_url = api.url + started.headers["Location"]
    deadline = time.monotonic() + 5
    while api.http.get(status_url, timeout=10).status_code == 202:
        assert time.monotonic() < deadline, "the action never finished"
        time.sleep(0.05)
    assert api.http.get(status_url, timeout=10).status_code == 204
    (shipment,) = api.get("Shipment").json()
    assert value(shipment, "ShipmentDate") == "2025-04-30T00:00:00+00:00"


def test_branch_comes_from_the_header_then_the_sign_in_then_the_default(api: Api) -> None:
    assert value(api.put("SalesOrder", ORDER).json(), "Branch") == "MAIN"
    west = {"PX-CbApiBranch": "West Coast Store"}  # a branch name, as the guide says
    order = api.put("SalesOrder", ORDER, headers=west).json()
    assert value(order, "Branch") == "WEST"
    update = {"id": order["id"], "Description": {"value": "edited"}}
    edited = api.put("SalesOrder", update, headers={"PX-CbApiBranch": "main"}).json()
    assert value(edited, "Branch") == "WEST"  # an existing document keeps its branch
    sent = {**ORDER, "Branch": {"value": "WEST"}}
    assert value(api.put("SalesOrder", sent).json(), "Branch") == "WEST"  # the body wins

    api.logout()
    response = api.login(branch="WEST")
    assert response.cookies["UserBranch"] == "2"
    assert value(api.put("SalesOrder", ORDER).json(), "Branch") == "WEST"
    main = api.put("SalesOrder", ORDER, headers={"PX-CbApiBranch": "MAIN"}).json()
    assert value(main, "Branch") == "MAIN"

    api.logout()
    response = api.login(branch="NOWHERE")  # a sign-in branch the tenant lacks: the default
    assert response.cookies["UserBranch"] == "1"
    assert value(api.put("SalesOrder", ORDER).json(), "Branch") == "MAIN"


def test_malformed_business_date_or_unknown_branch_is_refused(api: Api) -> None:
    bad_date = api.put("SalesOrder", ORDER, headers={"PX-CbApiBusinessDate": "someday"})
    assert bad_date.status_code == 500
    assert bad_date.json()["exceptionMessage"] == "String was not recognized as a valid DateTime."
    assert bad_date.json()["exceptionType"] == "System.FormatException"
    bad_branch = api.put("SalesOrder", ORDER, headers={"PX-CbApiBranch": "NOWHERE"})
    assert bad_branch.status_code == 500
    assert (
        bad_branch.json()["exceptionMessage"] == "Branch 'NOWHERE' cannot be found in the system."
    )
    assert api.get("SalesOrder").json() == []


def test_sign_in_page_names_the_tenant_in_its_single_company_field(anon: Api) -> None:
    def landed_tenant() -> str:
        page = anon.http.get(f"{anon.url}/Frames/Login.aspx", timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        for name in ("ctl00$phUser$txtUser", "ctl00$phUser$txtPass", "ctl00$phUser$btnLogin"):
            assert f'name="{name}"' in page.text
        match = re.search(r'id="txtSingleCompany" value="([^"]*)"', page.text)
        assert match is not None and 'name="ctl00$phUser$txtSingleCompany"' in page.text
        return match.group(1)

    assert landed_tenant() == "Company"
    anon.login()
    assert landed_tenant() == "Company"
    assert anon.get("Customer/XCGUEST").status_code == 200  # the page leaves the session alone
    anon.logout()


def test_filter_literals_must_have_the_field_type(api: Api) -> None:
    api.order()

    def list_with(text: str) -> requests.Response:
        return api.get("SalesOrder", **{"$filter": text})

    for text in (
        "OrderTotal gt 0m",
        "OrderTotal ne null",
        "LastModified gt datetimeoffset'2020-01-01T00:00:00Z'",
        "Date ge date'2020-01-01'",
        "Date ge datetime'2020-01-01T00:00:00'",
    ):
        accepted = list_with(text)
        assert accepted.status_code == 200 and len(accepted.json()) == 1, text
    for text in (
        "OrderTotal gt 0",
        "OrderTotal gt 0.5",
        "Status eq 'Open' and OrderTotal ne 10",
        "LastModified gt '2020-01-01'",
    ):
        refused = list_with(text)
        assert refused.status_code == 500, text
        body = refused.json()
        assert body["exceptionMessage"] == "Type conversions are not supported.", text
        assert body["exceptionType"] == "System.NotSupportedException", text
    bare = list_with("LastModified gt 2020-01-01T00:00:00Z")
    assert bare.status_code == 400 and "Syntax error" in bare.json()["modelState"][""][0]

    odata = requests.get(  # the OData endpoints read OData v4 literals
        f"{api.url}/t/Company/api/odata/gi/SalesOrders",
        params={"$filter": "LastModifiedDateTime gt 2020-01-01T00:00:00Z and OrderTotal gt 0"},
        auth=AUTH,
        timeout=10,
    )
    assert odata.status_code == 200 and len(odata.json()["value"]) == 1
