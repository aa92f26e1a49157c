from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_workers.connectors.acumatica.filters import F, all_of, any_of, literal, one_of

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<word>[A-Za-z_][\w/]*)|(?P<p>[()]))")


def tokens(text: str) -> list[tuple[str, str]]:
    """A minimal OData tokenizer: quoted strings (with '' escapes), words, parentheses."""
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        assert match and match.end() > pos, f"cannot tokenize at {text[pos:]!r}"
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "str":
            value = value[1:-1].replace("''", "'")
        out.append((kind, value))
        pos = match.end()
    return out


def test_string_literal_doubles_quotes_and_keeps_slashes():
    expr = F("InventoryID") == "O'NEIL/42"
    assert expr.render() == "InventoryID eq 'O''NEIL/42'"


def test_typed_literals():
    assert literal(True) == "true" and literal(None) == "null" and literal(12) == "12"
    assert literal(Decimal("19.90")) == "19.90m" and literal(1e-7) == "0.0000001m"
    aware = datetime(2024, 7, 15, 10, 31, 28, tzinfo=timezone(timedelta(hours=3)))
    assert literal(aware) == "datetimeoffset'2024-07-15T07:31:28+00:00'"
    assert literal(date(2025, 6, 17)) == "date'2025-06-17'"
    guid = uuid.UUID("0b8c2f10-5a6d-4e77-9c1b-2d4f6a8e1c33")
    assert literal(guid) == f"guid'{guid}'"


def test_naive_datetimes_and_odd_values_are_refused():
    with pytest.raises(ValueError):
        literal(datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        literal(float("nan"))
    with pytest.raises(TypeError):
        literal(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["Name eq 'x' or 1", "A)", "", "a b", "x'y", "A//B", "/A"])
def test_field_names_cannot_inject(name):
    with pytest.raises(ValueError):
        F(name)


def test_nested_paths_and_functions():
    assert (F("MainContact/Email") == "a@b.c").render() == "MainContact/Email eq 'a@b.c'"
    assert F("Description").contains("it's").render() == "substringof('it''s',Description)"
    assert F("InventoryID").startswith("AB").render() == "startswith(InventoryID,'AB')"


def test_combinations_are_parenthesised():
    since = datetime(2026, 1, 1, tzinfo=UTC)
    expr = all_of(F("A") == 1, F("B") >= since, ~(F("C") == "x"))
    assert expr.render() == (
        "((A eq 1) and (B ge datetimeoffset'2026-01-01T00:00:00+00:00')) and (not (C eq 'x'))"
    )
    assert any_of(F("A") == 1).render() == "A eq 1"
    assert one_of("S", ["a", "b"]).render() == "(S eq 'a') or (S eq 'b')"


def test_python_boolean_operators_are_refused():
    with pytest.raises(TypeError):
        bool(F("A") == 1)


@given(st.text())
def test_any_string_stays_one_literal(value):
    if "\x00" in value:
        with pytest.raises(ValueError):
            literal(value)
        return
    assert tokens((F("CustomerOrder") == value).render()) == [
        ("word", "CustomerOrder"),
        ("word", "eq"),
        ("str", value),
    ]


@given(
    st.text(alphabet=st.characters(blacklist_characters="\x00")),
    st.text(alphabet=st.characters(blacklist_characters="\x00")),
)
def test_two_strings_cannot_alter_the_structure(first, second):
    expr = (F("Email") == first) | (F("Name") != second)
    assert tokens(expr.render()) == [
        ("p", "("),
        ("word", "Email"),
        ("word", "eq"),
        ("str", first),
        ("p", ")"),
        ("word", "or"),
        ("p", "("),
        ("word", "Name"),
        ("word", "ne"),
        ("str", second),
        ("p", ")"),
    ]
