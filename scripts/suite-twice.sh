#!/usr/bin/env bash
# Two copies of a fast subset of the suite at once, on one machine, against the same Redis and
# PostgreSQL: each copy has its own key prefix (TEST_RUN_ID), data directory and sandbox ports,
# and deletes only its own keys. Both copies must pass, and neither may leave a key behind.
#
#   scripts/suite-twice.sh                 # the default subset
#   scripts/suite-twice.sh tests/cli       # any pytest arguments instead
#
# TEST_REDIS_URL and TEST_POSTGRES_URL are honoured as by the suite itself.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
if [ "$#" -gt 0 ]; then
    subset=("$@")
else
    subset=(
        tests/foundation/test_base_task.py          # a Celery worker on the shared broker
        tests/foundation/test_cursor_processes.py   # ledgers: SQLite files, PostgreSQL schemas
        tests/cli/test_dlq.py                       # the dead-letter queue in Redis
        tests/cli/test_dlq_concurrent_replay.py
        tests/connectors/test_limits.py             # shared limits under the connectors' prefix
        tests/connectors/acumatica/test_session_pool.py
        tests/flows/catalog/test_inventory_index_and_idle_poll.py  # sandboxes, worker, ledger
        tests/connectors/xcart/test_sandbox.py      # sandboxes on ports of their own
        tests/webhooks/test_server.py
    )
fi
REDIS="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
logs="$(mktemp -d -t suite-twice-XXXXXX)"
stamp="$(date +%s)-$$"
ids=("twice-a-$stamp" "twice-b-$stamp")

leftovers() {  # the keys a copy left behind under its prefix
    "$PYTHON" - "$REDIS" "t$1:" <<'PY'
import sys

import redis

client = redis.Redis.from_url(sys.argv[1])
print(sum(1 for _ in client.scan_iter(match=sys.argv[2] + "*", count=1000)))
PY
}

started=$(date +%s.%N)
pids=()
for id in "${ids[@]}"; do
    TEST_RUN_ID="$id" "$PYTHON" -m pytest -q -p no:cacheprovider "${subset[@]}" \
        >"$logs/$id.log" 2>&1 &
    pids+=("$!")
done
status=0
for i in 0 1; do
    if wait "${pids[$i]}"; then
        echo "copy ${ids[$i]}: $(tail -n 1 "$logs/${ids[$i]}.log")"
    else
        status=1
        echo "copy ${ids[$i]} FAILED; its output:"
        tail -n 60 "$logs/${ids[$i]}.log"
    fi
done
elapsed=$(echo "$(date +%s.%N) - $started" | bc)
for id in "${ids[@]}"; do
    left="$(leftovers "$id")"
    if [ "$left" != "0" ]; then
        status=1
        echo "copy $id left $left Redis keys under its prefix t$id:"
    fi
done
printf 'both copies ran at once in %.1f s (logs in %s)\n' "$elapsed" "$logs"
exit "$status"
