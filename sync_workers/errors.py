"""The two error classes every part of the engine speaks.

Connectors translate HTTP answers and exceptions into these (one table per system, see
``sync_workers.connectors.errors``); the base task retries ``TransientError`` with backoff and
sends ``PermanentError`` to the dead-letter queue at once.
"""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Base of engine errors. ``details`` is JSON-safe context kept in the dead-letter queue."""

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep keyword arguments across pickling (billiard sends exceptions between processes).
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[SyncError], message: str, state: dict[str, Any]) -> SyncError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class TransientError(SyncError):
    """Worth retrying: timeouts, connection errors, 429, 502-504, a licence seat not free yet.

    ``retry_after`` (seconds) is honoured by the base task when the remote system said how long
    to wait. ``fleet_wide``: the whole fleet waits on it (no licence seat free), not this record;
    the base task does not spend the record's retries on it (see ``sync_workers.task``).
    """

    fleet_wide = False

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class DependencyNotReady(TransientError):
    """A parent record (customer, sales order, order link) is not synced yet: defer, never fail."""


class PermanentError(SyncError):
    """Retrying cannot help: validation failures, 400/403/404/422, unmapped values.

    ``field_errors`` maps a field path (``"Details[2].InventoryID"``, ``"billing_address.state"``)
    to a human-readable reason.
    """

    def __init__(
        self,
        message: str,
        *,
        field_errors: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.field_errors: dict[str, str] = dict(field_errors or {})
