"""``python -m sync_workers.observability.flower``: Flower with the engine's rules.

Flower listens on ``FLOWER_ADDRESS:FLOWER_PORT``. Anywhere but loopback it refuses to start
without ``FLOWER_BASIC_AUTH`` (also readable from ``FLOWER_BASIC_AUTH_FILE``). Credentials go to
Flower through its own environment variable, never on the command line where ``ps`` would show
them. Queue lengths appear on Flower's Broker page (it reads the Redis lists, key prefix
included) and at ``/api/queues/length``; note that Flower's ``/metrics`` and ``/healthcheck``
skip authentication.

Flower's API can run any task with any arguments (``/api/task/apply``, ``async-apply``,
``send-task``), revoke or terminate tasks, change time and rate limits, shut workers down and
resize or restart their pools. Flower runs read-only unless ``FLOWER_READ_ONLY=false``: those
endpoints answer 403 and the UI hides their buttons. Read-write needs ``FLOWER_BASIC_AUTH`` even
on loopback, where every local user (and a web page, through DNS rebinding) can reach it.
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


#: Flower's own spellings of a boolean (``flower.utils.strtobool``).
_TRUE = {"y", "yes", "t", "true", "on", "1"}
_FALSE = {"n", "no", "f", "false", "off", "0"}


def read_only(environ: dict[str, str]) -> bool:
    """``FLOWER_READ_ONLY``, true unless set to false; raises :class:`FlowerRefused`."""
    value = environ.get("FLOWER_READ_ONLY", "true").strip().lower()
    if value not in _TRUE | _FALSE:
        raise FlowerRefused(f"FLOWER_READ_ONLY must be true or false, not {value!r}")
    return value in _TRUE


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
    operations = not read_only(env)
    if operations and not credentials:
        raise FlowerRefused(
            "FLOWER_READ_ONLY=false lets Flower run any task and shut workers down; set "
            "FLOWER_BASIC_AUTH (user:password) as well"
        )
    env["FLOWER_READ_ONLY"] = "false" if operations else "true"
    env["FLOWER_ADDRESS"] = address
    env["FLOWER_PORT"] = str(settings.flower_port)
    env.setdefault("FLOWER_PURGE_OFFLINE_WORKERS", "600")
    if credentials:
        env["FLOWER_BASIC_AUTH"] = str(credentials.reveal())
        # Flower's process loads the settings too, which refuse a variable given both ways.
        env.pop("FLOWER_BASIC_AUTH_FILE", None)
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
