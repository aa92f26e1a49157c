"""The $filter language: tokenizer, parser and evaluation against typed fields."""

from __future__ import annotations

from typing import Any

import pytest

from sandboxes.acumatica.filters import FilterError, evaluate, parse, tokenize

RECORD: dict[str, tuple[Any, str]] = {
    "CustomerOrder": ("O'Neil 42", "String"),
    "OrderTotal": (120.5, "Decimal"),
    "Hold": (False, "Boolean"),
    "LastModified": ("2026-03-02T14:05:11.37+00:00", "DateTime"),
    "Description": (None, "String"),
    "MainContact/Email": ("Ann@Example.com", "String"),
}


def matches(text: str) -> bool:
    def resolve(path: str) -> tuple[Any, str]:
        if path not in RECORD:
            raise FilterError(path)
        return RECORD[path]

    return bool(evaluate(parse(text), resolve))


@pytest.mark.parametrize(
    "text",
    [
        "CustomerOrder eq 'O''Neil 42'",
        "CustomerOrder eq 'o''neil 42'",
        "OrderTotal gt 100 and OrderTotal le 120.5m",
        "OrderTotal ge 120.5 or Hold eq true",
        "not (Hold eq true)",
        "(OrderTotal lt 0 or CustomerOrder ne 'x') and Hold eq false",
        "LastModified gt datetimeoffset'2026-03-02T14:05:11+00:00'",
        "LastModified ge datetime'2026-03-02T16:00:00+02:00'",
        "LastModified lt datetime'2026-03-03T00:00:00'",
        "LastModified ge date'2026-03-02'",
        "LastModified gt 2026-03-01T00:00:00Z",
        "substringof('neil', CustomerOrder)",
        "startswith(CustomerOrder, 'O''N')",
        "endswith(CustomerOrder, ' 42')",
        "MainContact/Email eq 'ann@example.com'",
        "Description eq null",
        "CustomerOrder gt 'N'",
        "tolower(CustomerOrder) eq 'o''neil 42'",
    ],
)
def test_filter_matches(text: str) -> None:
    assert matches(text)


@pytest.mark.parametrize(
    "text",
    [
        "CustomerOrder eq 'O''Neil 43'",
        "OrderTotal gt 120.5",
        "LastModified lt datetimeoffset'2026-03-02T14:05:11+00:00'",
        "LastModified gt datetime'2026-03-02T16:05:12+02:00'",
        "Description ne null",
        "Hold eq true and OrderTotal gt 0",
        "startswith(CustomerOrder, 'X')",
        "CustomerOrder lt 'N'",
    ],
)
def test_filter_rejects(text: str) -> None:
    assert not matches(text)


@pytest.mark.parametrize(
    "text",
    [
        "CustomerOrder eq",
        "(Hold eq true",
        "CustomerOrder eq 'open",
        "Hold eq true extra",
        "frob(Hold)",
    ],
)
def test_bad_syntax_raises_filter_error(text: str) -> None:
    with pytest.raises(FilterError):
        parse(text)


def test_tokenizer_reads_escaped_quotes_and_typed_literals() -> None:
    tokens = tokenize("Name eq 'a''b' and D gt datetimeoffset'2024-01-01T00:00:00+03:00'")
    assert [t.kind for t in tokens] == ["name", "op", "str", "kw", "name", "op", "typed", "end"]
    assert tokens[2].text == "a'b"
    assert tokens[6].extra == "datetimeoffset"


def test_precedence_and_binds_tighter_than_or() -> None:
    assert matches("Hold eq true and OrderTotal gt 1000 or OrderTotal gt 100")
    assert not matches("Hold eq true and (OrderTotal gt 1000 or OrderTotal gt 100)")


def test_unknown_field_is_reported() -> None:
    with pytest.raises(FilterError):
        matches("Nope eq 1")


def test_equality_hint_never_drops_a_record_the_filter_keeps() -> None:
    """The scan pre-check (what an index gives the real Acumatica) is a necessary condition."""
    from sandboxes.acumatica.filters import equality_hints, may_match

    records = [
        {"OrderType": ("SO", "String"), "CustomerOrder": (order, "String"), "Total": (t, "Decimal")}
        for order in ("XC-1", "xc-2  ", "XC-3", None, "XC-10")
        for t in (5.0, "5")
    ]
    filters = [
        "OrderType eq 'SO' and (CustomerOrder eq 'XC-1' or CustomerOrder eq 'XC-2')",
        "CustomerOrder eq 'xc-3 ' and OrderType eq 'SO'",
        "CustomerOrder eq 'XC-1' or OrderType eq 'SO'",  # no hint: the fields differ
        "Total eq '5' and CustomerOrder eq 'XC-10'",
        "not (CustomerOrder eq 'XC-1')",
    ]
    hinted = 0
    for text in filters:
        node = parse(text)
        hints = equality_hints(node)
        for record in records:

            def resolve(path: str, record=record) -> tuple[Any, str]:
                return record[path]

            if evaluate(node, resolve):
                assert may_match(hints, resolve), (text, record)
            elif not may_match(hints, resolve):
                hinted += 1
    assert equality_hints(parse(filters[0])) == [
        ("OrderType", frozenset({"so"})),
        ("CustomerOrder", frozenset({"xc-1", "xc-2"})),
    ]
    assert equality_hints(parse(filters[2])) == []
    assert hinted > 0  # the hint does skip records
