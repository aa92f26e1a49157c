"""``ACUMATICA_ODATA_IN_RATE_LIMIT``: Basic-auth OData requests in or out of the fleet's
requests-per-minute window, against the Acumatica sandbox over HTTP. Out of it, they still take
a concurrency slot."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from sync_workers.clients import acumatica_config
from sync_workers.connectors.acumatica.client import AcumaticaClient
from sync_workers.connectors.errors import RateLimited
from sync_workers.settings import get_settings


def client(redis_client, *, in_window: bool, **changes) -> AcumaticaClient:
    config = dataclasses.replace(
        acumatica_config(get_settings()),
        requests_per_minute=100,
        max_concurrent=1,
        max_wait_seconds=0.3,
        **changes,
    )
    return AcumaticaClient(
        config,
        redis_client,
        prefix=f"test:{uuid.uuid4().hex[:8]}:",
        register_atexit=False,
        odata_in_rate_limit=in_window,
    )


def odata_read(acu: AcumaticaClient) -> list:
    return list(acu.odata.changes("Customer", key="AcctCD", start=None, end=None))


@pytest.mark.parametrize("in_window", [True, False])
def test_odata_counts_in_the_rate_window_only_when_asked(
    sandboxes, redis_client, in_window
) -> None:
    acu = client(redis_client, in_window=in_window)
    try:
        window = acu.transport.limits
        assert window is not None
        acu.get_list("Customer", top=1)  # signed in (the sign-in counts too)
        before = window.in_window()
        assert odata_read(acu)  # the seed has customers
        assert window.in_window() == before + (1 if in_window else 0)
        acu.get_list("Customer", top=1)
        assert window.in_window() == before + (2 if in_window else 1)
    finally:
        acu.close()


def test_odata_out_of_the_window_still_waits_for_a_concurrency_slot(
    sandboxes, redis_client
) -> None:
    acu = client(redis_client, in_window=False)
    try:
        limits = acu.transport.limits
        assert limits is not None
        # a contract-API request holds the only slot
        with limits.slot(), pytest.raises(RateLimited, match="concurrent"):
            odata_read(acu)
        assert odata_read(acu)
    finally:
        acu.close()


def test_bearer_odata_always_counts(sandboxes, redis_client) -> None:
    """A bearer-token OData request is an API user's: the switch leaves it in the window."""
    acu = client(
        redis_client,
        in_window=False,
        auth_mode="oauth",
        client_id="sync",
        client_secret="sandbox",
        odata_basic_auth=False,
    )
    try:
        assert acu.odata.transport is acu.transport
        assert acu.odata.basic_auth is False
    finally:
        acu.transport.close()
