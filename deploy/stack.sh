#!/usr/bin/env bash
# The distributed shape on one machine: PostgreSQL + Ceph RGW + N `s3presign serve` instances +
# HAProxy in front, all on 127.0.0.1 under DIR, for tests, benchmarks and trying it out.
#
# usage: deploy/stack.sh start DIR [N]   bring it all up (N instances, default 3); prints KEY=VALUE lines
#                                        (also DIR/env): S3_ENDPOINT is the load balancer
#        deploy/stack.sh stop DIR        stop everything recorded under DIR, by PID (reverse order)
# env:   PYTHON (interpreter with s3presign, default python3), STACK_TLS=1 (HTTPS at the balancer:
#        needed for SSE-C), STACK_CREDENTIALS=FILE (the users to import; default: two generated),
#        STACK_WORKERS (processes per instance, default 1), STACK_SERVE_ARGS (more `serve` options),
#        LB_ALSO_HTTP=1 (with STACK_TLS=1: plain HTTP too, on S3_HTTP_ENDPOINT),
#        RGW_* / PG_* as deploy/rgw.sh and deploy/pg.sh take them
#
# The users go into PostgreSQL (`s3presign user import DIR/credentials`: the file stays for clients);
# the master key (DIR/master.key) is the same file for every instance.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cmd=${1:-}; DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
DIR=$(realpath -m "$DIR")
N=${3:-3}
PY=${PYTHON:-python3}
log() { echo "[stack] $*" >&2; }
die() { echo "[stack] error: $*" >&2; exit 1; }

stop_instances() {
  [ -f "$DIR/instances.pids" ] || return 0
  local name pid
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null && grep -qaF "$DIR/" "/proc/$pid/cmdline" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" || true
      log "stopped $name ($pid)"
    fi
  done <"$DIR/instances.pids"
  : >"$DIR/instances.pids"
}

case "$cmd" in
  stop)
    "$HERE/haproxy.sh" stop "$DIR/lb" || true
    stop_instances
    "$HERE/rgw.sh" stop "$DIR/rgw" || true
    "$HERE/pg.sh" stop "$DIR/pg" || true
    exit 0 ;;
  start) ;;
  *) die "unknown command '$cmd' (start, stop)" ;;
esac

"$PY" -c 'import s3presign' 2>/dev/null || die "$PY cannot import s3presign; set PYTHON"
mkdir -p "$DIR"; chmod 755 "$DIR"  # as root, PostgreSQL runs as user postgres and must enter DIR
trap 'log "start failed; stopping what started"; "$0" stop "$DIR" >/dev/null 2>&1' ERR
T0=$(date +%s.%N)

# PostgreSQL and RGW start in parallel: RGW takes ~13 s, PostgreSQL ~3 s.
"$HERE/rgw.sh" start "$DIR/rgw" >"$DIR/rgw.out" 2>"$DIR/rgw.log" & RGW_JOB=$!
"$HERE/pg.sh" start "$DIR/pg" >"$DIR/pg.out" 2>"$DIR/pg.log" || die "PostgreSQL did not start; see $DIR/pg.log"
wait "$RGW_JOB" || die "RGW did not start; see $DIR/rgw.log"
set -a; . "$DIR/rgw/env"; . "$DIR/pg/env"; set +a

BUCKET=s3presign-blobs
# the blob bucket (an empty payload, signed by curl; RGW wants the payload hash header)
curl -sf -o /dev/null --aws-sigv4 "aws:amz:${RGW_REGION}:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
  -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
  -X PUT "$RGW_ENDPOINT/$BUCKET" || die "could not create bucket $BUCKET on RGW"

umask 077
[ -n "${STACK_CREDENTIALS:-}" ] && [ ! -f "$DIR/credentials" ] && cp "$STACK_CREDENTIALS" "$DIR/credentials"
if [ ! -f "$DIR/credentials" ]; then
  key() { "$PY" -c "import secrets,string as s; print(''.join(secrets.choice($1) for _ in range($2)))"; }
  for u in main alt; do
    printf '[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n' "$u" \
      "$(key 's.ascii_uppercase+s.digits' 20)" "$(key 's.ascii_letters+s.digits' 40)" >>"$DIR/credentials"
  done
fi
[ -f "$DIR/master.key" ] || "$PY" -c 'import secrets; print(secrets.token_hex(32))' >"$DIR/master.key"
umask 022
# the users, into the database (every instance reads them from there)
S3PRESIGN_METADATA_URL=$PG_URL "$PY" -m s3presign user import "$DIR/credentials" \
  --master-key-file "$DIR/master.key" >"$DIR/users.out" 2>&1 || die "user import failed; see $DIR/users.out"

