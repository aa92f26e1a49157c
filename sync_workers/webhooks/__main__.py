"""``python -m sync_workers.webhooks [--host H] [--port N] [--workers N]``: serve with gunicorn."""

from __future__ import annotations

import argparse

from sync_workers.gunicorn_app import GunicornApp
from sync_workers.ledger.schema import check_at_start
from sync_workers.logs import configure_logging
from sync_workers.observability.sentry import init_sentry
from sync_workers.settings import settings_or_exit
from sync_workers.webhooks.app import create_app


def main(argv: list[str] | None = None) -> None:
    settings = settings_or_exit()
    parser = argparse.ArgumentParser(prog="python -m sync_workers.webhooks", description=__doc__)
    parser.add_argument("--host", default=settings.webhooks_host)
    parser.add_argument("--port", type=int, default=settings.webhooks_port)
    parser.add_argument("--workers", type=int, default=settings.webhooks_workers)
    args = parser.parse_args(argv)
    configure_logging(settings.log_level, settings.log_format)
    check_at_start(settings)
    init_sentry(settings)
    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": "-",
        "limit_request_line": 8190,
        "limit_request_fields": 100,
    }
    GunicornApp(create_app(settings), options).run()


if __name__ == "__main__":
    main()
