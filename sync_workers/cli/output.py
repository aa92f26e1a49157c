"""Printing for people and for scripts, from the same data.

Values shown to people come partly from outside (upstream error messages, store data, record
ids): :func:`printable` strips what a terminal would act on (ANSI escape sequences, C0 and C1
control characters, bidirectional overrides) before anything is printed in text mode, and
:func:`emit_json` escapes the same characters inside JSON strings.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

import click
from dateutil import parser as dateparser

from sync_workers.celery import FLOW_QUEUES
from sync_workers.cli import EXIT_FOUND

T = TypeVar("T")

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
by_option = click.option(
    "--by", default=None, help="Who is acting, for the audit trail (default: the OS user)."
)


#: Terminal escape sequences, whole: CSI (colours, cursor moves, ``ESC [ 2 J``), OSC (window
#: titles, hyperlinks, clipboard writes) up to BEL or ST (or the end of an unterminated one),
#: DCS/SOS/PM/APC strings, and the two- and three-character ESC sequences (``ESC c`` resets).
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
#: Every other C0 and C1 control, DEL, and the bidirectional embeddings, overrides and isolates
#: (they make text read differently from what it is); newline and tab are handled apart.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(value: Any, *, multiline: bool = False) -> str:
    """``value`` as text safe to print on a terminal: escape sequences and control characters
    removed; newlines and tabs kept when ``multiline``, else each becomes a space."""
    text = "" if value is None else str(value)
    text = _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))
    if not multiline:
        text = text.replace("\n", " ").replace("\t", " ")
    return text


def actor(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER") or f"uid:{os.getuid()}"


def emit_json(data: Any) -> None:
    """``data`` as indented JSON; the JSON encoder escapes C0 controls, and DEL, C1 controls and
    bidirectional overrides are escaped here (``\\u009b``), so a terminal shows them inert."""
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    click.echo(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def fail(message: str, code: int = EXIT_FOUND, *, as_json: bool = False) -> NoReturn:
    if as_json:
        emit_json({"error": message})
    else:
        click.secho(message, err=True, fg="red")
    sys.exit(code)


def usage_error(message: str) -> NoReturn:
    raise click.UsageError(message)


def check_flow(flow: str) -> str:
    if flow not in FLOW_QUEUES:
        usage_error(f"unknown flow {flow!r}; one of {', '.join(FLOW_QUEUES)}")
    return flow


def parse_since(value: str | None) -> datetime | None:
    """An ISO date or time; a naive value is UTC."""
    if value is None:
        return None
    try:
        moment = dateparser.isoparse(value)
    except (ValueError, OverflowError):
        usage_error(f"--since {value!r} is not an ISO date or time (e.g. 2026-11-27T06:00Z)")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def on_terminal() -> bool:
    return sys.stdout.isatty()


@contextmanager
def progress(
    items: Iterable[T], *, label: str, length: int | None = None, enabled: bool = True
) -> Iterator[Iterable[T]]:
    """A progress bar on a terminal (never with ``--json``); the plain iterable otherwise."""
    if enabled and on_terminal():
        with click.progressbar(items, label=label, length=length, file=sys.stderr) as bar:
            yield bar
    else:
        yield items


def table(rows: list[list[Any]], headers: list[str]) -> None:
    """A plain aligned table (no colours needed to read it); every cell made :func:`printable`."""
    cells = [[printable(h) for h in headers]] + [[printable(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        click.echo(click.style(line, bold=True) if n == 0 else line)


def shorten(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def run_guarded(action: Callable[[], T], what: str, *, as_json: bool) -> T:
    """Run ``action``; a Redis or database outage becomes one line and exit 1, no traceback."""
    import redis
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return action()
    except redis.RedisError as exc:
        fail(f"{what}: Redis is unavailable ({type(exc).__name__})", as_json=as_json)
    except SQLAlchemyError as exc:
        fail(
            f"{what}: the ledger is unavailable ({type(exc).__name__}); "
            "is it migrated (python -m sync_workers.ledger upgrade)?",
            as_json=as_json,
        )


#: Key pairs that hold one field's two values in a drift's details: (the target's, the source's).
_PAIRS = (("current", "proposed"), ("now", "expected"), ("target", "source"))


def _pair(value: Any) -> tuple[Any, Any] | None:
    if isinstance(value, dict):
        for current, proposed in _PAIRS:
            if current in value and proposed in value:
                return value[current], value[proposed]
    return None


def field_differences(details: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(field, current, proposed)`` of a drift's or a planned change's field differences.

    Reads ``fields`` as a list of ``{"field", "current", "proposed"}`` (what
    ``flows.shape.mismatch_details`` and ``FieldChange`` give), and any mapping, nested or not,
    whose leaves are ``{"current", "proposed"}``, ``{"now", "expected"}`` or ``{"target",
    "source"}`` (the field named by its path). Values of personal fields (names, e-mails,
    addresses, phones) are masked: people see which field differs, not the customer's data.
    """
    found: list[tuple[str, Any, Any]] = []
    if not isinstance(details, dict):
        return found
    for key, value in details.items():
        name = f"{prefix}{key}"
        if key == "fields" and not prefix and isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, dict) and "field" in item:
                    found.append((str(item["field"]), item.get("current"), item.get("proposed")))
        elif (pair := _pair(value)) is not None:
            found.append((name, *pair))
        elif isinstance(value, dict):
            found += field_differences(value, f"{name}.")
    return [_masked(field, current, proposed) for field, current, proposed in found]


def _masked(field: str, current: Any, proposed: Any) -> tuple[str, Any, Any]:
    from sync_workers.observability.scrubbing import is_personal_key
    from sync_workers.redaction import MASK

    if is_personal_key(field) and (current, proposed) != (MASK, MASK):
        return field, None if current is None else MASK, None if proposed is None else MASK
    return field, current, proposed


def masked(value: Any, *, personal: bool = False) -> Any:
    """A copy of a drift's or a planned change's details with every value under a personal key
    (names, e-mails, addresses, phones), and both values of a ``fields`` entry naming a personal
    field, masked; keys, field names and ``None`` are kept, so JSON output shows which field
    differs, not the customer's data."""
    from sync_workers.observability.scrubbing import is_personal_key
    from sync_workers.redaction import MASK

    if isinstance(value, dict):
        if "field" in value and ("current" in value or "proposed" in value):
            personal = personal or is_personal_key(str(value["field"]))
        return {
            key: value[key]
            if key == "field"
            else masked(value[key], personal=personal or is_personal_key(str(key)))
            for key in value
        }
    if isinstance(value, list | tuple):
        return [masked(item, personal=personal) for item in value]
    if personal and value is not None:
        return MASK
    return value


def show_field_differences(source: Any, differences: Iterable[tuple[str, Any, Any]]) -> None:
    """One line per differing field: ``  <source>: <field>: <current> -> <proposed>``."""
    for name, current, proposed in differences:
        click.echo(printable(f"  {source}: {name}: {current!r} -> {proposed!r}"))
