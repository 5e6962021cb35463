#!/usr/bin/env bash
# HAProxy (Debian's) as the one hostname in front of N `s3presign serve` instances.
#
# usage: deploy/haproxy.sh config PORT BACKEND...   print the configuration (BACKEND = HOST:PORT)
#        deploy/haproxy.sh start DIR BACKEND...     write DIR/haproxy.cfg, start on a free loopback port;
#                                                   prints LB_ENDPOINT=... lines (also DIR/env)
#        deploy/haproxy.sh reload DIR BACKEND...    new backend list, same port (seamless: haproxy -sf)
#        deploy/haproxy.sh stop DIR                 stop it (by the PID in DIR/haproxy.pid)
# env:   LB_TLS_PEM=FILE   serve HTTPS with this PEM (certificate + key): SSE-C needs TLS to the client
#        LB_BACKEND_TLS=1  the instances serve HTTPS themselves (verify none: loopback, self-signed)
#        LB_ALSO_HTTP=1    with LB_TLS_PEM: also plain HTTP on a second port (LB_HTTP_ENDPOINT)
#        LB_CHECK_INTERVAL (default 1s)
#
# Round robin; a failing instance leaves the rotation after 2 failed checks of GET / (any answer
# below 500 is healthy: anonymous GET / is 403 AccessDenied on a live S3 endpoint) and returns
# after 2 good ones. The Host header goes through unchanged: pre-signed URLs sign it, so every
# instance must see the host the client signed. X-Forwarded-For and X-Forwarded-Proto are set.
# Only connection failures are retried (on another instance): a request whose bytes reached an
# instance is never replayed, since PUT bodies are streamed.
set -euo pipefail
log() { echo "[haproxy] $*" >&2; }
die() { echo "[haproxy] error: $*" >&2; exit 1; }
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

config() {  # PORT STATS_SOCKET [HTTP_PORT] BACKEND...
  local port=$1 sock=$2; shift 2
  local bind="bind 127.0.0.1:$port" proto=http ssl="" i=0
  if [ -n "${LB_TLS_PEM:-}" ]; then bind="$bind ssl crt $LB_TLS_PEM alpn http/1.1"; proto=https; fi
  if [ -n "${LB_TLS_PEM:-}" ] && [ "${LB_ALSO_HTTP:-0}" = 1 ]; then  # the plain port says so to the instances
    bind="$bind
    bind 127.0.0.1:$1"; proto="%[ssl_fc,iif(https,http)]"; shift
  fi
  [ "${LB_BACKEND_TLS:-0}" = 1 ] && ssl=" ssl verify none"
  cat <<EOF
global
    maxconn 4096
    log stderr format short local0 warning
${sock:+    stats socket $sock mode 600 level admin}
    # large PUT bodies stream through; buffers stay at their default size (bounded memory)

defaults
    mode http
    log global
    option httplog
    option dontlognull
    option forwardfor
    option http-keep-alive
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    timeout http-request 15s
    timeout http-keep-alive 15s
    timeout queue 30s
    timeout check 3s
    retries 2
    retry-on conn-failure
    option redispatch 1
    # what HAProxy answers itself (no instance in rotation, a timeout) is S3's XML, so SDKs see a code
$(for e in "503 ServiceUnavailable Service is unable to handle request." \
           "502 InternalError We encountered an internal error. Please try again." \
           "504 InternalError We encountered an internal error. Please try again." \
           "408 RequestTimeout Your socket connection to the server was not read from or written to within the timeout period."; do
    set -- $e; st=$1 code=$2; shift 2
    echo "    http-error status $st content-type application/xml string \"<?xml version=\\\"1.0\\\" encoding=\\\"UTF-8\\\"?><Error><Code>$code</Code><Message>$*</Message></Error>\""
  done)

frontend s3
    $bind
    http-request set-header X-Forwarded-Proto $proto
    # An instance that answers an error before reading the request body (a 503 while PostgreSQL is
    # away, with Expect: 100-continue: the client never sends it) closes its connection; HAProxy
    # drops that hop-by-hop header, so the client would reuse a connection whose request never
    # ended and see its retry fail as a closed connection. Tell the client to close it too.
    http-request set-var(txn.body) str(1) if { req.hdr(transfer-encoding) -m found }
    http-request set-var(txn.body) str(1) if { req.hdr(content-length) -m found } !{ req.hdr(content-length) 0 }
    http-response set-header Connection close if { status ge 300 } { var(txn.body) -m found }
    default_backend instances

backend instances
    balance roundrobin
    option httpchk
    http-check send meth GET uri /
    http-check expect rstatus ^[234]
    default-server inter ${LB_CHECK_INTERVAL:-1s} fall 2 rise 2$ssl
EOF
  for b in "$@"; do
    i=$((i + 1))
    echo "    server s$i $b check"
  done
}

