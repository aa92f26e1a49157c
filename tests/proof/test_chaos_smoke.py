"""``python -m chaos`` as ``make chaos`` runs it (no ``--keep``), small, on each ledger and each
broker: it reaches a verdict, every invariant holds, and the stack it made is gone afterwards.

The ledger's statuses are part of the verdict, read before the stack closes; a run that read
them after (from a removed directory or a dropped database) ended with no verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


#: (ledger, broker) of each run.
RUNS = (("sqlite", "redis"), ("postgres", "redis"), ("sqlite", "rabbitmq"))


@dataclass
class Run:
    database: str
    broker: str
    proc: subprocess.Popen[bytes]
    output: Path
    tmp: Path


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, rabbitmq: str
) -> Iterator[dict[str, Run]]:
    """One short run per ledger and broker, started together (most of a run is waiting: for the
    orders a killed worker held to come back from the broker)."""
    started: dict[str, Run] = {}
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIS_", "DATABASE", "BROKER_URL"))
    }
    server = postgres_url.rsplit("/", 1)[0]
    base["BENCH_POSTGRES"] = server.replace("postgresql://", "postgresql+psycopg://", 1)
    base["BENCH_AMQP"] = rabbitmq
    for database, broker in RUNS:
        tmp = tmp_path_factory.mktemp(f"chaos-{database}-{broker}")
        env = {**base, "TMPDIR": str(tmp)}  # the stack's temp dir: to see it removed
        output = tmp / "verdict.json"
        argv = [
            sys.executable, "-m", "chaos", "--orders", "12", "--bad", "4", "--rate", "4",
            "--kill-every", "4", "--ship-share", "0.2", "--settle-timeout", "420",
            "--database", database, "--broker", broker, "--output", str(output),
        ]  # fmt: skip
        with (tmp / "chaos.log").open("w", encoding="utf-8") as log:
            proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        started[f"{database}-{broker}"] = Run(database, broker, proc, output, tmp)
    try:
        yield started
    finally:
        for run in started.values():
            run.proc.kill()
            run.proc.wait()


# A bad order a killed worker held comes back after the broker's visibility timeout (120 s in
# chaos) and the verdict waits for its dead letter: more than the suite's default per test.
@pytest.mark.timeout(600)
@pytest.mark.parametrize("run_name", [f"{database}-{broker}" for database, broker in RUNS])
def test_a_short_chaos_run_without_keep_reaches_a_verdict(
    run_name: str, runs: dict[str, Run], postgres_url: str
) -> None:
    run = runs[run_name]
    run.proc.wait(timeout=900)
    printed = (run.tmp / "chaos.log").read_text(encoding="utf-8")
    tail = printed[-3000:]
    assert run.proc.returncode == 0, tail
    assert "every invariant holds" in printed, tail
    result = json.loads(run.output.read_text(encoding="utf-8"))
    assert result["invariants"]["ok"] is True
    counts = result["invariants"]["counts"]
    assert counts["valid_orders"] == 12 and counts["sales_orders"] == 12
    assert counts["lost_orders"] == 0 and counts["duplicated_sales_orders"] == 0
    assert counts["bad_orders_not_dead_lettered"] == 0
    # The ledger was read while the stack lived: every valid order synced, the bad ones dead.
    assert result["ledger"]["orders/synced"] == 12, result["ledger"]
    assert result["ledger"]["orders/dead_lettered"] == 4, result["ledger"]
    assert result["kills"] > 0
    assert not any(run.tmp.glob("sync-workers-chaos*")), "the stack's temp dir is left"
    assert result["options"]["broker"] == run.broker
    if run.database == "postgres":
        assert _databases_of(postgres_url, run.proc.pid) == []
    if run.broker == "rabbitmq":
        assert _vhosts_of(run.proc.pid) == []


def _databases_of(url: str, pid: int) -> list[str]:
    """The databases a chaos process ``pid`` created that are still there."""
    import sqlalchemy

    from sync_workers.ledger.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sqlalchemy.text("select datname from pg_database where datname like :name"),
                {"name": f"sync\\_workers\\_chaos\\_{pid}\\_%"},
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def _vhosts_of(pid: int) -> list[str]:
    """The RabbitMQ vhosts a chaos process ``pid`` made that are still there."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_vhosts"], capture_output=True, text=True, check=True
    )
    return [v for v in listed.stdout.split() if v.startswith(f"sync-workers-chaos-{pid}-")]
