"""The tenant's configuration records (payment methods, ship vias, taxes...): stored as sent.

Documents validate their selectors against ``reference.py``, which seeds these records; the
records themselves have no business rules here.
"""

from __future__ import annotations

from ..entities import configuration
from .base import Graph

GRAPHS: tuple[type[Graph], ...] = tuple(
    type(f"{defn.name}Graph", (Graph,), {"defn": defn}) for defn in configuration.TOP_LEVEL
)
