"""Compare what an interpreter has installed with a lock file (``requirements/*.txt``).

    python scripts/check-lock.py requirements/dev.txt          # exit 1 when something differs
    python scripts/check-lock.py --newer requirements/dev.txt  # list what is newer than the lock

A package that is missing or at another version than the lock is an error; a package the lock
does not name is reported (an older install left it behind) but is not an error. The project
itself and the installer (pip) are not compared. Runs after the lock is installed (it uses
``packaging``, which both locks contain).
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

IGNORED = {"pip", "sync-workers"}
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)\s*(?:;\s*(?P<marker>.+?))?\s*\\?$"
)


def locked(path: Path) -> dict[str, str]:
    """Package → version for the lock's lines whose markers hold here."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if match and (not match["marker"] or Marker(match["marker"]).evaluate()):
            out[canonicalize_name(match["name"])] = match["version"]
    return out


def installed() -> dict[str, str]:
    return {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if d.metadata["Name"] and canonicalize_name(d.metadata["Name"]) not in IGNORED
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lock", type=Path)
    parser.add_argument("--newer", action="store_true", help="list what is newer than the lock")
    args = parser.parse_args(argv)
    want, have = locked(args.lock), installed()
    if args.newer:
        for name in sorted(set(want) & set(have)):
            if have[name] != want[name]:
                print(f"{name}: {want[name]} locked, {have[name]} installed")
        return 0
    missing = sorted(set(want) - set(have))
    wrong = sorted(n for n in set(want) & set(have) if want[n] != have[n])
    extra = sorted(set(have) - set(want))
    for name in missing:
        print(f"{args.lock}: {name}=={want[name]} is not installed", file=sys.stderr)
    for name in wrong:
        print(f"{args.lock}: {name} is {have[name]}, the lock says {want[name]}", file=sys.stderr)
    if extra:
        print(
            f"{args.lock}: installed but not locked (left by an older install; `make clean "
            f"install` starts over): {', '.join(extra)}",
            file=sys.stderr,
        )
    return 1 if missing or wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
