"""``python -m bench --only sandbox_speed``: per-request times of both sandboxes, each request
answered (a failed one stops the part) and counted once, warm-up left out."""

from __future__ import annotations

from bench.report import rows
from bench.sandbox import SPEED_LABELS, speed


def test_each_kind_of_request_is_timed_and_reported() -> None:
    result = speed(requests_each=3, warm_up=1)

    figures = result["per_request"]
    assert set(figures) == set(SPEED_LABELS)
    for kind, f in figures.items():
        assert f["n"] == 3, kind
        assert 0 < f["p50_ms"] <= f["p95_ms"] <= f["max_ms"], (kind, f)
    table = rows({"sandbox_speed": result})
    assert [r[0] for r in table] == [
        f"sandbox speed: {label}, mean/p50/p95 ms" for label in SPEED_LABELS.values()
    ]
    [so_put] = [r for r in table if "sales order PUT" in r[0]]
    assert so_put[2] == "mean <= 50" and so_put[3] in ("met", "MISSED")
