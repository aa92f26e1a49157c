"""``python -m sandboxes.xcart [--host H [--allow-remote]] [--port 8091] [--data-dir D] [--seed]
[--faults JSON|@file] [--config JSON]``: run the X-Cart sandbox alone."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path

from sandboxes.common.faults import FaultConfig
from sandboxes.common.server import add_listen_options, check_host, serve_forever
from sandboxes.xcart.app import create_app

log = logging.getLogger("sandboxes.xcart")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.xcart")
    add_listen_options(parser)
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--data-dir", type=Path, default=Path("data/sandboxes/xcart"))
    parser.add_argument("--seed", action="store_true", help="load seed data if the store is empty")
    parser.add_argument("--faults", help="fault configuration: JSON text or @file")
    parser.add_argument("--config", help="switches as JSON, e.g. '{\"webhooks_enabled\": true}'")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    check_host(parser, args)
    faults = FaultConfig.from_text(args.faults) if args.faults else None
    switches = json.loads(args.config) if args.config else None
    app = create_app(args.data_dir, switches=switches, faults=faults, seed=args.seed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("X-Cart sandbox on http://%s:%s (data in %s)", args.host, args.port, args.data_dir)
    with contextlib.suppress(KeyboardInterrupt):
        serve_forever(app, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
