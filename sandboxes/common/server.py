"""Run a WSGI app on a threaded werkzeug server, in a background thread or in the foreground.

Sandbox state such as concurrency counters lives in one process, so the sandboxes always run in
one process with many threads (never several worker processes).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger(__name__)

#: Where an app keeps its clock (``app.config[CLOCK] = lambda: unix_time``): the ``Date`` header
#: of every answer then tells the sandbox's time, as a real server's tells its own.
CLOCK = "SANDBOX_CLOCK"


class _ClockedHandler(WSGIRequestHandler):
    """Werkzeug's handler, with the ``Date`` header from the app's clock (when it has one)."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is None:
            config = getattr(getattr(self.server, "app", None), "config", None)
            clock = config.get(CLOCK) if isinstance(config, dict) else None
            if clock is not None:
                timestamp = float(clock())
        return super().date_time_string(timestamp)


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
    server = make_server(host, port, app, threaded=True, request_handler=_ClockedHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox:{server.port}"
    )
    thread.daemon = True
    thread.start()
    return RunningServer(host=host, port=server.port, _server=server, _thread=thread)


def serve_forever(app: WSGIApplication, host: str, port: int) -> None:
    """Serve ``app`` in the foreground until interrupted (SIGINT/SIGTERM ends the process)."""
    server = make_server(host, port, app, threaded=True, request_handler=_ClockedHandler)
    log.info("listening on http://%s:%s", host, server.port)
    try:
        server.serve_forever()
    finally:
        server.server_close()


LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback_host(host: str) -> bool:
    """Whether listening on ``host`` keeps the server reachable from this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def add_listen_options(parser: argparse.ArgumentParser) -> None:
    """``--host`` (loopback by default) and ``--allow-remote``, checked by :func:`check_host`."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host beyond loopback (e.g. 0.0.0.0 inside a container); anyone who "
        "reaches it gets made-up data behind well-known credentials",
    )


def check_host(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit 2 (a usage error) for a non-loopback ``--host`` without ``--allow-remote``."""
    if is_loopback_host(args.host):
        return
    if not args.allow_remote:
        parser.error(
            f"--host {args.host} is not a loopback address: a sandbox serves made-up data behind "
            "well-known credentials, so it listens beyond this machine only with --allow-remote"
        )
    log.warning(
        "listening on %s beyond loopback (--allow-remote): whoever reaches it can use the "
        "sandbox's well-known credentials",
        args.host,
    )
