"""Charts as inline SVG, drawn on the server: no script, no library, readable without colour.

Each point carries a ``<title>``, which browsers show on hover.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from sync_workers.console.facts import HourLag

#: Gridlines of the lag charts' logarithmic axis.
GRID = ((1, "1s"), (60, "1m"), (3600, "1h"))


def seconds(value: float | None) -> str:
    if value is None:
        return "\N{EN DASH}"
    if value < 120:
        return f"{value:.1f}s" if value < 10 else f"{value:.0f}s"
    if value < 7200:
        return f"{value / 60:.0f}m"
    return f"{value / 3600:.1f}h"


def lag_chart(hours: Sequence[HourLag], *, width: int = 320, height: int = 90) -> Markup:
    """p95 (solid) and p50 (dashed) lag per hour over the last 24 hours, log scale 0.5 s to 1 day."""
    left, right, top, bottom = 26, 4, 6, 16
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = math.log10(0.5), math.log10(86400)

    def y(value: float) -> float:
        clamped = min(max(value, 0.5), 86400)
        return top + plot_h - (math.log10(clamped) - low) / (high - low) * plot_h

    def x(index: int) -> float:
        return left + (index + 0.5) * plot_w / max(1, len(hours))

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-label="lag per hour, last 24 hours">'
    ]
    for value, label in GRID:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#ccc" stroke-width="0.5"/>'
            f'<text x="{left - 3}" y="{y(value) + 3:.1f}" text-anchor="end" font-size="8" '
            f'fill="#666">{label}</text>'
        )
    for index, label in ((0, "-24h"), (len(hours) // 2, "-12h"), (len(hours) - 1, "now")):
        parts.append(
            f'<text x="{x(index):.1f}" y="{height - 4}" text-anchor="middle" font-size="8" '
            f'fill="#666">{label}</text>'
        )
    for attribute, dash in (("p50", ' stroke-dasharray="3 2"'), ("p95", "")):
        points = [
            f"{x(i):.1f},{y(value):.1f}"
            for i, hour in enumerate(hours)
            if (value := getattr(hour, attribute)) is not None
        ]
        if len(points) > 1:
            parts.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="#1f5fa8" '
                f'stroke-width="1.5"{dash}/>'
            )
    for index, hour in enumerate(hours):
        if hour.p95 is None:
            continue
        tip = (
            f"{hour.hour:%H}:00 UTC: {hour.samples} synced, p50 ≤ {seconds(hour.p50)}, "
            f"p95 ≤ {seconds(hour.p95)}"
        )
        parts.append(
            f'<circle cx="{x(index):.1f}" cy="{y(hour.p95):.1f}" r="2" fill="#1f5fa8">'
            f"<title>{escape(tip)}</title></circle>"
        )
    if not any(h.samples for h in hours):
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
            'font-size="10" fill="#666">nothing synced in 24 h</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar(value: int, total: int, *, width: int = 120, height: int = 10) -> Markup:
    """A horizontal bar: ``value`` of ``total``."""
    share = 0 if total <= 0 else min(1.0, value / total)
    return Markup(
        f'<svg class="bar" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{value} of {total}">'
        f'<rect width="{width}" height="{height}" fill="#eee"/>'
        f'<rect width="{share * width:.1f}" height="{height}" fill="#b3261e"/></svg>'
    )
