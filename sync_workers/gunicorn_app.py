"""Serving a WSGI app with gunicorn from the engine's own entry points (the webhook receiver,
the console), with options given in code rather than a config file."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class GunicornApp(BaseApplication):
    def __init__(self, wsgi: Any, options: dict[str, Any]) -> None:
        self._wsgi = wsgi
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._wsgi
