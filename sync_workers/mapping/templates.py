"""Load and check the declarative mapping templates (``templates/<flow>.yaml``).

A template is data, not code: an integrator edits the YAML and restarts the workers. Each flow's
mapping module may define ``validate_template(template) -> list[str]``; :func:`validate_all` runs
every one at worker start-up so a bad template stops the worker with one line per problem
instead of failing records one by one later.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

#: Where the bundled templates live.
BUNDLED_DIR = Path(__file__).with_name("templates")
_override: Path | None = None


class TemplateError(ValueError):
    """A template is missing, unreadable or invalid; the message names the file and the key."""


def templates_dir() -> Path:
    """The directory holding the templates in use.

    :func:`use_templates_dir` wins; then the ``mapping_templates_dir`` setting when the settings
    define one (a merchant's own copies); else the bundled templates.
    """
    if _override is not None:
        return _override
    from sync_workers.settings import get_settings

    configured = getattr(get_settings(), "mapping_templates_dir", None)
    return Path(configured) if configured else BUNDLED_DIR


def use_templates_dir(path: Path | str | None) -> None:
    """Read templates from ``path`` from now on (``None``: back to the default); clears the cache."""
    global _override
    _override = None if path is None else Path(path)
    clear_cache()


def template_path(flow: str) -> Path:
    if not flow.replace("_", "").isalnum():
        raise TemplateError(f"bad flow name {flow!r}")
    return templates_dir() / f"{flow}.yaml"


def read_template(path: Path) -> dict[str, Any]:
    """Parse one YAML file into a mapping (no validation)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path.name}: cannot read ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise TemplateError(f"{path.name}: must be a mapping at the top level")
    return data


@lru_cache(maxsize=64)
def _load(path: str, version: tuple[int, int]) -> dict[str, Any]:
    return read_template(Path(path))


def _version(path: Path) -> tuple[int, int]:
    """What changes when the file is replaced or rewritten: its modification time and size."""
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


def load_template(flow: str) -> dict[str, Any]:
    """The template of ``flow`` (cached per file path and version, so a replaced file is read
    again by every process; a deep copy, so callers may mutate it)."""
    path = template_path(flow)
    return copy.deepcopy(_load(str(path), _version(path)))


def clear_cache() -> None:
    """Forget loaded templates (tests, or a reload after an edit)."""
    _load.cache_clear()


def _validator(flow: str) -> Callable[[dict[str, Any]], list[str]] | None:
    """The flow's own checks (``sync_workers.mapping.<flow>.validate_template``), if any."""
    return getattr(
        importlib.import_module(f"sync_workers.mapping.{flow}"), "validate_template", None
    )


def validate_template(flow: str, template: Mapping[str, Any]) -> list[str]:
    """Problems of one template: the common shape plus the flow's own checks."""
    problems: list[str] = []
    version = template.get("version")
    if not isinstance(version, int) or version < 1:
        problems.append("version: must be a positive integer")
    problems.extend(_poll_problems(template.get("poll")))
    poll = template.get("poll")
    if flow in CHANGE_SOURCE_FLOWS and isinstance(poll, Mapping):
        source = poll.get("source", DEFAULT_CHANGE_SOURCE)
        if source not in CHANGE_SOURCES:
            problems.append(f"poll.source: must be one of {', '.join(CHANGE_SOURCES)}")
    check = _validator(flow)
    if check is not None:
        problems.extend(check(dict(template)))
    return [f"{flow}.yaml: {p}" for p in problems]


#: Where a flow's poll reads Acumatica's changes: the DAC-based OData service (Basic auth: no
#: API seat, see ``sync_workers.connectors.acumatica.odata``) or the contract-based REST API.
CHANGE_SOURCES = ("odata", "rest")
DEFAULT_CHANGE_SOURCE = "odata"
#: The flows whose ``poll.source`` picks one of :data:`CHANGE_SOURCES`.
CHANGE_SOURCE_FLOWS = ("shipments", "customers", "products", "payments")


def change_source(template: Mapping[str, Any]) -> str:
    """``poll.source`` of a flow in :data:`CHANGE_SOURCE_FLOWS` (``odata`` when absent)."""
    return str((template.get("poll") or {}).get("source", DEFAULT_CHANGE_SOURCE))


#: Seconds of a ``poll`` section (see ``sync_workers.cursor``).
POLL_SECONDS = ("overlap_seconds", "settle_seconds", "sweep_seconds")


def _poll_problems(poll: Any) -> list[str]:
    if poll is None:
        return []
    if not isinstance(poll, Mapping):
        return ["poll: must be a mapping"]
    problems = []
    for key in POLL_SECONDS:
        value = poll.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append(f"poll.{key}: must be a number of seconds, 0 or more (got {value!r})")
    return problems


def validate_all(flows: Iterable[str] | None = None) -> list[str]:
    """Every problem of every template (empty when all are valid); used at worker start-up."""
    directory = templates_dir()
    names = (
        sorted(flows)
        if flows is not None
        else sorted(p.stem for p in directory.glob("*.yaml") if p.is_file())
    )
    problems: list[str] = []
    for flow in names:
        try:
            template = read_template(template_path(flow))
        except TemplateError as exc:
            problems.append(str(exc))
            continue
        problems.extend(validate_template(flow, template))
    return problems


# Helpers the flows' validators share -----------------------------------------------------------


def require_keys(template: Mapping[str, Any], path: str, keys: Iterable[str]) -> list[str]:
    """Problems for each of ``keys`` missing under the dotted ``path`` of ``template``."""
    node = lookup(template, path)
    if not isinstance(node, Mapping):
        return [f"{path}: must be a mapping"]
    return [f"{path}.{key}: missing" for key in keys if key not in node]


def require_codes(
    template: Mapping[str, Any], path: str, codes: Iterable[str], what: str
) -> list[str]:
    """Problems for each reference code without an entry in the mapping at ``path``."""
    node = lookup(template, path)
    if not isinstance(node, Mapping):
        return [f"{path}: must be a mapping of {what}"]
    present = {str(k) for k in node}
    return [f"{path}: no entry for {what} {code!r}" for code in codes if code not in present]


def lookup(template: Mapping[str, Any], path: str) -> Any:
    node: Any = template
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node
