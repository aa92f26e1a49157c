"""One entry added to a template file, keeping the rest of the file as it is.

The entry goes in as one YAML line under its mapping's header, so the integrator's comments and
layout stay. The new text is parsed back and must equal the old template plus exactly that
entry; when the file's layout does not allow a line edit (a mapping written inline, ``{}``, or
a missing section), the whole template is written out again from its data (comments lost,
said in the result). Either way the text is checked before anything is written.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from sync_workers.mapping.templates import TemplateError

_KEY_LINE = re.compile(
    r"^(?P<indent> *)(?P<key>[^\s#:][^:#]*?)\s*:(?P<empty>\s+\{\})?(?P<comment>\s+#.*|\s*)$"
)


def with_entry(template: dict[str, Any], path: str, key: Any, value: Any) -> dict[str, Any]:
    """A copy of ``template`` with ``key: value`` under the dotted ``path`` (created if absent)."""
    data = copy.deepcopy(template)
    node = data
    for part in path.split("."):
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[key] = value
    return data


def _inline(value: Any) -> str:
    text = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=4096)
    return text.strip()[1:-1]


def entry_line(key: Any, value: Any) -> str:
    """``key: value`` as one line of YAML (a mapping value written inline)."""
    line = f"{_inline(key)}: {_inline(value)}"
    if "\n" in line:
        raise TemplateError(f"the entry {key!r} does not fit on one line")
    return line


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _insert(text: str, path: str, line: str) -> str | None:
    """The text with ``line`` as the first entry of the block at ``path``; ``None`` when the
    block is not written as an indented block under its own header line."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    start, parent = 0, -1
    for part in path.split("."):
        level = None
        found = None
        for index in range(start, len(lines)):
            if not _content(lines[index]):
                continue
            here = _indent(lines[index])
            if here <= parent:
                break  # out of the parent's block
            if level is None:
                level = here
            if here != level:
                continue
            match = _KEY_LINE.match(lines[index].rstrip("\n"))
            if match and match["key"].strip().strip("'\"") == part:
                found = index
                break
        if found is None or level is None:
            return None
        header = _KEY_LINE.match(lines[found].rstrip("\n"))
        if header and header["empty"]:  # ``key: {}``: becomes a block with the one entry
            if part != path.split(".")[-1]:
                return None
            lines[found] = f"{header['indent']}{header['key']}:{header['comment']}\n"
            entry = " " * (level + 2) + line + "\n"
            return "".join(lines[: found + 1]) + entry + "".join(lines[found + 1 :])
        start, parent = found + 1, level
    child = parent + 2
    for index in range(start, len(lines)):
        if _content(lines[index]):
            if _indent(lines[index]) > parent:
                child = _indent(lines[index])
            break
    return "".join(lines[:start]) + " " * child + line + "\n" + "".join(lines[start:])


def new_text(
    text: str, template: dict[str, Any], path: str, key: Any, value: Any
) -> tuple[str, bool]:
    """The file's new text and whether its comments were kept."""
    expected = with_entry(template, path, key, value)
    edited = _insert(text, path, entry_line(key, value))
    if edited is not None:
        try:
            if yaml.safe_load(edited) == expected:
                return edited, True
        except yaml.YAMLError:
            pass
    whole = yaml.safe_dump(expected, sort_keys=False, allow_unicode=True, width=100)
    if yaml.safe_load(whole) != expected:
        raise TemplateError("the template cannot be written back as YAML")
    return whole, False


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a reader sees the old file or the new one)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
