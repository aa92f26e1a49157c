"""A person's choice, applied: the entry written to the template, and the records it frees replayed.

Where it is written: the templates directory of ``MAPPING_TEMPLATES_DIR``. The bundled templates
are part of the installed package and are never changed; without ``MAPPING_TEMPLATES_DIR`` an
accept is refused with what to set. A template missing from that directory is first copied from
the bundled set (so a fresh, empty directory works), then edited.

In order, each step only when the previous one passed:

1. the field and value are checked (a value the template already maps is refused), and the
   target is checked against Acumatica's list, read through the API (a payment method must be
   active, used in AR, and the cash account one of its allowed accounts; a state name's code
   must be a state of the country of the open dead letters that carry the name);
2. the new template must validate with no problem the current one does not already have (one
   accept writes a template at a time, fleet-wide, under a lease in Redis);
3. the current file is kept as ``previous/<flow>-<UTC time>.yaml`` in the templates directory,
   the new one replaces it in one step, and this process's template cache is cleared;
4. the change is written to the engine's audit (``dlq audit``, action ``mapping.accept``);
5. every open dead letter that names the value as unmapped is replayed (its step again, or its
   whole chain when its arguments were dropped).
"""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from sync_workers.dlq import DeadLetterQueue, EntryStateError, Publisher
from sync_workers.errors import SyncError
from sync_workers.locks import compare_and_delete
from sync_workers.mapping import addresses, templates
from sync_workers.mapping.assistant import reference as ref
from sync_workers.mapping.assistant.fields import (
    PAYMENT_METHOD,
    STATE,
    STATE_ID,
    TAX_REGION,
    Field,
)
from sync_workers.mapping.assistant.profile import OpenValue, fixed_by, open_values
from sync_workers.mapping.assistant.writer import new_text, write_atomically

#: Where the previous versions of the templates are kept, inside the templates directory.
PREVIOUS = "previous"
AUDIT_ACTION = "mapping.accept"
#: The longest one accept holds a template for writing (a write takes milliseconds).
WRITE_LEASE_SECONDS = 30


class AcceptError(ValueError):
    """The choice was not applied; the message says why. Nothing was written."""


@dataclass
class Accepted:
    field: str
    value: str
    target: str
    entry: Any  #: what was written under the value
    template: Path
    previous: Path | None
    comments_kept: bool
    replayed: list[dict[str, str]] = dataclasses.field(default_factory=list)
    refused: list[dict[str, str]] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "target": self.target,
            "entry": self.entry,
            "template": str(self.template),
            "previous": str(self.previous) if self.previous else None,
            "comments_kept": self.comments_kept,
            "replayed": self.replayed,
            "refused": self.refused,
        }


def writable_dir() -> Path:
    """The templates directory an accept writes to (``MAPPING_TEMPLATES_DIR``)."""
    directory = templates.templates_dir()
    if directory.resolve() == templates.BUNDLED_DIR.resolve():
        raise AcceptError(
            "MAPPING_TEMPLATES_DIR is not set: the bundled templates are never changed. Set it "
            "to a directory of your own (the bundled templates are copied there on the first "
            "accept) and restart the workers"
        )
    if not directory.is_dir():
        raise AcceptError(f"MAPPING_TEMPLATES_DIR {directory} is not a directory")
    return directory


def _key(spec: Field, value: str) -> Any:
    text = value.strip()
    if not text:
        raise AcceptError("the store value is empty")
    if spec is STATE_ID:
        if not text.isdigit():
            raise AcceptError(f"{value!r} is not a store state id (a number)")
        return int(text)
    if spec is STATE and text.isdigit():
        raise AcceptError(f"{value!r} is a store state id: accept it as the field state_id")
    if spec is TAX_REGION:
        region = text.upper()
        if len(region) < 4 or region[2] != "-":
            raise AcceptError(f"{value!r} is not a region like US-NY")
        return region
    return text


def _entry(spec: Field, target: str, reference: ref.Reference) -> tuple[str, Any]:
    """The checked target code and the value to write under the store value."""
    code, _, account = target.strip().partition(":")
    if not code:
        raise AcceptError("the target code is empty")
    if spec in (STATE, STATE_ID):
        return _state(code)
    try:
        candidate = reference.find(spec.reference, code)
    except LookupError as exc:
        raise AcceptError(str(exc)) from exc
    except SyncError as exc:
        raise AcceptError(f"Acumatica's codes could not be read to check {code!r}: {exc}") from exc
    if candidate is None:
        raise AcceptError(
            f"{code!r} is not an active {spec.reference.replace('_', ' ')[:-1]} in Acumatica"
        )
    if spec is not PAYMENT_METHOD:
        return candidate.code, candidate.code
    allowed = list(candidate.extra.get("cash_accounts") or [])
    cash = account.strip() or str(candidate.extra.get("cash_account") or "")
    if not cash:
        raise AcceptError(f"payment method {candidate.code} has no cash account allowed in AR")
    if cash not in allowed:
        raise AcceptError(
            f"cash account {cash!r} is not allowed for {candidate.code} "
            f"(allowed: {', '.join(allowed) or 'none'})"
        )
    return candidate.code, {"payment_method": candidate.code, "cash_account": cash}


