from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask, jsonify, request

from sandboxes.common.control import make_control_blueprint
from sandboxes.common.faults import FaultInjector
from sandboxes.common.server import RunningServer, serve_in_thread
from sandboxes.common.stats import RequestStats


@dataclass
class TinyApp:
    """A minimal app wired like a sandbox: a list of stored items behind the shared machinery."""

    app: Flask
    injector: FaultInjector
    stats: RequestStats
    items: list[str] = field(default_factory=list)
    seeds: list[dict] = field(default_factory=list)


def make_tiny_app() -> TinyApp:
    app = Flask("tiny")
    injector = FaultInjector(env_var=None)
    stats = RequestStats()
    tiny = TinyApp(app, injector, stats)
    lock = threading.Lock()

    @app.post("/api/items")
    def add_item():
        with lock:
            tiny.items.append(request.get_json()["name"])
        return jsonify({"stored": True}), 201

    @app.get("/api/items")
    def list_items():
        with lock:
            return jsonify(list(tiny.items))

    def on_seed(options: dict) -> dict:
        tiny.seeds.append(options)
        tiny.items.extend(["seeded"] * int(options.get("count", 1)))
        return {"items": len(tiny.items)}

    bp = make_control_blueprint(
        injector=injector,
        stats=stats,
        on_reset=tiny.items.clear,
        on_seed=on_seed,
        extra_stats=lambda: {"items_stored": len(tiny.items)},
    )
    injector.attach(app, stats)
    app.register_blueprint(bp)
    return tiny


@pytest.fixture
def tiny() -> TinyApp:
    return make_tiny_app()


@pytest.fixture
def served(tiny: TinyApp) -> Iterator[tuple[TinyApp, RunningServer]]:
    server = serve_in_thread(tiny.app)
    yield tiny, server
    tiny.injector.release_holds()
    server.stop()
