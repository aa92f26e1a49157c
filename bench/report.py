"""The table ``python -m bench`` prints: each figure beside its target, met or missed."""

from __future__ import annotations

from statistics import median
from typing import Any

Row = tuple[str, str, str, str]

#: The targets each figure is printed against.
THROUGHPUT_RATIO = 0.8  # pipeline throughput against bare HTTP, median of the rounds
CALLS_PER_PAID_ORDER = 1.0  # Acumatica calls per new paid order, known buyer (cursor poll)
STOCK_PUSH_P95 = 0.5  # seconds, Acumatica stock change -> X-Cart amount
LAG_BEYOND_INTERVAL = 1.0  # order lag p95 <= the orders poll interval + this
BACKFILL_END_TO_START = 0.9


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
                f">= {THROUGHPUT_RATIO:.0%} of bare", _verdict(ratio >= THROUGHPUT_RATIO),
            ))  # fmt: skip
        for threads in sorted({bare["threads"] for bare in tp["bare"]}):
            rates = [b["orders_per_second"] for b in tp["bare"] if b["threads"] == threads]
            out.append((f"bare, {threads} thread(s)",
                        f"median {median(rates)} orders/s ({', '.join(map(str, rates))})",
                        "-", "-"))  # fmt: skip
        per = tp["economy"]["per_order"]
        out.append(("Acumatica calls per new paid order (known buyer)", str(per["acumatica"]),
                    f"<= {CALLS_PER_PAID_ORDER:g}",
                    _verdict(per["acumatica"] <= CALLS_PER_PAID_ORDER)))  # fmt: skip
        out.append(("X-Cart calls per new order", str(per["xcart"]), "-", "-"))
        redis_per = per.get("redis_commands") or {}
        if redis_per:
            top = ", ".join(f"{k} {v}" for k, v in list(redis_per.items())[1:7])
            out.append(("Redis commands per new order (1 worker)",
                        f"{redis_per['total']} ({top})", "-", "-"))  # fmt: skip
    lic = results.get("licence")
    if lic:
        out.append(("licence: achieved requests/minute",
                    f"{lic['achieved_requests_per_minute']} ({lic['licence_used']:.0%} of 120)",
                    ">= 95 %", _verdict(lic["licence_used"] >= 0.95)))  # fmt: skip
        # known buyer: 1 PUT per order, plus the resync's batched look-ups (a GET per batch)
        known = lic.get("acumatica_calls_per_order_known_buyer")
        out.append(("licence: Acumatica calls per new paid order (known buyer)",
                    f"{known} ({lic.get('acumatica_calls_per_order')} with new buyers)",
                    "1 + look-ups <= 1.05", _verdict(known is not None and known <= 1.05)))  # fmt: skip
        out.append(("licence: declined (429)", str(lic["declined_429"]), "0",
                    _verdict(lic["declined_429"] == 0)))  # fmt: skip
        out.append(("licence: peak sessions", str(lic["peak_sessions"]), "<= 2",
                    _verdict((lic["peak_sessions"] or 0) <= 2)))  # fmt: skip
        polls = lic.get("with_polls") or {}
        if polls:  # orders/min with the change polls beside the writes: rest / odata / outside
            rate = {name: (polls.get(name) or {}).get("orders_per_minute") for name in
                    ("rest", "odata", "odata_outside_rate_limit")}  # fmt: skip
            out.append(("licence: orders/min with polls, rest / odata / odata outside rate window",
                        f"{rate['rest']} / {rate['odata']} / {rate['odata_outside_rate_limit']}",
                        "odata > rest", _verdict(None not in (rate["rest"], rate["odata"])
                                                 and rate["odata"] > rate["rest"])))  # fmt: skip
    lat = results.get("latency")
    if lat:
        orders = lat["orders"]
        lag = orders.get("lag_seconds") or {}
        limit = orders["poll_interval_seconds"] + LAG_BEYOND_INTERVAL
        out.append((f"order lag p50/p95/p99 (s), orders poll every {orders['poll_interval_seconds']:g} s",
                    f"{lag.get('p50')}/{lag.get('p95')}/{lag.get('p99')} over {lag.get('n')}",
                    f"p95 <= {limit:g}", _verdict(lag.get("p95") is not None and lag["p95"] <= limit)))  # fmt: skip
        stock = lat["stock"]
        slag = stock.get("lag_seconds") or {}
        out.append(("stock push p50/p95 (s)",
                    f"{slag.get('p50')}/{slag.get('p95')} over {slag.get('n')}, missed {len(stock['missed'])}",
                    f"p95 <= {STOCK_PUSH_P95:g}",
                    _verdict(bool(slag) and slag["p95"] <= STOCK_PUSH_P95 and not stock["missed"])))  # fmt: skip
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
                        f"last >= {BACKFILL_END_TO_START:.0%} of first",
                        _verdict(bf["end_to_start"] >= BACKFILL_END_TO_START)))  # fmt: skip
        else:
            out.append(
                (f"backfill {bf['orders']}", f"incomplete: {bf['completed']} done", "-", "MISSED")
            )
        cpu = bf.get("cpu_ms_per_order") or {}
        for name in ("first_window", "last_window"):
            if cpu.get(name):
                out.append((f"backfill CPU ms per order, {name.replace('_', ' ')}",
                            ", ".join(f"{group} {ms}" for group, ms in sorted(cpu[name].items())),
                            "reported", "-"))  # fmt: skip
        peak = bf["rss_kib_peak"]
        out.append(("backfill peak RSS per worker process (MiB)",
                    ", ".join(f"{k} {v / 1024:.0f}" for k, v in sorted(peak.items())), "flat", "see JSON"))  # fmt: skip
    console = results.get("console")
    if console:
        scale = f"{console['records']:,} records, {console['dead_letters']:,} dead letters"
        for page, figures in console["pages"].items():
            out.append((f"console {page} ({scale}): p50/p95 ms",
                        f"{figures['p50_ms']}/{figures['p95_ms']} (max {figures['max_ms']})",
                        f"p95 <= {console['target_p95_ms']:g}", _verdict(figures["met"])))  # fmt: skip
    polls = results.get("odata_polls")
    if polls:
        for flow, by_source in polls.items():
            odata, rest = by_source["odata"], by_source["rest"]
            out.append((f"idle {flow} poll: contract-API / OData requests (odata source)",
                        f"{odata['contract_requests_per_idle_poll']} / "
                        f"{odata['odata_requests_per_idle_poll']} (rest source: "
                        f"{rest['contract_requests_per_idle_poll']} / "
                        f"{rest['odata_requests_per_idle_poll']})",
                        "0 / 1", _verdict(odata["contract_requests_per_idle_poll"] == 0
                                          and odata["odata_requests_per_idle_poll"] <= 1)))  # fmt: skip
    ma = results.get("mapping_assistant")
    if ma:
        out.append(("mapping assistant: top-1 accuracy (known answers)",
                    f"{ma['top1']}/{ma['cases']} ({ma['top1_accuracy']:.1%}); "
                    f"confident {ma['confident_right']}/{ma['confident']} right",
                    ">= 90 %", _verdict(ma["top1_accuracy"] >= 0.9)))  # fmt: skip
        for field, tally in (ma.get("by_field") or {}).items():
            out.append((f"mapping assistant: top-1 accuracy, {field.replace('_', ' ')}",
                        f"{tally['top1']}/{tally['cases']} ({tally['top1_accuracy']:.1%})",
                        "-", "-"))  # fmt: skip
    if results.get("sandbox_speed"):
        from bench.sandbox import speed_rows

        out += speed_rows(results["sandbox_speed"])
    if results.get("recovery"):
        out += _recovery_rows(results["recovery"])
    return out


