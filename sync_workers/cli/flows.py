"""Reaching a flow's ``plan``/``drift`` (``sync_workers/flows/<flow>.py``) by name."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any

from sync_workers.cli.output import fail


def flow_module(flow: str, needs: str, *, as_json: bool) -> ModuleType:
    """The flow's module when it offers ``needs``; exit 1 with the reason otherwise."""
    name = f"sync_workers.flows.{flow}"
    if importlib.util.find_spec("sync_workers.flows") is None or (
        importlib.util.find_spec(name) is None
    ):
        fail(f"the {flow} flow is not installed", as_json=as_json)
    module = importlib.import_module(name)
    if not callable(getattr(module, needs, None)):
        fail(f"the {flow} flow has no {needs}()", as_json=as_json)
    return module


def has_tasks(flow: str) -> bool:
    """Whether ``tasks/<flow>.py`` exists (found by name, as the worker finds it; not imported)."""
    try:
        return importlib.util.find_spec(f"tasks.{flow}") is not None
    except ModuleNotFoundError:
        return False


def offers(flow: str, needs: str) -> bool:
    """Whether the flow's module exists and has ``needs`` (without importing anything else)."""
    name = f"sync_workers.flows.{flow}"
    if importlib.util.find_spec("sync_workers.flows") is None or (
        importlib.util.find_spec(name) is None
    ):
        return False
    return callable(getattr(importlib.import_module(name), needs, None))


def as_dict(item: Any) -> dict[str, Any]:
    if hasattr(item, "as_dict"):
        return dict(item.as_dict())
    from dataclasses import asdict, is_dataclass

    if is_dataclass(item) and not isinstance(item, type):
        return asdict(item)
    return dict(item)
