"""The class of every operator command: the ledger's schema is checked before the command runs."""

from __future__ import annotations

import logging
from typing import Any

import click
from celery.bin.base import CeleryCommand


class OperatorCommand(CeleryCommand):
    """A ``celery`` subcommand that first checks the ledger (``sync_workers.ledger.schema``):
    exit 2 with one line on a ledger at another schema revision; the embedded default is migrated.
    Runs after the arguments are parsed, so ``--help`` and usage errors never touch the ledger."""

    def invoke(self, ctx: click.Context) -> Any:
        from sync_workers.ledger.schema import check_at_start
        from sync_workers.logs import configure_logging
        from sync_workers.settings import settings_or_exit

        settings = settings_or_exit()
        if not logging.getLogger().handlers:  # a plain command line: log as the other processes do
            configure_logging(settings.log_level, settings.log_format)
        check_at_start(settings)
        return super().invoke(ctx)
