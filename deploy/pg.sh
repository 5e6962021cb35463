#!/usr/bin/env bash
# A throw-away PostgreSQL: its own cluster under DIR, a free port on 127.0.0.1, its unix socket in DIR.
#
# usage: deploy/pg.sh start DIR     initdb (first time) + start; prints KEY=VALUE lines (also DIR/env)
#        deploy/pg.sh stop DIR      fast shutdown of the server recorded in DIR (by its postmaster PID)
#        deploy/pg.sh restart DIR   stop -m immediate (a crash, as far as PostgreSQL knows) + start, same port
#        deploy/pg.sh env DIR       print the KEY=VALUE lines
# env:   PG_BIN (default: /usr/lib/postgresql/15/bin, else the newest installed), PG_FAST=1 (fsync off:
#        benchmarks only; a PostgreSQL crash may then lose commits)
# Prints PG_URL=postgresql://s3presign:PASSWORD@127.0.0.1:PORT/s3presign (scram-sha-256 over TCP;
# the unix socket in DIR trusts local users). Runs the server as user postgres when started as root.
set -euo pipefail

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
DIR=$(realpath -m "$DIR")
DATA=$DIR/data
log() { echo "[pg] $*" >&2; }
die() { echo "[pg] error: $*" >&2; exit 1; }

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PG_BIN/pg_ctl" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/pg_ctl" ] || die "no PostgreSQL server binaries: apt-get install postgresql"
fi

# PostgreSQL refuses to run as root: the cluster then belongs to the postgres system user.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root needs the postgres user (apt-get install postgresql)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

val() { sed -n "s/^$1=//p" "$DIR/env" | tail -1; }

postmaster_pid() { head -1 "$DATA/postmaster.pid" 2>/dev/null || true; }

ours() {  # the postmaster PID recorded in DATA still runs a postgres on DATA
  local pid; pid=$(postmaster_pid)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qaF "$DATA" "/proc/$pid/cmdline" 2>/dev/null
}

start_server() {
  local port=$1
  as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$DIR/postgres.log" -w -t 60 \
    -o "-p $port -k $DIR/socket -c listen_addresses=127.0.0.1" start >/dev/null \
    || die "PostgreSQL did not start; see $DIR/postgres.log"
}

case "$cmd" in
  stop)
    if ours; then
      pid=$(postmaster_pid)
      as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null || kill -KILL "$pid" 2>/dev/null || true
      log "stopped postgres ($pid)"
    fi
    exit 0 ;;
  restart)
    [ -f "$DIR/env" ] || die "no cluster in $DIR"
    if ours; then as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w -t 60 stop >/dev/null || true; fi
    start_server "$(val PG_PORT)"
    log "restarted on port $(val PG_PORT)"
    exit 0 ;;
  env)
    [ -f "$DIR/env" ] || die "no cluster in $DIR"
    cat "$DIR/env"; exit 0 ;;
  start) ;;
  *) die "unknown command '$cmd' (start, stop, restart, env)" ;;
esac

ours && { log "already running"; cat "$DIR/env"; exit 0; }
T0=$(date +%s.%N)
mkdir -p "$DIR/socket"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ ! -f "$DATA/PG_VERSION" ]; then
  PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
  rm -rf "$DATA"; mkdir -p "$DATA"
  umask 077
  printf '%s\n' "$PASSWORD" >"$DIR/pwfile"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres: "$DIR"
    as_pg test -w "$DIR" || die "user postgres cannot reach $DIR: every parent directory must be traversable (pytest's tmp_path is 0700: use a directory under /tmp)"
  fi
  as_pg "$PG_BIN/initdb" -D "$DATA" -U s3presign --pwfile="$DIR/pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$DIR/initdb.log" 2>&1 \
    || die "initdb failed; see $DIR/initdb.log"
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$DIR/socket'"
    echo "max_connections = 200"
    echo "shared_buffers = 64MB"
    echo "log_min_messages = warning"
    if [ "${PG_FAST:-0}" = 1 ]; then echo "fsync = off"; echo "synchronous_commit = off"; echo "full_page_writes = off"; fi
  } >>"$DATA/postgresql.conf"
else
  PASSWORD=$(cat "$DIR/pwfile")
fi
[ "$(id -u)" = 0 ] && chown -R postgres: "$DIR"
start_server "$PORT"
as_pg "$PG_BIN/psql" -h "$DIR/socket" -p "$PORT" -U s3presign -d postgres -qAtc \
  "SELECT 1 FROM pg_database WHERE datname = 's3presign'" | grep -q 1 \
  || as_pg "$PG_BIN/createdb" -h "$DIR/socket" -p "$PORT" -U s3presign s3presign

cat >"$DIR/env" <<EOF
PG_URL=postgresql://s3presign:$PASSWORD@127.0.0.1:$PORT/s3presign
PG_PORT=$PORT
PG_SOCKET_DIR=$DIR/socket
PG_USER=s3presign
PG_DATABASE=s3presign
PG_DATA=$DATA
EOF
chmod 600 "$DIR/env"
log "up in $(python3 -c "print(round($(date +%s.%N) - $T0, 1))") s on 127.0.0.1:$PORT (stop: $0 stop $DIR)"
cat "$DIR/env"
