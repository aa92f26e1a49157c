"""Who may sign in to the console: ``CONSOLE_USERS``, ``name:password:role`` separated by commas.

Roles: ``viewer`` (reads every page except a dead letter's payload and arguments) and
``operator`` (also acts: replay, resolve, edit, resync, reconcile). A password is at least
``PASSWORD_MIN_LENGTH`` characters and holds no comma; it may hold colons (the role is what
follows the last one). Passwords are compared in constant time, and an unknown name costs the
same comparison as a known one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

ROLES = ("viewer", "operator")
#: The same floor as Flower's passwords (``settings.PASSWORD_MIN_LENGTH``).
PASSWORD_MIN_LENGTH = 12


class UsersError(ValueError):
    """``CONSOLE_USERS`` is malformed; the message never holds a password."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_digest: bytes = field(repr=False)

    @property
    def operator(self) -> bool:
        return self.role == "operator"


def _digest(password: str) -> bytes:
    return hashlib.sha256(password.encode("utf-8")).digest()


def parse_users(value: str) -> dict[str, User]:
    """Name → user; raises :class:`UsersError` naming the first problem (never the password)."""
    users: dict[str, User] = {}
    for position, entry in enumerate(value.split(","), start=1):
        name, colon, rest = entry.strip().partition(":")
        password, colon2, role = rest.rpartition(":")
        if not name or not colon or not colon2 or not password or not role:
            raise UsersError(f"entry {position} must be name:password:role")
        if role not in ROLES:
            raise UsersError(f"user {name!r}: role must be viewer or operator")
        if len(password) < PASSWORD_MIN_LENGTH:
            raise UsersError(
                f"user {name!r}: the password must be at least {PASSWORD_MIN_LENGTH} characters"
            )
        if name in users:
            raise UsersError(f"user {name!r} is listed twice")
        users[name] = User(name, role, _digest(password))
    return users


#: What an unknown name is compared against, so that it takes as long as a known one.
_NOBODY = _digest("no such user: the comparison still runs")


def authenticate(users: Mapping[str, User], name: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else None."""
    user = users.get(name)
    matches = hmac.compare_digest(_digest(password), user.password_digest if user else _NOBODY)
    return user if user is not None and matches else None
