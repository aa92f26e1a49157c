"""Every entity the sandbox serves, by name."""

from __future__ import annotations

from . import attributes, common, configuration, inventory, ledger, parties, sales
from .model import EntityDef

SCHEMAS: dict[str, EntityDef] = {
    d.name: d
    for d in (
        common.DEFINITIONS
        + sales.DEFINITIONS
        + inventory.DEFINITIONS
        + parties.DEFINITIONS
        + configuration.DEFINITIONS
        + ledger.DEFINITIONS
        + attributes.DEFINITIONS
    )
}
TOP_LEVEL: dict[str, EntityDef] = {n: d for n, d in SCHEMAS.items() if d.screen}
_BY_LOWER = {n.lower(): d for n, d in TOP_LEVEL.items()}


def top_level(name: str) -> EntityDef | None:
    """A top-level entity by name, matched without regard to case."""
    return _BY_LOWER.get(name.lower())


__all__ = ["SCHEMAS", "TOP_LEVEL", "EntityDef", "top_level"]
