#!/usr/bin/env bash
# A throw-away single-node Ceph cluster with an S3 endpoint: 1 monitor, 1 memstore OSD (data in
# RAM, nothing on disk but logs) and radosgw, all on 127.0.0.1, free ports, everything under DIR.
#
# usage: deploy/rgw.sh start DIR     build the cluster from scratch and start it; prints KEY=VALUE
#                                    lines (also written to DIR/env, shell-sourceable, and DIR/env.json)
#        deploy/rgw.sh stop DIR      stop every daemon recorded in DIR/pids, by PID (rgw, osd, mon)
#        deploy/rgw.sh stop-rgw DIR  stop radosgw only (the cluster keeps its data)
#        deploy/rgw.sh start-rgw DIR start radosgw again on the same port; waits until it answers
#        deploy/rgw.sh env DIR       print the KEY=VALUE lines of a running cluster
# env:   RGW_ACCESS_KEY / RGW_SECRET_KEY (default: random), RGW_UID (default s3presign),
#        RGW_MEMSTORE_BYTES (OSD capacity, default 4 GiB: memstore holds the data in RAM)
# Needs Debian's radosgw ceph-mon ceph-osd ceph-common (and python3 to pick free ports).
set -euo pipefail

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
DIR=$(realpath -m "$DIR")
CONF=$DIR/ceph.conf
PIDS=$DIR/pids

log() { echo "[rgw] $*" >&2; }
die() { echo "[rgw] error: $*" >&2; exit 1; }

# A PID is ours only if that process still runs a ceph daemon on this DIR's config: PIDs get reused.
ours() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null && grep -qaF "$CONF" "/proc/$pid/cmdline" 2>/dev/null
}

stop_one() {  # name pid
  local name=$1 pid=$2
  if ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do ours "$pid" || break; sleep 0.1; done
    ours "$pid" && kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "stopped $name ($pid)"
  fi
}

pid_of() { sed -n "s/^$1 //p" "$PIDS" 2>/dev/null | tail -1; }

endpoint_up() { curl -s -o /dev/null --max-time 2 "$(val RGW_ENDPOINT)/"; }

val() { sed -n "s/^$1=//p" "$DIR/env" | tail -1; }

start_rgw() {
  radosgw -c "$CONF" -n client.rgw.a --client-mount-timeout 60
  local pid=""
  for _ in $(seq 1 100); do
    pid=$(cat "$DIR/run/client.rgw.a.pid" 2>/dev/null || true)
    [ -n "$pid" ] && break
    sleep 0.05
  done
  [ -n "$pid" ] || die "radosgw wrote no pid file; see $DIR/log/client.rgw.a.log"
  sed -i '/^rgw.a /d' "$PIDS"
  echo "rgw.a $pid" >>"$PIDS"
  for _ in $(seq 1 600); do
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$RGW_PORT/" && return 0
    kill -0 "$pid" 2>/dev/null || die "radosgw exited; see $DIR/log/client.rgw.a.log"
    sleep 0.1
  done
  die "radosgw did not answer on port $RGW_PORT within 60 s"
}

case "$cmd" in
  stop)
    [ -f "$PIDS" ] || { log "nothing recorded in $PIDS"; exit 0; }
    for name in rgw.a osd.0 mon.a; do
      pid=$(pid_of "$name"); [ -n "$pid" ] && stop_one "$name" "$pid"
    done
    : >"$PIDS"
    exit 0 ;;
  stop-rgw)
    pid=$(pid_of rgw.a); [ -n "$pid" ] && stop_one rgw.a "$pid"
    sed -i '/^rgw.a /d' "$PIDS"
    exit 0 ;;
  start-rgw)
    [ -f "$DIR/env" ] || die "no cluster in $DIR (run: $0 start $DIR)"
    RGW_PORT=$(val RGW_PORT)
    pid=$(pid_of rgw.a)
    if [ -n "$pid" ] && ours "$pid"; then log "radosgw already running ($pid)"; exit 0; fi
    start_rgw
    log "radosgw up again on port $RGW_PORT"
    exit 0 ;;
  env)
    [ -f "$DIR/env" ] || die "no cluster in $DIR"
    cat "$DIR/env"; exit 0 ;;
  start) ;;
  *) die "unknown command '$cmd' (start, stop, stop-rgw, start-rgw, env)" ;;
esac

for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool curl python3; do
  command -v "$b" >/dev/null || die "$b not found: apt-get install radosgw ceph-mon ceph-osd ceph-common curl"
