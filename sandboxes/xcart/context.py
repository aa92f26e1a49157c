"""The objects one X-Cart sandbox app works with, reachable from any request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from sandboxes.common.faults import FaultInjector
from sandboxes.common.stats import RequestStats
from sandboxes.xcart.settings import Settings
from sandboxes.xcart.store import Store
from sandboxes.xcart.webhooks import WebhookDispatcher

EXTENSION_KEY = "xcart_sandbox"


@dataclass
class Sandbox:
    store: Store
    settings: Settings
    webhooks: WebhookDispatcher
    stats: RequestStats
    faults: FaultInjector
    tokens: dict[str, str]

    def now(self) -> int:
        return self.settings.now()

    def emit(self, event: str, data: dict[str, Any]) -> None:
        self.webhooks.emit(event, data)


def current() -> Sandbox:
    sandbox: Sandbox = current_app.extensions[EXTENSION_KEY]
    return sandbox
