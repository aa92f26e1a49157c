"""``python -m chaos.relay``: TCP forwarding from the hosts' side of the veth pairs to loopback.

The sandboxes, PostgreSQL and RabbitMQ of a chaos run listen on 127.0.0.1 of the root
namespace only, which a worker in another network namespace cannot reach (the run's own Redis
is bound to the hosts' addresses instead). This relay listens on the root-side address of each
host's veth pair, on the service's port, and copies bytes both ways to ``127.0.0.1`` on the
same port: every byte a worker sends still crosses its host's link, so a cut link cuts the
worker off, as it would from a remote server. A service that is down is seen as a connection
closed at once rather than refused.

    python -m chaos.relay 10.213.7.1:5432 10.213.7.5:5432 10.213.7.1:41001 ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

TARGET = "127.0.0.1"
CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _handler(port: int) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(TARGET, port)
        except OSError:
            writer.close()  # the service is down (a Redis restart): the client sees a reset
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return handle


async def serve(listen: list[tuple[str, int]]) -> None:
    servers = [
        await asyncio.start_server(_handler(port), host, port, reuse_address=True)
        for host, port in listen
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"relay: {len(servers)} listeners up", flush=True)
    await stop.wait()
    for server in servers:
        server.close()


def parse(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.relay", description=__doc__)
    parser.add_argument("listen", nargs="+", type=parse, help="ADDRESS:PORT to listen on")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.listen))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
