#!/usr/bin/env bash
# Make the local PostgreSQL, RabbitMQ and Redis on 127.0.0.1 ready for the test suite: start the
# ones that are down, then give PostgreSQL and RabbitMQ the headroom the suite needs where this
# machine lets us (ADR 89). `make test` and `.ci/run` both call it; on a machine already set up it
# only prints three "is up" lines.
#
# A service the caller points elsewhere (CRM_TEST_DATABASE_URL, CRM_TEST_AMQP_URL) is the
# caller's to size: it is left alone.
set -euo pipefail

PG_CONNECTIONS=400    # every service, the relay and the gateway as processes, and parallel test databases
RABBIT_SOCKETS=4000   # sockets RabbitMQ's file handle cache admits; the suite's quorum queues take descriptors too

say() { echo "services: $*"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local name=$1 port=$2
  for _ in $(seq 1 60); do port_open "$port" && return 0; sleep 1; done
  say "$name did not come up on 127.0.0.1:$port" >&2
  exit 1
}

# ensure NAME PORT COMMAND...: start a service that is down, if this machine has its server.
ensure() {
  local name=$1 port=$2; shift 2
  if port_open "$port"; then say "$name is up on :$port"; return; fi
  if ! command -v "$1" >/dev/null; then
    say "$name is not running on :$port and $1 is not installed here; the tests will look for it elsewhere (README)"
    return
  fi
  say "starting $name"
  "$@" || { say "could not start $name with: $*" >&2; exit 1; }
  wait_port "$name" "$port"
}

local_url() { [ -z "${1:-}" ] || [[ $1 == *@127.0.0.1:* || $1 == *@localhost:* || $1 == *://127.0.0.1:* ]]; }

cluster() { ls /etc/postgresql 2>/dev/null | head -n1; }

tune_postgres() {
  local have
  have=$(psql -h 127.0.0.1 -U postgres -Atc 'show max_connections' 2>/dev/null | tr -dc 0-9 || true)
  if [ -z "$have" ]; then
    say "cannot read PostgreSQL's max_connections (psql as postgres on 127.0.0.1 failed); the suite needs $PG_CONNECTIONS"
    return 0
  fi
  [ "$have" -ge "$PG_CONNECTIONS" ] && return 0
  if [ -n "$(cluster)" ] && psql -h 127.0.0.1 -U postgres -qc "ALTER SYSTEM SET max_connections = $PG_CONNECTIONS" 2>/dev/null; then
    say "raising PostgreSQL max_connections from $have to $PG_CONNECTIONS (a restart)"
    if ! pg_ctlcluster --skip-systemctl-redirect "$(cluster)" main restart; then
      say "max_connections = $PG_CONNECTIONS is set but applies after a restart this user cannot do: restart PostgreSQL" >&2
      exit 1
    fi
    wait_port PostgreSQL 5432
  else
    say "PostgreSQL allows $have connections and this user cannot raise it; the suite needs $PG_CONNECTIONS:" >&2
    say "  ALTER SYSTEM SET max_connections = $PG_CONNECTIONS; then restart PostgreSQL" >&2
    exit 1
  fi
}

tune_rabbitmq() {
  local conf=/etc/rabbitmq/rabbitmq-env.conf limit
  if ! command -v rabbitmqctl >/dev/null; then
    say "rabbitmqctl is not here: cannot check RabbitMQ's descriptor limit (the suite needs $RABBIT_SOCKETS sockets)"
    return 0
  fi
  timeout 60 rabbitmqctl await_startup >/dev/null 2>&1 || true
  limit=$(rabbitmqctl eval 'proplists:get_value(sockets_limit, file_handle_cache:info()).' 2>/dev/null | tr -dc 0-9 || true)
  if [ -z "$limit" ]; then
    say "cannot read RabbitMQ's descriptor limit (rabbitmqctl eval failed); the suite needs $RABBIT_SOCKETS sockets"
    return 0
  fi
  [ "$limit" -ge "$RABBIT_SOCKETS" ] && return 0
  # At the limit the broker's file handle cache stops admitting sockets: handshakes hang while TCP
  # connects, and every test that opens a connection then times out.
  if [ -w "$(dirname "$conf")" ] && command -v rabbitmq-server >/dev/null; then
    say "raising RabbitMQ's descriptor limit (it admits $limit sockets; a restart)"
    grep -q 'ulimit -n' "$conf" 2>/dev/null || echo 'ulimit -n 20000 2>/dev/null || true' >>"$conf"
    rabbitmqctl stop >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do port_open 5672 || break; sleep 1; done
    rabbitmq-server -detached
    wait_port RabbitMQ 5672
    timeout 60 rabbitmqctl await_startup >/dev/null 2>&1 || true
  else
    say "RabbitMQ admits $limit sockets and this user cannot raise it; the suite needs $RABBIT_SOCKETS:" >&2
    say "  put 'ulimit -n 20000' in $conf and restart RabbitMQ" >&2
    exit 1
  fi
}

if local_url "${CRM_TEST_DATABASE_URL:-}"; then
  ensure PostgreSQL 5432 pg_ctlcluster --skip-systemctl-redirect "$(cluster)" main start
  port_open 5432 && tune_postgres
fi
if local_url "${CRM_TEST_AMQP_URL:-}"; then
  ensure RabbitMQ 5672 rabbitmq-server -detached
  port_open 5672 && tune_rabbitmq
fi
if local_url "${CRM_TEST_REDIS_URL:-}"; then
  ensure Redis 6379 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
