#!/usr/bin/env bash
# The whole suite on the embedded SQLite ledger (`make test`) and, at the same time, the flow,
# CLI and end-to-end tests again on a PostgreSQL ledger (TEST_LEDGER=postgresql: a schema of its
# own in the test database). The chaos tests, which start stacks of their own, run in the second
# run only, so that the two take about as long. The two runs share one machine, Redis, PostgreSQL and RabbitMQ:
# each has its own key prefix (TEST_RUN_ID), data directory, sandbox ports and ledger, and
# deletes only its own keys. Both must pass, and neither may leave a key behind, which is what
# scripts/suite-twice.sh checks for a subset.
#
#   scripts/suite-both-ledgers.sh
#
# The PostgreSQL run's output goes to a file, shown at the end; `make test` prints as usual.
# Both print their slowest tests, which is where to look when CI nears its time budget.
# TEST_REDIS_URL and TEST_POSTGRES_URL are honoured as by the suite itself.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
POSTGRES_PASS=(
    tests/flows
    tests/cli
    tests/proof/test_prefork_e2e.py
)
# Tests that start whole stacks of their own (each chooses its ledgers and brokers) run once, in
# the PostgreSQL run, which is the shorter of the two: both end at about the same time.
OWN_STACKS=(
    tests/proof/test_chaos_smoke.py
    tests/proof/test_chaos_hosts.py
)
REDIS="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
logs="$(mktemp -d -t suite-both-ledgers-XXXXXX)"
stamp="$(date +%s)-$$"
sqlite_id="sqlite-$stamp"
postgres_id="postgresql-$stamp"

make install
scripts/ensure-services.sh redis postgres rabbitmq

leftovers() {  # the keys a run left behind under its prefix
    "$PYTHON" - "$REDIS" "t$1:" <<'PY'
import sys

import redis

client = redis.Redis.from_url(sys.argv[1])
print(sum(1 for _ in client.scan_iter(match=sys.argv[2] + "*", count=1000)))
PY
}

started=$(date +%s.%N)
TEST_LEDGER=postgresql TEST_RUN_ID="$postgres_id" \
    "$PYTHON" -m pytest -q -p no:cacheprovider --durations=10 "${POSTGRES_PASS[@]}" "${OWN_STACKS[@]}" \
    >"$logs/postgresql.log" 2>&1 &
postgres_pid=$!

status=0
TEST_RUN_ID="$sqlite_id" make test PYTEST_ARGS="--durations=15 ${OWN_STACKS[*]/#/--ignore=}" || status=1
sqlite_done=$(echo "$(date +%s.%N) - $started" | bc)

if wait "$postgres_pid"; then
    echo "PostgreSQL ledger (${POSTGRES_PASS[*]}): $(tail -n 1 "$logs/postgresql.log")"
    sed -n '/slowest .* durations/,/^$/p' "$logs/postgresql.log"
else
    status=1
    echo "PostgreSQL ledger (${POSTGRES_PASS[*]}) FAILED; its output:"
    tail -n 200 "$logs/postgresql.log"
fi
both_done=$(echo "$(date +%s.%N) - $started" | bc)
for id in "$sqlite_id" "$postgres_id"; do
    left="$(leftovers "$id")"
    if [ "$left" != "0" ]; then
        status=1
        echo "the run $id left $left Redis keys under its prefix t$id:"
    fi
done
printf 'SQLite suite done after %.1f s, both ledgers after %.1f s (PostgreSQL log in %s)\n' \
    "$sqlite_done" "$both_done" "$logs"
exit "$status"