def _recovery_rows(recovery: dict[str, Any]) -> list[Row]:
    from bench.recovery import TARGET_P95, met

    out: list[Row] = []
    for broker, fig in recovery["brokers"].items():
        target = f"p95 <= {TARGET_P95:g}" if broker == "rabbitmq" else "reported"
        if "error" in fig:
            out.append((f"orders held by a SIGKILLed worker ({broker}): seconds to finish",
                        f"not measured: {fig['error']}", target, "FAILED"))  # fmt: skip
            continue
        bound = f">{fig['bound_seconds']:g}"
        p50, p95, top = (bound if fig[k] is None else f"{fig[k]:g}" for k in ("p50", "p95", "max"))
        shipped = fig["shipped_settings"]
        rabbit = broker == "rabbitmq"
        measured = f"{p50}/{p95}/{top} over {fig['held']} held"
        if fig.get("held_with_lock"):
            measured += (f"; {fig['held_with_lock']} with the killed task's lock "
                         f"(LOCK_TIMEOUT {shipped['lock_timeout']:g} s)")  # fmt: skip
        if fig["unfinished"]:
            measured += f"; {fig['unfinished']} not finished within {fig['bound_seconds']:g} s"
            if not rabbit:
                measured += (f" (bounded by the {shipped['broker_visibility_timeout']:g} s "
                             "visibility timeout)")  # fmt: skip
        out.append((f"orders held by a SIGKILLed worker ({broker}): seconds to finish p50/p95/max",
                    measured, target, _verdict(met(fig)) if rabbit else "-"))  # fmt: skip
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