done
if [ -f "$PIDS" ]; then "$0" stop "$DIR" >/dev/null 2>&1 || true; fi
rm -rf "$DIR/mon.a" "$DIR/osd.0" "$DIR/run" "$DIR/log" "$DIR/env" "$DIR/env.json"
mkdir -p "$DIR"/{run,log,mon.a,osd.0,rgw.a,crash}
: >"$PIDS"
T0=$(date +%s.%N)

# Free ports, held together while picked so the two differ (a small race remains until bind).
read -r MON_PORT RGW_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
rand() { python3 -c "import secrets,string as s; print(''.join(secrets.choice($1) for _ in range($2)))"; }
UID_=${RGW_UID:-s3presign}
ACCESS_KEY=${RGW_ACCESS_KEY:-$(rand 's.ascii_uppercase+s.digits' 20)}
SECRET_KEY=${RGW_SECRET_KEY:-$(rand 's.ascii_letters+s.digits' 40)}
FSID=$(python3 -c 'import uuid; print(uuid.uuid4())')

cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
# The OSD's messengers take free ports in ms_bind_port_min..max (6800-7300), skipping used ones.
auth cluster required = none
auth service required = none
auth client required = none
# With auth none only the crc on-wire mode works; radosgw asks for 'secure' by default.
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
# The monitor stops below mon_data_avail_crit (5% free by default); a shared /tmp may be fuller.
mon data avail warn = 2
mon data avail crit = 1
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
crash dir = $DIR/crash
keyring = $DIR/keyring
log to stderr = false
err to stderr = false
debug ms = 0

[mon]
mon data = $DIR/\$name
mon cluster log file = $DIR/log/cluster.log

[osd]
osd data = $DIR/\$name
osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-4294967296}
osd memory target = 939524096
# RGW's object names need more than the 256 bytes that memstore allows by default
osd max object name len = 460
osd max object namespace len = 64

[client]
rgw data = $DIR/rgw.a
# tcp_nodelay: otherwise a small GET's body waits behind its headers for the client's delayed ACK (~40 ms)
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw dns name = localhost
rgw enable usage log = false
rgw crypt require ssl = false
EOF

log "mon"
ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
  --cap mgr 'allow *' >/dev/null
monmaptool --create --clobber --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
ceph-mon -c "$CONF" -i a
for _ in $(seq 1 100); do [ -s "$DIR/run/mon.a.pid" ] && break; sleep 0.05; done
echo "mon.a $(cat "$DIR/run/mon.a.pid")" >>"$PIDS"

log "osd"
OSD_UUID=$(python3 -c 'import uuid; print(uuid.uuid4())')
OSD_ID=$(timeout 60 ceph -c "$CONF" --connect-timeout 30 osd new "$OSD_UUID")
[ "$OSD_ID" = 0 ] || die "unexpected osd id $OSD_ID"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/osd.0.mkfs.log" 2>&1
ceph-osd -c "$CONF" -i 0
for _ in $(seq 1 100); do [ -s "$DIR/run/osd.0.pid" ] && break; sleep 0.05; done
echo "osd.0 $(cat "$DIR/run/osd.0.pid")" >>"$PIDS"
timeout 120 bash -c "until ceph -c '$CONF' osd dump 2>/dev/null | grep -q '^osd.0 up'; do sleep 0.2; done" \
  || die "osd.0 did not come up; see $DIR/log/osd.0.log"

log "radosgw"
start_rgw
radosgw-admin -c "$CONF" -n client.admin user create --uid="$UID_" --display-name="$UID_" \
  --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >"$DIR/user.json" 2>"$DIR/log/user-create.err" \
  || die "could not create user $UID_; see $DIR/log/user-create.err"

cat >"$DIR/env" <<EOF
RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
RGW_PORT=$RGW_PORT
RGW_ACCESS_KEY=$ACCESS_KEY
RGW_SECRET_KEY=$SECRET_KEY
RGW_REGION=us-east-1
RGW_UID=$UID_
RGW_CEPH_CONF=$CONF
RGW_PIDS=$PIDS
EOF
python3 - "$DIR/env" "$DIR/env.json" <<'EOF'
import json, sys
pairs = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[1]) if "=" in l)
json.dump(pairs, open(sys.argv[2], "w"), indent=1)
EOF
chmod 600 "$DIR/env" "$DIR/env.json"
log "up in $(python3 -c "import sys; print(round($(date +%s.%N) - $T0, 1))") s on http://127.0.0.1:$RGW_PORT (stop: $0 stop $DIR)"
cat "$DIR/env"