cmd=${1:-}; [ -n "$cmd" ] || usage
case "$cmd" in
  config)
    [ $# -ge 3 ] || usage
    port=$2; shift 2
    config "$port" "" "$@"
    exit 0 ;;
esac
DIR=${2:-}; [ -n "$DIR" ] || usage
DIR=$(realpath -m "$DIR"); shift 2
CFG=$DIR/haproxy.cfg PIDF=$DIR/haproxy.pid
ours() { local pid; pid=$(cat "$PIDF" 2>/dev/null || true); [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
  && grep -qaF "$CFG" "/proc/$pid/cmdline" 2>/dev/null; }
command -v haproxy >/dev/null || die "haproxy not found: apt-get install haproxy"

case "$cmd" in
  start|reload)
    [ $# -ge 1 ] || die "name at least one backend HOST:PORT"
    mkdir -p "$DIR"
    if [ "$cmd" = reload ]; then
      ours || die "no haproxy running for $DIR"
      port=$(sed -n 's/^LB_PORT=//p' "$DIR/env")
      http_port=$(sed -n 's/^LB_HTTP_PORT=//p' "$DIR/env")
    else
      ours && die "already running for $DIR (pid $(cat "$PIDF")); use reload or stop"
      free() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
      port=$(free); http_port=""
      [ -n "${LB_TLS_PEM:-}" ] && [ "${LB_ALSO_HTTP:-0}" = 1 ] && http_port=$(free)
    fi
    config "$port" "$DIR/haproxy.sock" $http_port "$@" >"$CFG.new"
    haproxy -c -q -f "$CFG.new" || die "invalid configuration $CFG.new"
    mv "$CFG.new" "$CFG"
    if [ "$cmd" = reload ]; then
      old=$(cat "$PIDF")
      haproxy -D -f "$CFG" -p "$PIDF" -sf "$old" 2>>"$DIR/haproxy.log"
    else
      haproxy -D -f "$CFG" -p "$PIDF" 2>>"$DIR/haproxy.log"
    fi
    for _ in $(seq 1 50); do ours && break; sleep 0.1; done
    ours || die "haproxy did not start; see $DIR/haproxy.log"
    scheme=http; [ -n "${LB_TLS_PEM:-}" ] && scheme=https
    cat >"$DIR/env" <<EOF
LB_ENDPOINT=$scheme://127.0.0.1:$port
LB_PORT=$port
LB_PID=$(cat "$PIDF")
LB_STATS_SOCKET=$DIR/haproxy.sock
LB_BACKENDS=$(IFS=,; echo "$*")
${http_port:+LB_HTTP_ENDPOINT=http://127.0.0.1:$http_port}
${http_port:+LB_HTTP_PORT=$http_port}
EOF
    log "$cmd: $scheme://127.0.0.1:$port -> $* (stop: $0 stop $DIR)"
    cat "$DIR/env" ;;
  stop)
    if ours; then
      pid=$(cat "$PIDF"); kill -TERM "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" || true
      log "stopped ($pid)"
    fi ;;
  *) usage ;;
esac
