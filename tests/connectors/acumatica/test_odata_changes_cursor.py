"""The cursor's guarantee (every record once) holds on the OData path: the window read by
``ODataReader.changes`` in keyset pages, at the HTTP edge a DAC that filters and sorts with the
Acumatica sandbox's own OData query code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from hypothesis import HealthCheck, given, settings

from sandboxes.acumatica.inquiries import EDM_DATETIME, EDM_STRING
from sandboxes.acumatica.odata import query_rows
from sync_workers.connectors.acumatica.client import AcumaticaClient, RequestCounter
from sync_workers.connectors.acumatica.filters import F
from sync_workers.connectors.config import AcumaticaConfig
from sync_workers.cursor import MemoryCursorStorage
from tests.connectors.conftest import PREFIX
from tests.foundation.test_cursor import OVERLAP, SETTLE, T0, Clock, cursor, scenarios

BASE = "https://erp.example.com"
DAC_URL = f"{BASE}/t/Company/api/odata/dac/SOShipment"
COLUMNS = (("ShipmentNbr", EDM_STRING), ("LastModifiedDateTime", EDM_DATETIME))

ODATA_PREFIX = PREFIX + "odata:"


def make_client(redis_client) -> AcumaticaClient:
    config = AcumaticaConfig(base_url=BASE, username="sync", password="secret", tenant="Company")
    return AcumaticaClient(config, redis_client, prefix=ODATA_PREFIX, register_atexit=False)


class Dac:
    """Rows visible at ``now``; answers OData queries like the sandbox's DAC service."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.requests = 0

    def __call__(self, request):
        self.requests += 1
        assert request.headers["Authorization"].startswith("Basic ")
        args = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        value = query_rows(self.rows, COLUMNS, args)
        return 200, {"OData-Version": "4.0"}, _json({"value": value})


def _json(body: dict) -> str:
    import json

    return json.dumps(body)


@pytest.fixture
def counted(redis_client):
    yield
    for key in redis_client.scan_iter(match=ODATA_PREFIX + "*"):
        redis_client.delete(key)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenarios())
def test_every_record_is_delivered_exactly_once_through_odata(redis_client, counted, scenario):
    records, polls = scenario
    client = make_client(redis_client)
    storage, clock, dac = MemoryCursorStorage(), Clock(T0), Dac()
    delivered: list[int] = []
    with responses.RequestsMock() as mock:
        mock.add_callback("GET", DAC_URL, callback=dac)
        for at in polls:
            clock.now = T0 + timedelta(seconds=at)
            dac.rows = [
                {
                    "ShipmentNbr": f"{rid:06d}",
                    "LastModifiedDateTime": updated.astimezone(offset).isoformat(),
                }
                for rid, updated, visible, offset in records
                if visible <= clock.now
            ]
            poll = cursor(storage, clock, start_at=T0 - timedelta(hours=1))
            window = poll.window()
            for row in client.odata.changes(
                "SOShipment", key="ShipmentNbr", start=window.start, end=window.end, page_size=4
            ):
                moment = row["LastModifiedDateTime"]
                if poll.accept(row["ShipmentNbr"], moment, moment):
                    delivered.append(int(row["ShipmentNbr"]))
            poll.commit()
    assert len(delivered) == len(set(delivered)), "a record was delivered twice"
    assert sorted(delivered) == [r[0] for r in records], "a record was lost"
    assert RequestCounter(redis_client, ODATA_PREFIX).counts().get("contract", 0) == 0
    client.close()


def test_a_record_changed_between_pages_moves_no_other_record_out(redis_client, counted):
    """With ``$skip`` paging, a record of page one that changes (and so leaves the window)
    shifts the next record into page one, unread; keyset pages do not."""
    client = make_client(redis_client)
    dac = Dac()
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    dac.rows = [
        {"ShipmentNbr": f"{n:06d}", "LastModifiedDateTime": moment.isoformat()} for n in range(7)
    ]
    seen: list[str] = []
    with responses.RequestsMock() as mock:
        mock.add_callback("GET", DAC_URL, callback=dac)
        rows = client.odata.changes(
            "SOShipment",
            key="ShipmentNbr",
            start=moment - OVERLAP,
            end=moment + SETTLE,
            page_size=3,
        )
        for row in rows:
            seen.append(row["ShipmentNbr"])
            if len(seen) == 3:  # page one read: its first record changes now
                dac.rows[0]["LastModifiedDateTime"] = (moment + timedelta(hours=1)).isoformat()
        first = parse_qs(urlsplit(mock.calls[0].request.url).query)
    assert seen == [f"{n:06d}" for n in range(7)]
    assert dac.requests == 3  # 3 + 3 + 1 rows
    assert first["$orderby"] == ["LastModifiedDateTime,ShipmentNbr"]
    assert first["$select"] == ["ShipmentNbr,LastModifiedDateTime"] and "$skip" not in first
    assert "2026-03-01T11:59:00Z" in first["$filter"][0]  # OData v4: a bare UTC literal
    counts = RequestCounter(redis_client, ODATA_PREFIX).counts()
    assert counts == {"odata": 3}
    client.close()


def test_decimal_literals_carry_m_for_the_contract_api_only() -> None:
    from decimal import Decimal

    expr = F("CuryOrigDocAmt") >= Decimal("10.50")
    assert expr.render() == "CuryOrigDocAmt ge 10.50m"
    assert expr.render("v4") == "CuryOrigDocAmt ge 10.50"
    assert (F("Qty") > 2.5).render() == "Qty gt 2.5m" and (F("Qty") > 2).render() == "Qty gt 2"
