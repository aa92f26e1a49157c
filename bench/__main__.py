"""``python -m bench``: the speed and economy figures, measured against the sandboxes.

Prints a table and writes every figure (with sizes, machine and load) to
``bench/results/latest.json``. Sizes default to those of the targets; see ``--help`` and BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.processes import install_signal_handlers
from bench.report import render
from bench.stack import add_database_option, use_database

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = (
    "throughput",
    "licence",
    "latency",
    "backfill",
    "console",
    "odata_polls",
    "mapping_assistant",
    "sandbox_speed",
    "recovery",
)


def at_least_one(text: str) -> int:
    """A whole number of rounds, 1 or more (argparse reports anything else as a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--orders", type=int, default=1000, help="orders per throughput batch")
    parser.add_argument("--buyers", type=int, default=20, help="distinct (known) buyers")
    parser.add_argument(
        "--orders-path",
        choices=("cursor", "resync"),
        default="cursor",
        help="throughput: how the orders poll hands the batch out (the scheduled cursor poll, "
        "or a resync since the batch started)",
    )
    parser.add_argument(
        "--rounds",
        type=at_least_one,
        default=3,
        help="throughput: rounds of bare then pipeline batches; the verdict is the median ratio",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="prefork children per worker")
    parser.add_argument("--backfill", type=int, default=100_000, help="orders in the backfill")
    parser.add_argument("--window", type=int, default=10_000, help="backfill window size")
    parser.add_argument("--licence-minutes", type=float, default=3.0)
    parser.add_argument("--latency-seconds", type=float, default=240.0)
    parser.add_argument("--order-rate", type=float, default=1.0, help="checkouts/s (latency)")
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="latency: the orders poll's interval, the other polls slowed out of the way "
        "(default: every poll as shipped, POLL_INTERVAL_SECONDS's default, 30 s)",
    )
    parser.add_argument(
        "--orders-settle",
        type=float,
        default=None,
        help="latency: the orders poll's settle seconds (default: the bundled template's, 2)",
    )
    parser.add_argument(
        "--console-records", type=int, default=100_000, help="console: ledger records seeded"
    )
    parser.add_argument(
        "--console-dead-letters", type=int, default=10_000, help="console: open dead letters"
    )
    parser.add_argument("--console-rounds", type=int, default=30, help="console: requests per page")
    parser.add_argument(
        "--sandbox-requests", type=int, default=200, help="sandbox_speed: requests of each kind"
    )
    parser.add_argument(
        "--recovery-kills",
        type=at_least_one,
        default=5,
        help="recovery: SIGKILLs of a busy worker per broker",
    )
    parser.add_argument(
        "--recovery-timeout",
        type=float,
        default=600.0,
        help="recovery: seconds after its kill an order may take to finish before it is "
        "reported as not finished",
    )
    parser.add_argument(
        "--recovery-brokers",
        choices=("rabbitmq", "redis"),
        action="append",
        help="recovery: only these brokers (default: rabbitmq, then redis)",
    )
    add_database_option(parser)
    parser.add_argument("--keep", action="store_true", help="licence: keep its temp dir and logs")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    return parser.parse_args(argv)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
        "ledger_database": os.environ.get("BENCH_DATABASE", "sqlite"),
    }


def run_part(part: str, args: argparse.Namespace) -> dict[str, Any]:
    if part == "throughput":
        from bench import throughput

        return throughput.run(
            orders=args.orders, buyers=args.buyers, concurrency=args.concurrency,
            worker_counts=(1, 2), timeout=max(600.0, args.orders), path=args.orders_path,
            rounds=args.rounds,
        )  # fmt: skip
    if part == "licence":
        from bench import licence

        return licence.run(minutes=args.licence_minutes, keep=args.keep)
    if part == "latency":
        from bench import latency

        return latency.run(
            poll_interval=args.poll_interval, seconds=args.latency_seconds,
            rate=args.order_rate, buyers=args.buyers, orders_settle=args.orders_settle,
        )  # fmt: skip
    if part == "odata_polls":
        from bench import odata_polls

        return odata_polls.run(keep=args.keep)
    if part == "mapping_assistant":
        from bench import mapping_assistant

        return mapping_assistant.run_on_stack(keep=args.keep)
    if part == "sandbox_speed":
        from bench import sandbox

        return sandbox.speed(requests_each=args.sandbox_requests)
    if part == "recovery":
        from bench import recovery

        return recovery.run(
            kills=args.recovery_kills,
            timeout=args.recovery_timeout,
            buyers=args.buyers,
            brokers=args.recovery_brokers or recovery.BROKERS,
        )
    if part == "console":
        from bench import console

        return console.run(
            records=args.console_records,
            dead_letters=args.console_dead_letters,
            rounds=args.console_rounds,
        )
    from bench import backfill

    return backfill.run(
        orders=args.backfill, window=min(args.window, args.backfill), workers=2,
        concurrency=args.concurrency, buyers=200, timeout=args.backfill * 0.5 + 600,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    use_database(args.database)
    install_signal_handlers()
    parts = args.only or list(PARTS)
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "sizes": {k: v for k, v in vars(args).items() if k not in ("only", "output")},
    }
    started = time.monotonic()
    try:
        for part in parts:
            try:
                results[part] = run_part(part, args)
            except Exception as exc:  # one broken part must not hide the others' figures
                traceback.print_exc()
                results.setdefault("errors", {})[part] = f"{type(exc).__name__}: {exc}"
    except KeyboardInterrupt:
        print("bench: interrupted; every process was stopped", file=sys.stderr)
        return 130
    finally:
        results["seconds"] = round(time.monotonic() - started, 1)
        results["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(render(results))
    for part, error in results.get("errors", {}).items():
        print(f"{part}: FAILED: {error}")
    print(f"\nfigures written to {args.output}")
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    raise SystemExit(main())
