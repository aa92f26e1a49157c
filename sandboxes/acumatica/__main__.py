"""``python -m sandboxes.acumatica [--host H [--allow-remote]] [--port 8092] [--data-dir D]
[--seed] [--faults JSON] [--licence JSON]``: run the Acumatica sandbox alone."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from sandboxes.common.server import add_listen_options, check_host, serve_forever

from .app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.acumatica")
    add_listen_options(parser)
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--data-dir", default="data/sandboxes/acumatica")
    parser.add_argument("--seed", action="store_true", help="load the seed data set at start-up")
    parser.add_argument("--faults", help="fault configuration as JSON (default: $SANDBOX_FAULTS)")
    parser.add_argument("--licence", help='licence limits as JSON, e.g. {"max_sessions": 2}')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    check_host(parser, args)
    app = create_app(
        Path(args.data_dir),
        seed=args.seed,
        faults=json.loads(args.faults) if args.faults else None,
        licence=json.loads(args.licence)
        if args.licence
        else json.loads(os.environ.get("ACUMATICA_SANDBOX_LICENCE", "{}")),
    )
    logging.getLogger("sandboxes.acumatica").info(
        "Acumatica sandbox on http://%s:%s (user admin, tenant Company, endpoint Default/24.200.001)",
        args.host,
        args.port,
    )
    serve_forever(app, args.host, args.port)


if __name__ == "__main__":
    main()
