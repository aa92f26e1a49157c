"""The engine's Redis client decodes responses to str; the connectors must work with it too."""

from __future__ import annotations

import pytest
import redis
import responses

from sync_workers.connectors.acumatica.client import AcumaticaClient
from sync_workers.connectors.config import AcumaticaConfig, XCartConfig
from sync_workers.connectors.limits import SharedLimits
from sync_workers.connectors.xcart.client import XCartClient
from tests.connectors.conftest import PREFIX

ERP = "http://erp.test"
SHOP = "http://shop.test"


@pytest.fixture
def decoded(redis_client, redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def test_session_pool_with_decoded_redis(decoded):
    config = AcumaticaConfig(
        base_url=ERP,
        username="u",
        password="p",
        tenant="T",
        requests_per_minute=100,
        max_concurrent=2,
    )
    with responses.RequestsMock() as mock:
        mock.add(
            "POST",
            f"{ERP}/entity/auth/login",
            status=204,
            headers={"Set-Cookie": "ASP.NET_SessionId=abc; path=/"},
        )
        mock.add(
            "GET",
            f"{ERP}/entity/Default/24.200.001/Customer/C1",
            json={"CustomerID": {"value": "C1"}},
        )
        mock.add("POST", f"{ERP}/entity/auth/logout", status=204)
        first = AcumaticaClient(config, decoded, register_atexit=False, prefix=PREFIX)
        second = AcumaticaClient(config, decoded, register_atexit=False, prefix=PREFIX)
        assert first.get_by_keys("Customer", "C1") == {"CustomerID": "C1"}
        assert second.get_by_keys("Customer", "C1") == {"CustomerID": "C1"}
        first.close()
        second.close()
        logins = [c for c in mock.calls if c.request.url.endswith("/login")]
        logouts = [c for c in mock.calls if c.request.url.endswith("/logout")]
    assert len(logins) == 1 and len(logouts) == 1


def test_feature_cache_and_limits_with_decoded_redis(decoded):
    with responses.RequestsMock() as mock:
        mock.add("GET", f"{SHOP}/api/orders", json=[])
        mock.add("GET", f"{SHOP}/api/orders", json=[{"id": 1}])
        XCartClient(
            XCartConfig(base_url=SHOP, token="t"), decoded, prefix=PREFIX
        ).supports_last_renew_filter()
    again = XCartClient(XCartConfig(base_url=SHOP, token="t"), decoded, prefix=PREFIX)
    assert again.supports_last_renew_filter() is True  # read back from Redis, no request
    limits = SharedLimits(decoded, "sys", requests_per_window=10, max_concurrent=1, prefix=PREFIX)
    with limits.slot():
        assert limits.in_flight() == 1
    assert limits.penalize() == pytest.approx(1.0)
    limits.relax()
