"""``python -m sync_workers.observability.flower``: Flower with the engine's rules.

Flower listens on ``FLOWER_ADDRESS:FLOWER_PORT``. Anywhere but loopback it refuses to start
without ``FLOWER_BASIC_AUTH`` (also readable from ``FLOWER_BASIC_AUTH_FILE``), because Flower can
revoke tasks and shut workers down. Credentials go to Flower through its own environment
variable, never on the command line where ``ps`` would show them. Queue lengths appear on
Flower's Broker page (it reads the Redis lists, key prefix included) and at
``/api/queues/length``; note that Flower's ``/metrics`` and ``/healthcheck`` skip authentication.
"""

from __future__ import annotations

import ipaddress
import os
import sys

from sync_workers.settings import Settings, settings_or_exit

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(address: str) -> bool:
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


class FlowerRefused(Exception):
    pass


def flower_command(
    settings: Settings, environ: dict[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment to start Flower with; raises :class:`FlowerRefused`."""
    address = settings.flower_address
    credentials = settings.flower_basic_auth
    if not is_loopback(address) and not credentials:
        raise FlowerRefused(
            f"Flower would listen on {address} without authentication; set FLOWER_BASIC_AUTH "
            "(user:password) or FLOWER_ADDRESS=127.0.0.1"
        )
    env = dict(environ if environ is not None else os.environ)  # other FLOWER_* options kept
    env["FLOWER_ADDRESS"] = address
    env["FLOWER_PORT"] = str(settings.flower_port)
    env.setdefault("FLOWER_PURGE_OFFLINE_WORKERS", "600")
    if credentials:
        env["FLOWER_BASIC_AUTH"] = str(credentials.reveal())
    argv = [sys.executable, "-m", "celery", "-A", "sync_workers", "flower"]
    return argv, env


def main() -> None:
    settings = settings_or_exit()
    try:
        argv, env = flower_command(settings)
    except FlowerRefused as exc:
        print(f"flower: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    os.execve(argv[0], argv, env)


if __name__ == "__main__":
    main()