def _state(code: str) -> tuple[str, str]:
    """A state code: one of the built-in table's for its countries (US, Canada), any code like
    ``AU-NSW`` for another country."""
    iso = code.strip().upper()
    known = ref.states()
    if iso[:2] in {c.code[:2] for c in known}:
        found = next((c for c in known if c.code == iso), None)
        if found is None:
            raise AcceptError(f"{code!r} is not a state of {iso[:2]}")
        return found.code, found.code
    if not addresses.is_state_code(iso):
        raise AcceptError(f"{code!r} is not a state code like US-CA")
    return iso, iso


def _check_country(spec: Field, value: str, code: str, queue: DeadLetterQueue) -> None:
    """A state name's code must be in the country of the addresses that carry the name."""
    if spec is not STATE:
        return
    countries = {
        v.country
        for v in open_values(queue)
        if v.field is STATE and _same(v, value) and v.country is not None
    }
    if countries and code[:2] not in countries:
        raise AcceptError(
            f"{code} is not in the country of the addresses that carry {value.strip()!r} "
            f"({', '.join(sorted(countries))}); a state name applies in its code's country only"
        )


def _same(open_value: OpenValue, value: str) -> bool:
    return open_value.value.strip().casefold() == value.strip().casefold()


def _ensure_file(directory: Path, flow: str) -> Path:
    path = directory / f"{flow}.yaml"
    if not path.exists():
        shutil.copyfile(templates.BUNDLED_DIR / f"{flow}.yaml", path)
    return path


def accept(
    spec: Field,
    value: str,
    target: str,
    *,
    by: str,
    queue: DeadLetterQueue,
    acumatica: ref.Lists | None,
    publish: Publisher | None,
    score: float | None = None,
) -> Accepted:
    """Apply one mapping (see the module's docstring); ``publish`` None: nothing is replayed."""
    key = _key(spec, value)
    code, mapped = _entry(spec, target, ref.Reference(acumatica))
    _check_country(spec, str(key), code, queue)
    directory = writable_dir()
    lease, token = queue.prefix + f"mapping:writing:{spec.flow}", uuid.uuid4().hex
    if not queue.redis.set(lease, token, nx=True, ex=WRITE_LEASE_SECONDS):
        raise AcceptError(f"another accept is writing {spec.flow}.yaml right now; try again")
    try:
        result = _write(spec, key, code, mapped, directory)
    except (templates.TemplateError, OSError) as exc:
        raise AcceptError(f"{spec.flow}.yaml was not changed: {exc}") from exc
    finally:
        compare_and_delete(lease, token, client=queue.redis)
    _audit(queue, result, by=by, score=score)
    if publish is not None:
        for entry in fixed_by(queue, spec, str(key)):
            try:
                task_id = queue.replay(entry.id, publish, by=by, from_start=not entry.holds_data)
            except EntryStateError as exc:
                result.refused.append({"id": entry.id, "error": str(exc)})
            else:
                result.replayed.append({"id": entry.id, "task_id": task_id})
    return result


def _write(spec: Field, key: Any, code: str, mapped: Any, directory: Path) -> Accepted:
    """Steps 2 and 3: the checked template written, the previous one kept."""
    path = _ensure_file(directory, spec.flow)
    text = path.read_text(encoding="utf-8")
    current = templates.read_template(path)
    if spec.covers(current, str(key)):
        raise AcceptError(f"{spec.flow}.yaml already maps {str(key)!r} under {spec.path}")
    updated, kept = new_text(text, current, spec.path, key, mapped)
    before = set(templates.validate_template(spec.flow, current))
    after = templates.validate_template(spec.flow, yaml.safe_load(updated))
    new_problems = [p for p in after if p not in before]
    if new_problems:
        raise AcceptError("the template would not be valid: " + "; ".join(new_problems))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    (directory / PREVIOUS).mkdir(exist_ok=True)
    previous = directory / PREVIOUS / f"{spec.flow}-{stamp}.yaml"
    shutil.copy2(path, previous)
    write_atomically(path, updated)
    templates.clear_cache()
    return Accepted(spec.name, str(key), code, mapped, path, previous, kept)


def _audit(queue: DeadLetterQueue, result: Accepted, *, by: str, score: float | None) -> None:
    from sync_workers.console.audit import ActionAudit

    ActionAudit(queue.redis, queue.prefix).record(
        AUDIT_ACTION,
        by=by,
        flow=result.template.stem,
        field=result.field,
        value=result.value,
        target=result.target,
        template=str(result.template),
        previous=str(result.previous),
        score=None if score is None else round(score, 3),
    )
