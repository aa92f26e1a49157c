"""Every engine module imports on its own, in a fresh interpreter, and without the sandboxes.

A dependency whose new release breaks an import must fail CI, naming the module, instead of
killing a process of ``make run`` at start. Each module is imported in a child forked from an
interpreter that has imported nothing of the engine, so one module never hides another's
failure (or an import cycle) by having loaded something first.

The engine and the sandboxes are separate packages: the engine reaches the sandboxes over HTTP
(``make run`` starts them as a process) and its image does not contain them, so no engine module
may load ``sandboxes``, and no sandbox module may load the engine, at import or inside a function.
"""

from __future__ import annotations

import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sync_workers", "tasks", "schedules")
SANDBOXES = ("sandboxes",)

#: Runs in the fresh interpreter: argv[1] is the JSON list of modules, argv[2] the JSON list of
#: packages none of them may load; prints {module: error}.
IMPORT_EACH = r"""
import importlib, json, os, sys, traceback

modules = json.loads(sys.argv[1])
forbidden = tuple(json.loads(sys.argv[2]))
parallel = max(1, min(4, os.cpu_count() or 1))
running, failed = {}, {}


def reap():
    pid, status = os.wait()
    name, read = running.pop(pid)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode(errors="replace")
    if status:
        failed[name] = text or f"exit status {status}"


for name in modules:
    while len(running) >= parallel:
        reap()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
        except BaseException:
            os.write(write, traceback.format_exc()[-3000:].encode())
            os._exit(1)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
        if loaded:
            os.write(write, f"loads {', '.join(loaded)}".encode())
            os._exit(1)
        os._exit(0)
    os.close(write)
    running[pid] = (name, read)
while running:
    reap()
print(json.dumps(failed))
"""


def modules_under(root: Path, packages: tuple[str, ...]) -> list[str]:
    """Every module and package below ``packages`` (read from the file system, not imported)."""

    def walk(path: Path, prefix: str) -> list[str]:
        found = []
        for info in pkgutil.iter_modules([str(path)], prefix):
            found.append(info.name)
            if info.ispkg:
                found += walk(path / info.name.rsplit(".", 1)[-1], info.name + ".")
        return found

    names: list[str] = []
    for package in packages:
        names.append(package)
        names += walk(root / package, package + ".")
    return sorted(names)


def import_each(
    modules: list[str], pythonpath: Path, forbidden: tuple[str, ...] = ()
) -> dict[str, str]:
    """{module: why it failed} for the modules that do not import, or that load a package of
    ``forbidden``."""
    path = [str(pythonpath), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, json.dumps(modules), json.dumps(forbidden)],
        cwd=pythonpath,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_engine_module_imports_in_a_fresh_interpreter() -> None:
    modules = modules_under(ROOT, PACKAGES)
    # The processes `make run` starts, and the modules they load by name, are all among them.
    assert {
        "sync_workers.celery",
        "sync_workers.devrun",
        "sync_workers.webhooks.__main__",
        "sync_workers.observability.flower",
        "sync_workers.observability.sentry",
        "schedules.beat",
        "tasks.inventory",
    } <= set(modules)

    failed = import_each(modules, ROOT, forbidden=SANDBOXES)

    report = "\n\n".join(f"{name}:\n{error}" for name, error in sorted(failed.items()))
    assert failed == {}, f"{len(failed)} of {len(modules)} modules do not import:\n\n{report}"


def test_every_sandbox_module_imports_without_the_engine() -> None:
    modules = modules_under(ROOT, SANDBOXES)
    assert {"sandboxes.__main__", "sandboxes.xcart.app", "sandboxes.acumatica.app"} <= set(modules)

    failed = import_each(modules, ROOT, forbidden=PACKAGES)

    report = "\n\n".join(f"{name}:\n{error}" for name, error in sorted(failed.items()))
    assert failed == {}, f"{len(failed)} of {len(modules)} modules do not import:\n\n{report}"


def imported_packages(package: str) -> dict[str, set[str]]:
    """{file: the top-level packages it imports}, for every absolute import statement anywhere in
    ``package`` (also inside functions, which importing the module does not run)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_no_import_statement_crosses_between_the_engine_and_the_sandboxes() -> None:
    other_side = {**dict.fromkeys(PACKAGES, SANDBOXES), **dict.fromkeys(SANDBOXES, PACKAGES)}
    crossing = [
        f"{path} imports {name}"
        for package, others in other_side.items()
        for path, names in imported_packages(package).items()
        for name in sorted(names & set(others))
    ]

    assert crossing == []


def test_a_module_that_loads_a_forbidden_package_is_named(tmp_path) -> None:
    for package, body in (("engine", "import emulator\n"), ("emulator", "")):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body)

    failed = import_each(modules_under(tmp_path, ("engine",)), tmp_path, forbidden=("emulator",))

    assert failed == {"engine": "loads emulator"}


def test_a_module_that_fails_at_import_is_named(tmp_path) -> None:
    package = tmp_path / "engine"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fine.py").write_text("import json\n")
    (package / "broken.py").write_text("from json import scrubber\n")

    failed = import_each(modules_under(tmp_path, ("engine",)), tmp_path)

    assert list(failed) == ["engine.broken"]
    assert "cannot import name 'scrubber'" in failed["engine.broken"]