TLS_ARGS=()
if [ "${STACK_TLS:-0}" = 1 ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$DIR/lb.key" -out "$DIR/lb.crt" >/dev/null 2>&1
  cat "$DIR/lb.crt" "$DIR/lb.key" >"$DIR/lb.pem"; chmod 600 "$DIR/lb.pem" "$DIR/lb.key"
fi

# The instances: every one is the same stateless server over the shared PostgreSQL and the RGW
# bucket; DIR/instance-i/data holds only its lock (and a TLS certificate if asked). Secrets (the
# database URL with its password, the RGW keys) travel in the environment, never on a command line.
instance_args() {  # i
  local i=$1
  echo --blob-endpoint "$RGW_ENDPOINT" --blob-bucket "$BUCKET" --blob-prefix blobs/ \
    --blob-region "$RGW_REGION" --trusted-proxy 127.0.0.1 --data-dir "$DIR/instance-$i/data" \
    ${STACK_GC_GRACE:+--gc-grace "$STACK_GC_GRACE"} ${STACK_WORKERS:+--workers "$STACK_WORKERS"} \
    ${STACK_SERVE_ARGS:-}
}
instance_env() {
  echo "S3PRESIGN_METADATA_URL=$PG_URL" \
    "S3PRESIGN_BLOB_ACCESS_KEY_ID=$RGW_ACCESS_KEY" "S3PRESIGN_BLOB_SECRET_ACCESS_KEY=$RGW_SECRET_KEY"
}

: >"$DIR/instances.pids"
BACKENDS=()
for i in $(seq 1 "$N"); do
  mkdir -p "$DIR/instance-$i"
  # shellcheck disable=SC2046 # word splitting of the generated arguments is intended (no spaces in paths)
  env $(instance_env) "$PY" -m s3presign serve --port 0 \
    --master-key-file "$DIR/master.key" --no-access-log $(instance_args "$i") \
    >"$DIR/instance-$i/out" 2>"$DIR/instance-$i/log" &
  echo "instance-$i $!" >>"$DIR/instances.pids"
done
for i in $(seq 1 "$N"); do
  url=""
  for _ in $(seq 1 300); do
    url=$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$DIR/instance-$i/out" 2>/dev/null || true)
    [ -n "$url" ] && break
    pid=$(sed -n "s/^instance-$i //p" "$DIR/instances.pids")
    kill -0 "$pid" 2>/dev/null || die "instance $i exited; see $DIR/instance-$i/log"
    sleep 0.1
  done
  [ -n "$url" ] || die "instance $i did not start; see $DIR/instance-$i/log"
  BACKENDS+=("$url")
done

LB_TLS_PEM=$([ "${STACK_TLS:-0}" = 1 ] && echo "$DIR/lb.pem" || true) \
  "$HERE/haproxy.sh" start "$DIR/lb" "${BACKENDS[@]}" >"$DIR/lb.out" 2>"$DIR/lb.log"
. "$DIR/lb/env"
# wait until the balancer sees every instance healthy (2 checks, 1 s apart)
for _ in $(seq 1 100); do
  code=$(curl -sk -o /dev/null -w '%{http_code}' "$LB_ENDPOINT/" || true)
  [ "$code" = 403 ] && break
  sleep 0.1
done
trap - ERR

cat >"$DIR/env" <<EOF
S3_ENDPOINT=$LB_ENDPOINT
$( [ -n "${LB_HTTP_ENDPOINT:-}" ] && echo "S3_HTTP_ENDPOINT=$LB_HTTP_ENDPOINT" )
S3_CREDENTIALS_FILE=$DIR/credentials
S3_MASTER_KEY_FILE=$DIR/master.key
$( [ "${STACK_TLS:-0}" = 1 ] && echo "S3_CA_BUNDLE=$DIR/lb.crt" )
INSTANCES=$(IFS=,; echo "${BACKENDS[*]}")
PG_URL=$PG_URL
RGW_ENDPOINT=$RGW_ENDPOINT
RGW_BUCKET=$BUCKET
EOF
chmod 600 "$DIR/env"
log "up in $("$PY" -c "print(round($(date +%s.%N) - $T0, 1))") s: $LB_ENDPOINT -> ${BACKENDS[*]} (stop: $0 stop $DIR)"
cat "$DIR/env"
