"""The app as a whole: faults at start-up and at run time, persistence, the control surface."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from sandboxes.acumatica.app import create_app, sandbox_of
from sandboxes.common.server import serve_in_thread

from .client import Api, value


def test_injected_500_is_shaped_like_a_px_error(api: Api) -> None:
    api.control(
        "POST",
        "/faults",
        {
            "rules": [
                {"path": "^/entity/Default/24.200.001/SalesOrder$", "method": "PUT", "p500": 1.0}
            ]
        },
    )
    response = api.put("SalesOrder", {"CustomerID": {"value": "XCGUEST"}})
    assert response.status_code == 500 and response.json()["message"] == "An error has occurred."
    assert api.get("SalesOrder").json() == []
    assert api.control("GET", "/stats")["faults_injected"]["p500"] == 1


def test_injected_429_and_503(api: Api) -> None:
    api.control("POST", "/faults", {"rules": [{"path": "StockItem", "method": "GET", "p429": 1.0}]})
    assert api.get("StockItem/AA-0001").status_code == 429
    api.control("POST", "/faults", {"rules": [{"path": "StockItem", "method": "GET", "p503": 1.0}]})
    assert api.get("StockItem/AA-0001").status_code == 503


def test_reset_after_commit_loses_the_answer_but_keeps_the_write(api: Api) -> None:
    api.control(
        "POST",
        "/faults",
        {"rules": [{"path": "SalesOrder", "method": "PUT", "preset": 1.0, "after_commit": True}]},
    )
    body = {
        "CustomerID": {"value": "XCGUEST"},
        "CustomerOrder": {"value": "XC-LOST"},
        "Details": [],
    }
    with pytest.raises(requests.ConnectionError):
        api.put("SalesOrder", body)
    api.control("POST", "/faults", {})
    rows = api.get("SalesOrder", **{"$filter": "CustomerOrder eq 'XC-LOST'"}).json()
    assert len(rows) == 1


def test_timeout_fault_holds_then_drops_the_request(api: Api) -> None:
    rules = [{"path": "^/entity/Default/24.200.001/Customer", "method": "GET", "ptimeout": 1.0}]
    api.control("POST", "/faults", {"rules": rules, "timeout_seconds": 0.3})
    start = time.monotonic()
    with pytest.raises(requests.RequestException):
        api.get("Customer/XCGUEST")
    assert time.monotonic() - start >= 0.25
    assert api.get("StockItem/AA-0001").status_code == 200


def test_latency_per_method(api: Api) -> None:
    api.control("POST", "/faults", {"latency_ms": {"GET": {"min": 150, "max": 200}, "PUT": 0}})
    start = time.monotonic()
    api.get("StockItem/AA-0001")
    assert time.monotonic() - start >= 0.15


def test_faults_from_start_up_options_and_cold_start_timeout(tmp_path: Path) -> None:
    app = create_app(tmp_path, faults={"cold_start_timeout": True, "timeout_seconds": 0.2})
    server = serve_in_thread(app)
    try:
        with pytest.raises(requests.RequestException):
            requests.get(f"{server.url}/entity", timeout=5)
        assert requests.get(f"{server.url}/entity", timeout=5).status_code == 200
    finally:
        server.stop()
        sandbox_of(app).close()


def test_faults_from_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_FAULTS", '{"rules": [{"path": "^/entity$", "p503": 1.0}]}')
    app = create_app(tmp_path)
    try:
        assert app.test_client().get("/entity").status_code == 503
    finally:
        sandbox_of(app).close()


def test_data_and_numbering_survive_a_restart(tmp_path: Path) -> None:
    app = create_app(tmp_path, seed=True, licence={"max_sessions": 3})
    server = serve_in_thread(app)
    first = Api(server.url)
    first.login()
    order = first.order(CustomerOrder="XC-KEEP")
    server.stop()
    sandbox_of(app).close()

    again = create_app(tmp_path)
    server = serve_in_thread(again)
    try:
        api = Api(server.url)
        assert api.get("SalesOrder").status_code == 401
        api.login()
        kept = api.get(f"SalesOrder/{order['id']}").json()
        assert value(kept, "CustomerOrder") == "XC-KEEP"
        assert value(api.order(), "OrderNbr") == "000002"
        assert api.control("GET", "/licence")["max_sessions"] == 3
    finally:
        server.stop()
        sandbox_of(again).close()


def test_control_surface_answers_loopback_only(server: object) -> None:
    app = server.app  # type: ignore[attr-defined]
    client = app.test_client()
    assert (
        client.get("/_sandbox/licence", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    )
    assert (
        client.get("/_sandbox/licence", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code
        == 200
    )


def test_stats_count_requests_sessions_and_reset(api: Api) -> None:
    api.get("StockItem/AA-0001")
    stats = api.control("GET", "/stats")
    assert stats["requests"]["by_path"]["GET /entity/Default/24.200.001/StockItem/AA-0001"] == 1
    assert stats["sessions_in_use"] == 1 and stats["logins"] == 1
    assert "peak_concurrent_requests" in stats and "requests_per_minute_peak" in stats
    api.control("POST", "/stats/reset")
    assert api.control("GET", "/stats")["logins"] == 0


def test_seed_is_realistic_and_shares_catalogue_skus(api: Api) -> None:
    from sandboxes.common.catalog import seed_catalog

    items = api.get("StockItem", **{"$select": "InventoryID"}).json()
    assert {value(i, "InventoryID") for i in items} == {c.sku for c in seed_catalog()}
    wetsuit = api.get(
        "StockItem", **{"$filter": "InventoryID eq 'O''NEIL/42'", "$expand": "WarehouseDetails"}
    ).json()[0]
    assert {
        value(w, "WarehouseID"): value(w, "QtyOnHand") for w in wetsuit["WarehouseDetails"]
    } == {"WHOLESALE": 12.0, "RETAIL": 3.0}
    assert value(api.get("StockItem/AA-FREE").json(), "DefaultPrice") == 0.0
    assert len(api.get("Customer").json()) >= 5
    assert api.control("POST", "/seed", {})["stock_items"] == len(items)
    assert len(api.get("StockItem", **{"$select": "InventoryID"}).json()) == len(items)


def test_unknown_paths_and_entities_answer_json_404(api: Api) -> None:
    for path in ("/nothing/here", "/entity/Default/24.200.001/NoSuchEntity"):
        response = api.http.get(api.url + path)
        assert response.status_code == 404
        assert response.json()["message"].startswith("No HTTP resource was found")


def test_wrong_method_is_405_in_the_px_shape(api: Api) -> None:
    response = api.http.get(f"{api.url}/entity/auth/login")
    assert response.status_code == 405 and response.json()["message"] == "An error has occurred."


def test_clock_offset_skews_the_sandbox_timestamps(api: Api) -> None:
    from datetime import UTC, datetime

    api.control("POST", "/behaviour", {"clock_offset_seconds": -120})
    order = api.order()
    stamp = datetime.fromisoformat(value(order, "LastModified"))
    assert 110 <= (datetime.now(UTC) - stamp).total_seconds() <= 130


def test_frozen_clock_gives_every_write_the_same_timestamp(api: Api) -> None:
    api.control("POST", "/behaviour", {"frozen_clock": "2026-03-02T14:05:11.37+00:00"})
    stamps = {value(api.order(), "LastModified") for _ in range(3)}
    assert stamps == {"2026-03-02T14:05:11.37+00:00"}
    rows = api.get(
        "SalesOrder", **{"$filter": "LastModified eq datetimeoffset'2026-03-02T14:05:11.37Z'"}
    ).json()
    assert len(rows) == 3


def test_behaviour_switches_are_validated(anon: Api) -> None:
    assert (
        requests.post(f"{anon.url}/_sandbox/behaviour", json={"nope": 1}, timeout=5).status_code
        == 400
    )
    bad_clock = requests.post(
        f"{anon.url}/_sandbox/behaviour", json={"frozen_clock": "soon"}, timeout=5
    )
    assert bad_clock.status_code == 400
    assert anon.control("GET", "/behaviour")["frozen_clock"] is None
