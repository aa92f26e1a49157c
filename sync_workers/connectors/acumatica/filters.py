"""Safe ``$filter`` building for Acumatica: OData v3 (contract REST) and v4 (OData endpoints).

Every literal is rendered from its Python type and escaped; field names are checked against a
strict pattern. A SKU, e-mail or name holding quotes, slashes or OData keywords stays inside
its quoted literal, so it can neither break nor alter the query::

    flt = (F("CustomerOrder") == "O'NEIL/42") & (F("LastModified") >= since)
    flt.render()  # "(CustomerOrder eq 'O''NEIL/42') and (LastModified ge datetimeoffset'...')"
    flt.render("v4")  # same, with OData v4 literals (bare dates, decimals without ``m``)

Literals stay typed inside an expression until it is rendered for a dialect.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sync_workers.dates import to_utc_iso

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")

Literal = str | bool | int | float | Decimal | datetime | date | uuid.UUID | None
Dialect = str  # "v3" (contract-based REST) or "v4" (OData endpoints)


def literal(value: Literal, dialect: Dialect = "v3") -> str:
    """Render one typed literal. Naive datetimes are refused: the caller must say the zone."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("non-finite numbers have no OData literal")
        if isinstance(value, Decimal) and not value.is_finite():
            raise ValueError("non-finite numbers have no OData literal")
        text = format(Decimal(str(value)), "f")
        # The contract API compares a decimal field only with a decimal literal (``100m``);
        # OData v4 writes decimals without a suffix.
        return text if dialect == "v4" else f"{text}m"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in a filter; give it a time zone")
        text = to_utc_iso(value)
        return text.replace("+00:00", "Z") if dialect == "v4" else f"datetimeoffset'{text}'"
    if isinstance(value, date):
        return value.isoformat() if dialect == "v4" else f"date'{value.isoformat()}'"
    if isinstance(value, uuid.UUID):
        return str(value) if dialect == "v4" else f"guid'{value}'"
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("NUL character in a filter literal")
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no OData literal for {type(value).__name__}")


@dataclass(frozen=True)
class _Lit:
    value: Literal


_Part = str | _Lit


class Expr:
    """A boolean expression; combine with ``&``, ``|`` and ``~``; render for a dialect."""

    def __init__(self, *parts: _Part) -> None:
        self._parts: tuple[_Part, ...] = parts

    def render(self, dialect: Dialect = "v3") -> str:
        return "".join(
            part if isinstance(part, str) else literal(part.value, dialect) for part in self._parts
        )

    def __and__(self, other: Expr) -> Expr:
        return Expr("(", *self._parts, ") and (", *_expr(other)._parts, ")")

    def __or__(self, other: Expr) -> Expr:
        return Expr("(", *self._parts, ") or (", *_expr(other)._parts, ")")

    def __invert__(self) -> Expr:
        return Expr("not (", *self._parts, ")")

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Expr({self.render()!r})"

    def __bool__(self) -> bool:
        raise TypeError("use & and | to combine filter expressions, not 'and'/'or'")


def _expr(value: Any) -> Expr:
    if not isinstance(value, Expr):
        raise TypeError("filters combine only with other filter expressions")
    return value


@dataclass(frozen=True, eq=False)
class F:
    """A field reference (``F("MainContact/Email")``) whose comparisons build :class:`Expr`."""

    name: str

    def __post_init__(self) -> None:
        if not _FIELD.match(self.name):
            raise ValueError(f"invalid field name for a filter: {self.name!r}")

    def _cmp(self, op: str, value: Literal) -> Expr:
        literal(value)  # refuse unrenderable values now, not at render time
        return Expr(f"{self.name} {op} ", _Lit(value))

    def __eq__(self, value: object) -> Expr:  # type: ignore[override]
        return self._cmp("eq", value)  # type: ignore[arg-type]

    def __ne__(self, value: object) -> Expr:  # type: ignore[override]
        return self._cmp("ne", value)  # type: ignore[arg-type]

    def __gt__(self, value: Literal) -> Expr:
        return self._cmp("gt", value)

    def __ge__(self, value: Literal) -> Expr:
        return self._cmp("ge", value)

    def __lt__(self, value: Literal) -> Expr:
        return self._cmp("lt", value)

    def __le__(self, value: Literal) -> Expr:
        return self._cmp("le", value)

    def startswith(self, value: str) -> Expr:
        literal(value)
        return Expr(f"startswith({self.name},", _Lit(value), ")")

    def endswith(self, value: str) -> Expr:
        literal(value)
        return Expr(f"endswith({self.name},", _Lit(value), ")")

    def contains(self, value: str) -> Expr:
        """``substringof('x',Field)``; use :func:`contains_v4` for the OData v4 endpoints."""
        literal(value)
        return Expr("substringof(", _Lit(value), f",{self.name})")

    def contains_v4(self, value: str) -> Expr:
        literal(value)
        return Expr(f"contains({self.name},", _Lit(value), ")")


def all_of(*exprs: Expr) -> Expr:
    """``a and b and ...`` (one expression is returned as is)."""
    if not exprs:
        raise ValueError("all_of needs at least one expression")
    result = exprs[0]
    for expr in exprs[1:]:
        result = result & expr
    return result


def any_of(*exprs: Expr) -> Expr:
    """``a or b or ...`` (one expression is returned as is)."""
    if not exprs:
        raise ValueError("any_of needs at least one expression")
    result = exprs[0]
    for expr in exprs[1:]:
        result = result | expr
    return result


def one_of(field: str, values: list[Literal]) -> Expr:
    """``field eq v1 or field eq v2 ...`` (OData v3 has no ``in``)."""
    ref = F(field)
    return any_of(*(ref == value for value in values))
