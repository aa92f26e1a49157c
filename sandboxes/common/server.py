"""Run a WSGI app on a threaded werkzeug server, in a background thread or in the foreground.

Sandbox state such as concurrency counters lives in one process, so the sandboxes always run in
one process with many threads (never several worker processes).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    """A server started by :func:`serve_in_thread`; ``url`` has no trailing slash."""

    host: str
    port: int
    _server: BaseWSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; requests still held by a fault are abandoned (daemon threads)."""
        self._server.shutdown()
        self._thread.join(timeout)
        self._server.server_close()


def serve_in_thread(app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve ``app`` in a daemon thread; ``port=0`` picks a free port.

    Request threads are daemons (werkzeug's threaded server), so a request held by a timeout
    fault never blocks ``stop()``.
    """
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox:{server.port}"
    )
    thread.daemon = True
    thread.start()
    return RunningServer(host=host, port=server.port, _server=server, _thread=thread)


def serve_forever(app: WSGIApplication, host: str, port: int) -> None:
    """Serve ``app`` in the foreground until interrupted (SIGINT/SIGTERM ends the process)."""
    server = make_server(host, port, app, threaded=True)
    log.info("listening on http://%s:%s", host, server.port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
