"""The transport reads proxies and the CA bundle from the environment once, not per request."""

from __future__ import annotations

import requests
import responses

from sync_workers.connectors import http
from sync_workers.connectors.http import Transport


def transport() -> Transport:
    return Transport("xcart", connect_timeout=1, read_timeout=1)


def test_proxies_follow_the_environment_and_no_proxy(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "erp.internal")
    t = transport()
    assert t.proxies_for("https://shop.example/api/orders")["https"] == "http://proxy.example:3128"
    assert t.proxies_for("https://erp.internal/entity/Default") == {}


def test_environment_is_read_once_per_host(monkeypatch) -> None:
    calls = []
    real = requests.utils.get_environ_proxies

    def counting(url, no_proxy=None):
        calls.append(url)
        return real(url, no_proxy)

    monkeypatch.setattr(requests.utils, "get_environ_proxies", counting)
    t = transport()
    with responses.RequestsMock() as mock:
        mock.get("https://shop.example/api/orders", json=[])
        for _ in range(5):
            t.request("GET", "https://shop.example/api/orders")
    assert calls == ["https://shop.example/api/orders"]  # once, not five times


def test_ca_bundle_from_the_environment(monkeypatch, tmp_path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert http.pooled_session().verify == str(bundle)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert http.pooled_session().verify is True
