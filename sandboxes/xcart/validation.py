"""Type and value checks with API Platform's and Symfony's error wording."""

from __future__ import annotations

from typing import Any

from sandboxes.xcart.http import bad_request

_PHP_TYPES = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "string",
    list: "array",
    dict: "array",
    type(None): "NULL",
}


def php_type(value: Any) -> str:
    return _PHP_TYPES.get(type(value), "string")


def check_type(body: dict[str, Any], key: str, expected: str, *, nullable: bool = False) -> None:
    """Raise the deserialisation 400 when ``body[key]`` does not have the PHP type ``expected``."""
    if key not in body:
        return
    value = body[key]
    if value is None and nullable:
        return
    ok = {
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "array": isinstance(value, list),
    }[expected]
    if not ok:
        raise bad_request(
            f'The type of the "{key}" attribute must be "{expected}", "{php_type(value)}" given.'
        )


def check_types(body: dict[str, Any], types: dict[str, str], nullable: frozenset[str]) -> None:
    for key, expected in types.items():
        check_type(body, key, expected, nullable=key in nullable)


class Violations:
    """Collects Symfony-style violations; ``raise_if_any`` builds the 400 detail."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def at_least_zero(self, data: dict[str, Any], *keys: str) -> None:
        for key in keys:
            value = data.get(key)
            if isinstance(value, int | float) and value < 0:
                self.add(key, "This value should be greater than or equal to 0.")

    def raise_if_any(self) -> None:
        if self.items:
            raise bad_request(self.prefix + "\n".join(self.items))
