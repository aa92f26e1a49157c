"""How the console ships: its templates and static files are package data (what ``make run``
does for it is tested with ``devrun``'s plan, in ``tests/deploy``)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sync_workers"


def test_every_template_and_static_file_is_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["sync_workers"]
    files = [
        p.relative_to(PACKAGE).as_posix()
        for folder in ("templates", "static")
        for p in (PACKAGE / "console" / folder).iterdir()
    ]

    assert files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
