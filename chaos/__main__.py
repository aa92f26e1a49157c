"""``python -m chaos``: orders through the engine under faults, then the invariants.

Exits 0 only when every invariant holds (non-zero on any violation or when the run itself
fails). Writes the counts to ``bench/results/chaos-latest.json``. See BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.processes import install_signal_handlers
from bench.stack import add_broker_option, add_database_option, use_database
from chaos.hosts import MODES, HostsUnavailable, require
from chaos.run import Options, render, run

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000, help="valid orders")
    parser.add_argument("--bad", type=int, default=None, help="bad orders (default 1 %%, >= 4)")
    parser.add_argument("--rate", type=float, default=10.0, help="checkouts per second")
    parser.add_argument(
        "--kill-every", type=float, default=20.0, help="seconds between kills (0: no kills)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--ship-share", type=float, default=0.05, help="orders shipped")
    parser.add_argument(
        "--refund-share", type=float, default=0.05, help="unshipped orders refunded in the store"
    )
    parser.add_argument(
        "--erp-customers",
        type=int,
        default=6,
        help="customers created in Acumatica during the run (every third with the e-mail of an "
        "existing store profile), each other one renamed once linked",
    )
    parser.add_argument("--settle-timeout", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=2026)
    add_database_option(parser)
    add_broker_option(parser)
    parser.add_argument(
        "--hosts",
        type=int,
        default=0,
        help="put the workers on this many hosts (network namespaces made by the run, "
        "loopback-only; needs root and iproute2), round-robin; 0: all on this one",
    )
    parser.add_argument(
        "--partition-every",
        type=float,
        default=0.0,
        help="with --hosts: seconds between partitions, each cutting one host off from the "
        "broker, Redis, the sandboxes and the database (0: none)",
    )
    parser.add_argument(
        "--partition-seconds", type=float, default=20.0, help="how long a partition lasts"
    )
    parser.add_argument(
        "--partition-mode",
        choices=MODES,
        default="drop",
        help="drop: every packet silently lost (connections hang until their timeouts); "
        "down: the host's link down (new connections fail at once)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    parser.add_argument("--output", type=Path, default=RESULTS / "chaos-latest.json")
    args = parser.parse_args(argv)
    if args.partition_every > 0 and not args.hosts:
        parser.error("--partition-every needs --hosts")
    if args.hosts and args.workers < args.hosts:
        parser.error("--workers must be at least --hosts (one worker or more on each host)")
    if args.hosts:
        try:
            require()
        except HostsUnavailable as exc:
            print(f"chaos: {exc}", file=sys.stderr)
            return 2
    use_database(args.database)
    install_signal_handlers()
    opts = Options(
        orders=args.orders,
        bad=args.bad if args.bad is not None else max(4, args.orders // 100),
        rate=args.rate,
        kill_every=args.kill_every,
        workers=args.workers,
        concurrency=args.concurrency,
        buyers=args.buyers,
        ship_share=args.ship_share,
        refund_share=args.refund_share,
        erp_customers=args.erp_customers,
        settle_timeout=args.settle_timeout,
        seed=args.seed,
        keep=args.keep,
        broker=args.broker or os.environ.get("BENCH_BROKER", "redis"),
        hosts=args.hosts,
        partition_every=args.partition_every,
        partition_seconds=args.partition_seconds,
        partition_mode=args.partition_mode,
    )
    try:
        result = run(opts)
    except KeyboardInterrupt:
        print("chaos: interrupted; every process was stopped", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("chaos: the run itself failed (no verdict)", file=sys.stderr)
        return 2
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["command"] = "python -m chaos " + " ".join(argv if argv is not None else sys.argv[1:])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(render(result))
    print(f"\ncounts written to {args.output}")
    return 0 if result["invariants"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
