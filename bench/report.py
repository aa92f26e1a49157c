"""The table ``python -m bench`` prints: each figure beside its target, met or missed."""

from __future__ import annotations

from statistics import median
from typing import Any

Row = tuple[str, str, str, str]


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "MISSED")


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    tp = results.get("throughput")
    if tp:
        for line in tp["summary"]:
            ratio = line["median_ratio"]
            out.append((
                f"throughput, {line['workers']} worker(s) x {line['concurrency']}",
                f"median {line['median_orders_per_second']} orders/s over {line['rounds']} "
                f"round(s); median {ratio:.0%} of bare at same concurrency "
                f"({line['lowest_ratio']:.0%}-{line['highest_ratio']:.0%})",
                ">= 50 % of bare", _verdict(ratio >= 0.5),
            ))  # fmt: skip
        for threads in sorted({bare["threads"] for bare in tp["bare"]}):
            rates = [b["orders_per_second"] for b in tp["bare"] if b["threads"] == threads]
            out.append((f"bare, {threads} thread(s)",
                        f"median {median(rates)} orders/s ({', '.join(map(str, rates))})",
                        "-", "-"))  # fmt: skip
        per = tp["economy"]["per_order"]
        out.append(("Acumatica calls per new order (known buyer)", str(per["acumatica"]),
                    "<= 2", _verdict(per["acumatica"] <= 2)))  # fmt: skip
        out.append(("X-Cart calls per new order", str(per["xcart"]), "-", "-"))
    lic = results.get("licence")
    if lic:
        out.append(("licence: achieved requests/minute",
                    f"{lic['achieved_requests_per_minute']} ({lic['licence_used']:.0%} of 120)",
                    ">= 95 %", _verdict(lic["licence_used"] >= 0.95)))  # fmt: skip
        out.append(("licence: declined (429)", str(lic["declined_429"]), "0",
                    _verdict(lic["declined_429"] == 0)))  # fmt: skip
        out.append(("licence: peak sessions", str(lic["peak_sessions"]), "<= 2",
                    _verdict((lic["peak_sessions"] or 0) <= 2)))  # fmt: skip
    lat = results.get("latency")
    if lat:
        orders = lat["orders"]
        lag = orders.get("lag_seconds") or {}
        limit = orders["poll_interval_seconds"] + 1
        out.append(("order lag p50/p95/p99 (s)",
                    f"{lag.get('p50')}/{lag.get('p95')}/{lag.get('p99')} over {lag.get('n')}",
                    f"p95 <= {limit:g}", _verdict(lag.get("p95") is not None and lag["p95"] <= limit)))  # fmt: skip
        stock = lat["stock"]
        slag = stock.get("lag_seconds") or {}
        out.append(("stock push p50/p95 (s)",
                    f"{slag.get('p50')}/{slag.get('p95')} over {slag.get('n')}, missed {len(stock['missed'])}",
                    "p95 <= 1", _verdict(bool(slag) and slag["p95"] <= 1 and not stock["missed"])))  # fmt: skip
        for flow, idle in (lat.get("idle_poll") or {}).items():
            out.append((f"calls per idle poll: {flow}", str(idle["calls"]), "1",
                        _verdict(idle["calls"] <= 1)))  # fmt: skip
            if idle.get("sweep_calls") is not None:
                out.append((f"calls per idle poll that swept: {flow}", str(idle["sweep_calls"]),
                            "-", "see JSON"))  # fmt: skip
        per = stock["engine_calls_per_change"]
        out.append(
            (
                "calls per inventory change",
                f"Acumatica {per['acumatica']}, X-Cart {per['xcart']}",
                "-",
                "-",
            )
        )
    bf = results.get("backfill")
    if bf:
        if "end_to_start" in bf:
            out.append((f"backfill {bf['orders']}: first/last {bf['window']} (orders/s)",
                        f"{bf['first_window_orders_per_second']}/{bf['last_window_orders_per_second']}",
                        "last >= 90 % of first", _verdict(bf["end_to_start"] >= 0.9)))  # fmt: skip
        else:
            out.append(
                (f"backfill {bf['orders']}", f"incomplete: {bf['completed']} done", "-", "MISSED")
            )
        peak = bf["rss_kib_peak"]
        out.append(("backfill peak RSS per worker process (MiB)",
                    ", ".join(f"{k} {v / 1024:.0f}" for k, v in sorted(peak.items())), "flat", "see JSON"))  # fmt: skip
    return out


def render(results: dict[str, Any]) -> str:
    table = rows(results)
    headers: Row = ("figure", "measured", "target", "verdict")
    widths = [max(len(r[i]) for r in [headers, *table]) for i in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    machine = results.get("machine", {})
    lines.append(
        f"\nmachine: {machine.get('cpus')} CPUs, load {machine.get('load_at_start')} -> "
        f"{machine.get('load_at_end')}; {results.get('seconds')} s in all"
    )
    return "\n".join(lines)
