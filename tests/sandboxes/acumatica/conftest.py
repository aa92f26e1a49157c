"""A live Acumatica sandbox on a free port, shared per test module, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandboxes.acumatica.app import create_app, sandbox_of
from sandboxes.common.server import RunningServer, serve_in_thread

from .client import Api

DEFAULT_LICENCE = {
    "max_sessions": 2,
    "max_concurrent": 10,
    "requests_per_minute": None,
    "queue_limit": 20,
    "max_wait_seconds": 600,
    "minute_seconds": 60,
    "idle_timeout_seconds": 600,
}
DEFAULT_BEHAVIOUR = {
    "hold_shipments_on_entry": False,
    "not_found_status": 500,
    "login_limit_status": 429,
    "long_actions": [],
    "long_action_seconds": 0.2,
    "copy_addresses_without_override": True,
    "token_lifetime_seconds": 3600,
    "clock_offset_seconds": 0.0,
    "frozen_clock": None,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    app = create_app(tmp_path_factory.mktemp("acumatica"), seed=True)
    running = serve_in_thread(app)
    running.app = app  # type: ignore[attr-defined]
    yield running
    running.stop()
    sandbox_of(app).close()


@pytest.fixture
def anon(server: RunningServer) -> Api:
    """A client without a session, against freshly reset and seeded data."""
    api = Api(server.url)
    api.control("POST", "/reset", {"seed": True})
    api.control("POST", "/licence", DEFAULT_LICENCE)
    api.control("POST", "/behaviour", DEFAULT_BEHAVIOUR)
    api.control("POST", "/push", {"subscriptions": [], "settings": {"retry_delay_seconds": 0.05}})
    return api


@pytest.fixture
def api(anon: Api) -> Iterator[Api]:
    """A signed-in client."""
    anon.login()
    yield anon
    anon.logout()
