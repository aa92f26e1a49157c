"""Reaching a flow's ``plan``/``drift`` by name."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any

from sync_workers.cli.output import fail
from sync_workers.flows.shape import Flow


def flow_definition(flow: str, *, as_json: bool) -> Flow:
    """The flow's definition; exit 1 with the reason when it cannot be loaded."""
    from sync_workers.flows.runner import definition

    try:
        return definition(flow)
    except Exception as exc:
        fail(f"the {flow} flow cannot be loaded: {type(exc).__name__}: {exc}", as_json=as_json)


def as_dict(item: Any) -> dict[str, Any]:
    if hasattr(item, "as_dict"):
        return dict(item.as_dict())
    if is_dataclass(item) and not isinstance(item, type):
        return asdict(item)
    return dict(item)
