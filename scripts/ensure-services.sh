#!/usr/bin/env bash
# Make sure the local services the engine or its tests need are up: start them when installed,
# otherwise say exactly what to install. Exit non-zero when one is still unavailable.
#   scripts/ensure-services.sh redis [postgres] [rabbitmq]
set -u
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
PG_HOST=127.0.0.1
PG_PORT=5432
AMQP_HOST=127.0.0.1
AMQP_PORT=5672

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG
  else
    (exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null
  fi
}

postgres_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
  else
    (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null
  fi
}

rabbitmq_up() {
  (exec 3<>"/dev/tcp/$AMQP_HOST/$AMQP_PORT") 2>/dev/null || return 1
  if command -v rabbitmqctl >/dev/null 2>&1; then
    rabbitmqctl -q await_startup >/dev/null 2>&1
  fi
}

wait_for() {  # name, check function
  for _ in $(seq 1 50); do "$2" && return 0; sleep 0.2; done
  return 1
}

ensure_redis() {
  redis_up && return 0
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "Redis is not running on $REDIS_HOST:$REDIS_PORT and redis-server is not installed." >&2
    echo "Install it: 'sudo apt-get install redis-server' (Debian/Ubuntu) or 'brew install redis' (macOS), then run this again." >&2
    return 1
  fi
  echo "Starting redis-server on $REDIS_HOST:$REDIS_PORT" >&2
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null \
    || redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
  wait_for redis redis_up || { echo "redis-server did not come up on $REDIS_HOST:$REDIS_PORT" >&2; return 1; }
}

ensure_postgres() {
  postgres_up && return 0
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "Starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    wait_for postgres postgres_up && return 0
  fi
  echo "PostgreSQL is not running on $PG_HOST:$PG_PORT (the ledger tests need it, with trust auth and a database 'test')." >&2
  echo "Install it: 'sudo apt-get install postgresql' (Debian/Ubuntu), then run this again." >&2
  return 1
}

ensure_rabbitmq() {
  rabbitmq_up && return 0
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo "Starting RabbitMQ" >&2
    rabbitmq-server -detached >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do rabbitmq_up && return 0; sleep 1; done
  fi
  echo "RabbitMQ is not running on $AMQP_HOST:$AMQP_PORT (the broker tests need it, guest/guest, with rabbitmqctl)." >&2
  echo "Install it: 'sudo apt-get install rabbitmq-server' (Debian/Ubuntu), then run this again." >&2
  return 1
}

status=0
for service in "$@"; do
  case "$service" in
    redis) ensure_redis || status=1 ;;
    postgres) ensure_postgres || status=1 ;;
    rabbitmq) ensure_rabbitmq || status=1 ;;
    *) echo "unknown service: $service" >&2; status=2 ;;
  esac
done
exit $status
