"""``python -m sandboxes [--only xcart|acumatica] [--data-dir data/sandboxes]
[--xcart-port 8091] [--acumatica-port 8092] [--host 127.0.0.1 [--allow-remote]] [--seed]``

Runs each sandbox in its own process, logs where each listens and stops both on SIGINT/SIGTERM.
A ``--host`` beyond loopback needs ``--allow-remote``. The Acumatica sandbox is imported lazily;
when it is not installed the runner says so and runs the X-Cart sandbox alone.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import sys
import time
from pathlib import Path
from typing import Any

from sandboxes.common.runner import SANDBOXES, find_create_app, serve_sandbox
from sandboxes.common.server import add_listen_options, check_host

log = logging.getLogger("sandboxes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandboxes")
    parser.add_argument("--only", choices=sorted(SANDBOXES))
    parser.add_argument("--data-dir", type=Path, default=Path("data/sandboxes"))
    add_listen_options(parser)
    parser.add_argument("--xcart-port", type=int, default=8091)
    parser.add_argument("--acumatica-port", type=int, default=8092)
    parser.add_argument("--seed", action="store_true", help="load seed data into empty stores")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    check_host(parser, args)

    wanted = [args.only] if args.only else list(SANDBOXES)
    ports = {"xcart": args.xcart_port, "acumatica": args.acumatica_port}
    kinds = []
    for kind in wanted:
        if find_create_app(kind) is None:
            log.error(
                "the %s sandbox is missing (sandboxes.%s.create_app not found); not starting it",
                SANDBOXES[kind],
                kind,
            )
        else:
            kinds.append(kind)
    if not kinds:
        return 1

    context = multiprocessing.get_context("spawn")
    processes = {
        kind: context.Process(
            target=serve_sandbox,
            args=(kind, args.host, ports[kind], str(args.data_dir / kind), args.seed),
            name=f"{kind}-sandbox",
        )
        for kind in kinds
    }
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for process in processes.values():
        process.start()
    exit_code = 0
    while not stopping:
        dead = [kind for kind, p in processes.items() if not p.is_alive()]
        if dead:
            log.error("the %s sandbox stopped unexpectedly; stopping all", SANDBOXES[dead[0]])
            exit_code = 1
            break
        time.sleep(0.2)
    for process in processes.values():
        if process.is_alive():
            process.terminate()
    for process in processes.values():
        process.join(5)
        if process.is_alive():
            process.kill()
    log.info("sandboxes stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
