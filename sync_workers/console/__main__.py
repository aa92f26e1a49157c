"""``python -m sync_workers.console [--host H] [--port N] [--workers N]``: serve with gunicorn.

Refuses (exit 2) to listen anywhere but loopback without ``CONSOLE_USERS``. Before it serves,
it groups every open dead letter (``grouping``), so no page pays for a backlog of them.
gunicorn's own access log is off: the console logs each request by its route, never with the
ids or search terms of its path.
"""

from __future__ import annotations

import argparse
import logging
import sys

from sync_workers.gunicorn_app import GunicornApp
from sync_workers.ledger.schema import check_at_start
from sync_workers.logs import configure_logging
from sync_workers.observability.flower import is_loopback
from sync_workers.observability.sentry import init_sentry
from sync_workers.settings import settings_or_exit

log = logging.getLogger("sync_workers.console")


def main(argv: list[str] | None = None) -> None:
    settings = settings_or_exit()
    parser = argparse.ArgumentParser(prog="python -m sync_workers.console", description=__doc__)
    parser.add_argument("--host", default=settings.console_address)
    parser.add_argument("--port", type=int, default=settings.console_port)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not settings.console_users and not is_loopback(args.host):
        print(
            f"console: it would listen on {args.host} with nobody to sign in; set CONSOLE_USERS "
            "(name:password:role) or CONSOLE_ADDRESS=127.0.0.1",
            file=sys.stderr,
        )
        raise SystemExit(2)
    configure_logging(settings.log_level, settings.log_format)
    check_at_start(settings)
    init_sentry(settings)
    from sync_workers.console.app import create_app
    from sync_workers.console.grouping import Grouping
    from sync_workers.dlq import DeadLetterQueue
    from sync_workers.redis_client import get_redis

    app = create_app(settings)
    try:
        snapshot = Grouping(DeadLetterQueue(get_redis(), settings.redis_key_prefix)).snapshot(
            budget=None
        )
        log.info(
            "console: %d open dead letters in %d groups",
            sum(g.count for g in snapshot.groups),
            len(snapshot.groups),
        )
    except Exception as exc:  # Redis down at start: the pages say so and group later
        log.warning("console: dead letters not grouped at start: %s", type(exc).__name__)
    if not settings.console_users:
        log.warning("console: CONSOLE_USERS is not set: nobody can sign in")
    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": None,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
    }
    GunicornApp(app, options).run()


if __name__ == "__main__":
    main()
