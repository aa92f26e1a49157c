"""``auth.refresh``: the refresh grant alone, with no fall-back to the password grant."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses

from sync_workers.connectors.acumatica import auth
from sync_workers.connectors.config import AcumaticaConfig
from sync_workers.connectors.errors import AuthError
from sync_workers.connectors.http import Transport

BASE = "http://erp.test"
TOKEN = f"{BASE}/identity/connect/token"


def config() -> AcumaticaConfig:
    return AcumaticaConfig(
        base_url=BASE,
        username="admin",
        password="s3cret-pass",
        tenant="Company",
        auth_mode="oauth",
        client_id="id@Company",
        client_secret="cs-secret",
    )


@pytest.fixture
def transport():
    sent = Transport("acumatica", connect_timeout=1, read_timeout=1, read_retries=0)
    yield sent
    sent.close()


@responses.activate
def test_refresh_sends_the_refresh_grant_and_keeps_the_chain_end(transport) -> None:
    responses.add(
        "POST", TOKEN, json={"access_token": "tok-2", "refresh_token": "ref-2", "expires_in": 60}
    )
    stale = {"access_token": "tok-1", "refresh_token": "ref-1", "refresh_expires_at": 4e9}

    fresh = auth.refresh(transport, config(), stale)

    form = parse_qs(responses.calls[0].request.body)
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["ref-1"]
    assert "password" not in form
    assert fresh["access_token"] == "tok-2" and fresh["refresh_token"] == "ref-2"
    assert fresh["refresh_expires_at"] == 4e9


@responses.activate
def test_a_refused_refresh_raises_instead_of_signing_in_again(transport) -> None:
    responses.add("POST", TOKEN, status=400, json={"error": "invalid_grant"})

    with pytest.raises(AuthError):
        auth.refresh(transport, config(), {"access_token": "tok-1", "refresh_token": "old"})

    assert len(responses.calls) == 1
