"""The ``$filter`` language (OData v3 URI conventions, as Acumatica reads them).

A tokenizer and a recursive-descent parser produce a small tree; ``evaluate`` runs it against
one record through a resolver that knows field types. String comparisons ignore case and
trailing spaces, as the SQL Server collation behind a real instance does.

The OData endpoints read OData v4 literals (unquoted date-times, numbers promoted to the
field's type). The contract API is stricter: ``parse(text, bare_dates=False)`` refuses an
unquoted date-time, and :func:`check_literal_types` refuses a literal that a decimal or date
field would need converted (``OrderTotal gt 100``; ``OrderTotal gt 100m`` is accepted).

Grammar::

    expr    := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | compare
    compare := operand (("eq"|"ne"|"gt"|"ge"|"lt"|"le") operand)?
    operand := "(" expr ")" | literal | name "(" [expr ("," expr)*] ")" | path
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .entities.model import BOOLEAN, DATETIME, DECIMAL, INT, SHORT
from .values import BadValue, parse_datetime


class FilterError(Exception):
    """The filter text is not valid."""


class UnknownField(FilterError):
    """The filter names a field the entity does not have."""


class TypeConversion(FilterError):
    """A literal whose type is not the field's: the contract API converts none."""

    exception_type = "System.NotSupportedException"

    def __init__(self) -> None:
        super().__init__("Type conversions are not supported.")


COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
FUNCTIONS = (
    "substringof",
    "startswith",
    "endswith",
    "contains",
    "tolower",
    "toupper",
    "trim",
    "length",
)
TYPED_PREFIXES = ("datetimeoffset", "datetime", "date", "guid", "time")
# OData v4 writes date-times without quotes (DAC and GI OData filters).
_BARE_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)


@dataclass(frozen=True)
class Token:
    kind: str  # "(" ")" "," "str" "typed" "num" "name" "op" "kw" "lit" "end"
    text: str
    pos: int
    extra: str = ""


