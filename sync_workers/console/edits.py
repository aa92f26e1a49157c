"""Edit and replay: the edited arguments are checked, then validated by the flow, before
anything is published.

The checks are the CLI's (``dlq replay --edit``): a JSON object (``{"args": [...], "kwargs":
{...}}`` for a step that takes positional arguments), the record id unchanged, something
changed. Then the flow's own validation runs on them: the chain's ``validate`` step (the
orders flow's: structure, totals, SKUs, addresses, shipping method, tax region, payment
methods), exactly as the chain would run it, reading nothing from X-Cart or Acumatica. A chain
without such a step, or arguments without the record it validates (the chain reads it from the
source first), is replayed with the structural checks only, and the page says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sync_workers.dlq import DeadLetter
from sync_workers.errors import PermanentError


class EditRefused(ValueError):
    """The edit is not replayed; ``problems``: field → reason."""

    def __init__(self, message: str, problems: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or {}


@dataclass
class Edit:
    args: list[Any] | None
    kwargs: dict[str, Any]
    #: What the flow's validation said (None: the flow has none for this step).
    validated: str | None = None
    notes: list[str] = field(default_factory=list)


def document(entry: DeadLetter) -> str:
    """The arguments as the form shows them for editing."""
    value: Any = {"args": entry.args, "kwargs": entry.kwargs} if entry.args else entry.kwargs
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def parse(entry: DeadLetter, text: str) -> Edit:
    """The edited arguments; raises :class:`EditRefused` (nothing is published then)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EditRefused(f"the edited arguments are not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise EditRefused("the edited arguments must be a JSON object")
    if entry.args:
        if (
            set(value) != {"args", "kwargs"}
            or not isinstance(value["args"], list)
            or not isinstance(value["kwargs"], dict)
        ):
            raise EditRefused('expected {"args": [...], "kwargs": {...}}')
        args, kwargs = value["args"], value["kwargs"]
    else:
        args, kwargs = None, value
    for key, old in entry.kwargs.items():
        if entry.record_id is not None and str(old) == entry.record_id and kwargs.get(key) != old:
            raise EditRefused(
                f"{key} identifies the record and must stay {old!r}", {key: "changed"}
            )
    if value == json.loads(document(entry)):
        raise EditRefused("the arguments were left unchanged")
    return Edit(args, kwargs)


def validate(entry: DeadLetter, edit: Edit) -> Edit:
    """Run the flow's own validation on the edit; raises :class:`EditRefused` with its field
    errors when it refuses."""
    from sync_workers.dlq_upkeep import chain_of

    found = chain_of(entry.task)
    step = None
    if found is not None:
        step = next((s for s in found[1].steps if s.name == "validate"), None)
    if step is None:
        edit.notes.append(
            f"{entry.task} has no validation step: the structure was checked, the chain checks "
            "the rest when it runs"
        )
        return edit
    state = {**edit.kwargs, "record_id": entry.record_id}
    try:
        step.run(state)
    except PermanentError as exc:
        raise EditRefused(
            f"the {found[0] if found else entry.flow} flow's validation refused it: {exc}",
            dict(exc.field_errors or {}),
        ) from None
    except KeyError as exc:
        edit.notes.append(
            f"the arguments hold no {exc.args[0]!r}: the chain reads it from the source and "
            "validates it when it runs"
        )
        return edit
    except Exception as exc:
        raise EditRefused(f"could not validate: {type(exc).__name__}: {exc}") from None
    edit.validated = f"passed the {entry.task} chain's validate step"
    return edit
