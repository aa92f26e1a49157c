"""``python -m sync_workers.ledger upgrade|downgrade|current``: manage the ledger schema."""

from __future__ import annotations

import argparse

from sync_workers.ledger import migrate
from sync_workers.ledger.db import make_engine
from sync_workers.redaction import redact_url
from sync_workers.settings import settings_or_exit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync_workers.ledger")
    parser.add_argument("action", choices=["upgrade", "downgrade", "current"])
    parser.add_argument(
        "revision", nargs="?", help="target revision (upgrade: head, downgrade: base)"
    )
    args = parser.parse_args(argv)
    url = settings_or_exit().database_url.reveal()
    if args.action == "upgrade":
        migrate.upgrade(url, args.revision or "head")
    elif args.action == "downgrade":
        migrate.downgrade(url, args.revision or "base")
    engine = make_engine(url)
    print(
        f"ledger {redact_url(url)}: revision {migrate.current_revision(engine) or 'none'}"
        f" (head {migrate.head_revision()})"
    )
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
