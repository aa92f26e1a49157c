"""Loaded by every Python process of a bench stack (``PYTHONPATH`` puts this folder first).

Points the engine's mapping templates at ``BENCH_TEMPLATES_DIR`` when set: the settings have no
variable for it yet (``MAPPING_TEMPLATES_DIR`` is planned; the stack sets it too). Only used by
``python -m bench --orders-settle S``; see BENCHMARKS.md.
"""

import os

_directory = os.environ.get("BENCH_TEMPLATES_DIR")
if _directory:
    try:
        from sync_workers.mapping import templates

        templates.use_templates_dir(_directory)
    except Exception:  # an engine without the hook: the bundled templates are used
        pass
