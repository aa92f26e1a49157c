"""Start one sandbox by name in the current process (the target of the runner's processes)."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("sandboxes")

SANDBOXES = {"xcart": "X-Cart", "acumatica": "Acumatica"}


def find_create_app(kind: str) -> Any | None:
    """The sandbox's ``create_app`` (from the package or its ``app`` module), or ``None``."""
    for name in (f"sandboxes.{kind}", f"sandboxes.{kind}.app"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        create_app = getattr(module, "create_app", None)
        if create_app is not None:
            return create_app
    return None


def serve_sandbox(kind: str, host: str, port: int, data_dir: str, seed: bool) -> None:
    from sandboxes.common.server import serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    create_app = find_create_app(kind)
    assert create_app is not None
    path = Path(data_dir)
    try:
        app = create_app(path, seed=seed)
    except TypeError:
        app = create_app(path)
        if seed:
            app.test_client().post("/_sandbox/seed", json={})
    log.info("%s sandbox listening on http://%s:%s (data in %s)", SANDBOXES[kind], host, port, path)
    serve_forever(app, host, port)