def tokenize(text: str, *, bare_dates: bool = True) -> list[Token]:
    """Split filter text into tokens; ``bare_dates`` reads unquoted ISO date-times (OData v4)."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(Token(ch, ch, i))
            i += 1
        elif ch == "'":
            value, i = _read_string(text, i)
            tokens.append(Token("str", value, i))
        elif ch.isdigit() and (iso := _BARE_DATETIME.match(text, i)):
            if not bare_dates:  # OData v3 has no unquoted date-time literal
                raise FilterError(f"Syntax error at position {i} in '{text}'.")
            tokens.append(Token("typed", iso.group(0), i, "datetimeoffset"))
            i = iso.end()
        elif ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit()):
            start = i
            i += 1
            while i < n and (text[i].isdigit() or text[i] in ".eE"):
                i += 1
            number = text[start:i]
            suffix = ""
            if i < n and text[i] in "mMdDfFlL" and (i + 1 == n or not text[i + 1].isalnum()):
                suffix = text[i].lower()
                i += 1
            tokens.append(Token("num", number, start, suffix))
        elif ch.isalpha() or ch == "_":
            start = i
            while i < n and (text[i].isalnum() or text[i] in "_/."):
                i += 1
            word = text[start:i]
            lower = word.lower()
            if lower in TYPED_PREFIXES and i < n and text[i] == "'":
                value, i = _read_string(text, i)
                tokens.append(Token("typed", value, start, lower))
            elif lower in COMPARISONS:
                tokens.append(Token("op", lower, start))
            elif lower in ("and", "or", "not"):
                tokens.append(Token("kw", lower, start))
            elif lower in ("true", "false", "null"):
                tokens.append(Token("lit", lower, start))
            else:
                tokens.append(Token("name", word, start))
        else:
            raise FilterError(f"Unexpected character '{ch}' at position {i}.")
    tokens.append(Token("end", "", n))
    return tokens


def _read_string(text: str, i: int) -> tuple[str, int]:
    """Read a quoted string starting at ``text[i] == "'"``; ``''`` is one quote."""
    out: list[str] = []
    i += 1
    while i < len(text):
        if text[i] == "'":
            if i + 1 < len(text) and text[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(text[i])
        i += 1
    raise FilterError("Unterminated string literal.")


Node = tuple[Any, ...]


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self, kind: str | None = None, text: str | None = None) -> Token:
        tok = self.tokens[self.i]
        if (kind and tok.kind != kind) or (text and tok.text != text):
            raise FilterError(f"Syntax error at position {tok.pos}: '{tok.text or 'end'}'.")
        self.i += 1
        return tok

    def expr(self) -> Node:
        node = self.and_()
        while self.peek().kind == "kw" and self.peek().text == "or":
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.unary()
        while self.peek().kind == "kw" and self.peek().text == "and":
            self.take()
            node = ("and", node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek().kind == "kw" and self.peek().text == "not":
            self.take()
            return ("not", self.unary())
        return self.compare()

    def compare(self) -> Node:
        left = self.operand()
        if self.peek().kind == "op":
            op = self.take().text
            return ("cmp", op, left, self.operand())
        return left

    def operand(self) -> Node:
        tok = self.peek()
        if tok.kind == "(":
            self.take()
            node = self.expr()
            self.take(")")
            return node
        if tok.kind == "str":
            self.take()
            return ("const", tok.text, "string")
        if tok.kind == "num":
            self.take()
            number = float(tok.text)
            kind = _NUMBER_KINDS.get(tok.extra) or (
                "double" if any(c in tok.text for c in ".eE") else "int"
            )
            return ("const", int(number) if kind in ("int", "long") else number, kind)
        if tok.kind == "lit":
            self.take()
            value = {"true": True, "false": False, "null": None}[tok.text]
            return ("const", value, "null" if value is None else "boolean")
        if tok.kind == "typed":
            self.take()
            return ("const", _typed_literal(tok.extra, tok.text), tok.extra)
        if tok.kind == "name":
            self.take()
            if self.peek().kind == "(":
                name = tok.text.lower()
                if name not in FUNCTIONS:
                    raise FilterError(f"Unknown function '{tok.text}'.")
                self.take("(")
                args: list[Node] = []
                if self.peek().kind != ")":
                    args.append(self.expr())
                    while self.peek().kind == ",":
                        self.take()
                        args.append(self.expr())
                self.take(")")
                return ("call", name, tuple(args))
            return ("field", tok.text)
        raise FilterError(f"Syntax error at position {tok.pos}: '{tok.text or 'end'}'.")


def _typed_literal(kind: str, text: str) -> Any:
    if kind in ("datetimeoffset", "datetime", "date"):
        try:
            if kind == "date":
                d = date.fromisoformat(text.strip())
                return datetime(d.year, d.month, d.day, tzinfo=UTC)
            return parse_datetime(text)
        except (ValueError, BadValue) as exc:
            raise FilterError(f"Invalid {kind} literal '{text}'.") from exc
    return text


_NUMBER_KINDS = {"m": "decimal", "l": "long", "d": "double", "f": "single"}


def parse(text: str, *, bare_dates: bool = True) -> Node:
    """The tree of a filter; a literal is ``("const", value, kind)``, kind as OData types it."""
    parser = _Parser(tokenize(text, bare_dates=bare_dates))
    node = parser.expr()
    parser.take("end")
    return node


# Literal kinds the contract API compares with each field type without a conversion: an
# integer against a decimal field needs one (``100m`` does not), and so does text or a number
# against a date. Other field types take the literals OData would promote.
_LITERALS_FOR_TYPE = {
    DECIMAL: frozenset({"decimal", "null"}),
    DATETIME: frozenset({"datetimeoffset", "datetime", "date", "null"}),
}


def check_literal_types(node: Node, type_of: Callable[[str], str]) -> None:
    """Refuse (:class:`TypeConversion`) a comparison whose literal is not of its field's type.

    The contract API answers such a filter with a 500 and no record read, whatever the data.
    """
    kind = node[0]
    if kind == "cmp":
        for field_node, const in ((node[2], node[3]), (node[3], node[2])):
            if field_node[0] == "field" and const[0] == "const":
                accepted = _LITERALS_FOR_TYPE.get(type_of(field_node[1]))
                if accepted is not None and const[2] not in accepted:
                    raise TypeConversion()
        children: tuple[Node, ...] = (node[2], node[3])
    elif kind == "call":
        children = node[2]
    elif kind in ("and", "or", "not"):
        children = node[1:]
    else:
        return
    for child in children:
        check_literal_types(child, type_of)


Resolver = Callable[[str], tuple[Any, str]]


def field_paths(node: Node) -> list[str]:
    """Every field path a filter names (to check them even when no record is read)."""
    if node[0] == "field":
        return [node[1]]
    if node[0] == "const":
        return []
    if node[0] == "call":
        return [p for arg in node[2] for p in field_paths(arg)]
    return [p for child in node[1:] if isinstance(child, tuple) for p in field_paths(child)]


Hint = tuple[str, frozenset[str]]


def equality_hints(node: Node) -> list[Hint]:
    """Top-level fields and the texts each must equal for ``node`` to hold (compared as
    :func:`_compare` compares text: case and trailing spaces ignored); empty when none.

    A necessary condition only, cheap to test on every record before the full evaluation: what
    an index gives the real Acumatica, so a look-up by ``CustomerOrder`` does not slow down as
    the sales orders pile up.
    """
    kind = node[0]
    if kind == "cmp" and node[1] == "eq":
        for field_node, const in ((node[2], node[3]), (node[3], node[2])):
            if (
                field_node[0] == "field"
                and "/" not in field_node[1]
                and const[0] == "const"
                and isinstance(const[1], str)
            ):
                return [(field_node[1], frozenset({const[1].rstrip().lower()}))]
        return []
    if kind == "or":
        left, right = equality_hints(node[1]), equality_hints(node[2])
        if len(left) == 1 and len(right) == 1 and left[0][0] == right[0][0]:
            return [(left[0][0], left[0][1] | right[0][1])]
        return []
    if kind == "and":
        return equality_hints(node[1]) + equality_hints(node[2])
    return []


#: Field types compared as numbers, dates or flags, never as text.
NOT_TEXT_TYPES = (DATETIME, DECIMAL, INT, SHORT, BOOLEAN)


def may_match(hints: list[Hint], resolve: Resolver) -> bool:
    """False only when a field of ``hints`` cannot equal any of its texts."""
    for field_path, texts in hints:
        value, type_ = resolve(field_path)
        if (
            isinstance(value, str)
            and type_ not in NOT_TEXT_TYPES
            and value.rstrip().lower() not in texts
        ):
            return False
    return True  # anything compared as a number, date or flag is left to the full evaluation


def evaluate(node: Node, resolve: Resolver) -> Any:
    kind = node[0]
    if kind == "or":
        return bool(evaluate(node[1], resolve)) or bool(evaluate(node[2], resolve))
    if kind == "and":
        return bool(evaluate(node[1], resolve)) and bool(evaluate(node[2], resolve))
    if kind == "not":
        return not evaluate(node[1], resolve)
    if kind == "const":
        return node[1]
    if kind == "field":
        value, type_ = resolve(node[1])
        return _typed_value(value, type_)
    if kind == "call":
        return _call(node[1], [evaluate(a, resolve) for a in node[2]])
    if kind == "cmp":
        return _compare(node[1], evaluate(node[2], resolve), evaluate(node[3], resolve))
    raise FilterError(f"Cannot evaluate {kind}.")


def _typed_value(value: Any, type_: str) -> Any:
    if value is None:
        return None
    if type_ == DATETIME:
        return parse_datetime(value)
    if type_ in (DECIMAL, INT, SHORT):
        return float(value)
    if type_ == BOOLEAN:
        return bool(value)
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _call(name: str, args: list[Any]) -> Any:
    def need(count: int) -> None:
        if len(args) != count:
            raise FilterError(f"Function '{name}' takes {count} argument(s).")

    if name == "substringof":
        need(2)
        return _text(args[0]).lower() in _text(args[1]).lower()
    if name == "contains":
        need(2)
        return _text(args[1]).lower() in _text(args[0]).lower()
    if name == "startswith":
        need(2)
        return _text(args[0]).lower().startswith(_text(args[1]).lower())
    if name == "endswith":
        need(2)
        return _text(args[0]).rstrip().lower().endswith(_text(args[1]).lower())
    need(1)
    if name == "tolower":
        return _text(args[0]).lower()
    if name == "toupper":
        return _text(args[0]).upper()
    if name == "trim":
        return _text(args[0]).strip()
    return len(_text(args[0]))


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, datetime) or isinstance(right, datetime):
        return _as_datetime(left), _as_datetime(right)
    if isinstance(left, bool) or isinstance(right, bool):
        return _as_bool(left), _as_bool(right)
    if isinstance(left, int | float) or isinstance(right, int | float):
        try:
            return float(left), float(right)
        except (TypeError, ValueError) as exc:
            raise FilterError(f"Cannot compare '{left}' with '{right}'.") from exc
    return _text(left).rstrip().lower(), _text(right).rstrip().lower()


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return parse_datetime(str(value))
    except BadValue as exc:
        raise FilterError(f"Cannot compare '{value}' with a date.") from exc


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        if op == "eq":
            return left is None and right is None
        if op == "ne":
            return not (left is None and right is None)
        return False
    a, b = _coerce(left, right)
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if op == "gt":
        return bool(a > b)
    if op == "ge":
        return bool(a >= b)
    if op == "lt":
        return bool(a < b)
    return bool(a <= b)
