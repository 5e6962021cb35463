"""deploy/rgw.sh, deploy/pg.sh and deploy/haproxy.sh: the real daemons, on loopback, stopped by PID."""

from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT

PG_SH = ROOT / "deploy" / "pg.sh"
LB_SH = ROOT / "deploy" / "haproxy.sh"


def run(*argv, timeout=120) -> dict[str, str]:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


# ---------------------------------------------------------------- rgw.sh


def test_rgw_sh_records_its_daemons_and_prints_its_endpoint(rgw):
    pids = dict(line.split() for line in (rgw.dir / "pids").read_text().splitlines())
    assert sorted(pids) == ["mon.a", "osd.0", "rgw.a"]
    for pid in pids.values():
        assert alive(int(pid))
        assert str(rgw.dir / "ceph.conf") in Path(f"/proc/{pid}/cmdline").read_text()
    assert json.loads((rgw.dir / "env.json").read_text())["RGW_ENDPOINT"] == rgw.endpoint
    assert rgw.endpoint.startswith("http://127.0.0.1:")
    assert oct((rgw.dir / "env").stat().st_mode & 0o777) == "0o600"  # it holds the secret key
    assert rgw.boto3().list_buckets()["Owner"]["ID"] == rgw.env["RGW_UID"]


# ---------------------------------------------------------------- pg.sh


@pytest.fixture
def pg_dir():
    if not any(Path(p, "pg_ctl").exists() for p in Path("/usr/lib/postgresql").glob("*/bin")):
        pytest.skip("PostgreSQL server binaries not installed: apt-get install postgresql")
    # not pytest's tmp_path: as root the server runs as user postgres, which cannot enter a 0700 parent
    directory = Path(tempfile.mkdtemp(prefix="s3presign-pg-"))
    directory.chmod(0o755)
    yield directory
    subprocess.run([str(PG_SH), "stop", str(directory)], capture_output=True, timeout=120)
    shutil.rmtree(directory, ignore_errors=True)


def test_pg_sh_start_restart_stop(pg_dir):
    import psycopg

    env = run(PG_SH, "start", pg_dir)
    url = env["PG_URL"]
    assert url.startswith("postgresql://s3presign:") and "@127.0.0.1:" in url
    with psycopg.connect(url, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE t (v text)")
        conn.execute("INSERT INTO t VALUES ('committed')")
    with pytest.raises(psycopg.OperationalError):  # TCP needs the password
        psycopg.connect(url.replace(url.split(":")[2].split("@")[0], "wrong"), connect_timeout=10).close()
    pid = int((pg_dir / "data" / "postmaster.pid").read_text().split()[0])
    run(PG_SH, "restart", pg_dir)  # immediate stop = crash recovery on start
    assert not alive(pid)
    with psycopg.connect(url, connect_timeout=10) as conn:  # same URL, same port
        assert conn.execute("SELECT v FROM t").fetchall() == [("committed",)]
    pid = int((pg_dir / "data" / "postmaster.pid").read_text().split()[0])
    run(PG_SH, "stop", pg_dir)
    assert not alive(pid)


# ---------------------------------------------------------------- haproxy.sh


class _Echo(BaseHTTPRequestHandler):
    """A backend that answers with the request line and headers it received, as JSON."""

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = json.dumps({"name": self.server.name, "path": self.path, "headers": dict(self.headers),
                              "body": len(body)}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_backends():
    servers = []
    for name in ("a", "b"):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        srv.name = name
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    yield servers
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def lb_dir(tmp_path):
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy not installed: apt-get install haproxy")
    yield tmp_path / "lb"
    subprocess.run([str(LB_SH), "stop", str(tmp_path / "lb")], capture_output=True, timeout=60)


def test_haproxy_round_robin_keeps_host_and_adds_forwarded_for(echo_backends, lb_dir):
    backends = [f"127.0.0.1:{s.server_address[1]}" for s in echo_backends]
    env = run(LB_SH, "start", lb_dir, *backends)
    lb = env["LB_ENDPOINT"]
    assert lb.startswith("http://127.0.0.1:")
    seen = []
    with httpx.Client(timeout=10) as client:
        for i in range(6):
            r = client.put(f"{lb}/bucket/key?X-Amz-Signature=abc", content=b"x" * 1000,
                           headers={"host": "s3.example.test:8443"})
            assert r.status_code == 200
            answer = r.json()
            seen.append(answer["name"])
            h = {k.lower(): v for k, v in answer["headers"].items()}
            assert h["host"] == "s3.example.test:8443"  # what the client signed, unchanged
            assert h["x-forwarded-for"] == "127.0.0.1"
            assert h["x-forwarded-proto"] == "http"
            assert answer["path"] == "/bucket/key?X-Amz-Signature=abc" and answer["body"] == 1000
    assert seen.count("a") == 3 and seen.count("b") == 3  # round robin


def test_haproxy_routes_around_a_dead_instance(echo_backends, lb_dir):
    backends = [f"127.0.0.1:{s.server_address[1]}" for s in echo_backends]
    lb = run(LB_SH, "start", lb_dir, *backends)["LB_ENDPOINT"]
    echo_backends[0].shutdown()
    echo_backends[0].server_close()  # instance a is gone: connections are refused
    with httpx.Client(timeout=10) as client:
        names = [client.get(f"{lb}/").json()["name"] for _ in range(6)]
    assert names == ["b"] * 6  # refused connections are retried on the other instance
    # after its health checks fail it leaves the rotation (the stats socket says so)
    deadline = time.monotonic() + 15
    while (state := server_states(lb_dir / "haproxy.sock")) != {"s1": "0", "s2": "2"}:
        assert time.monotonic() < deadline, state
        time.sleep(0.3)


def server_states(sock_path: Path) -> dict[str, str]:
    """srv_name -> srv_op_state (0 stopped, 2 running) from HAProxy's runtime API."""
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(sock_path))
        sock.sendall(b"show servers state instances\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    rows = [line.split() for line in data.decode().splitlines() if line and line[0].isdigit()]
    return {row[3]: row[5] for row in rows if len(row) > 5}


def test_presigned_url_through_haproxy(tmp_path, lb_dir):
    """The Host the client signed reaches the instance: pre-signed URLs work through the balancer."""
    from server.helpers import start_server

    instances = [start_server(tmp_path / f"i{i}" / "data") for i in range(2)]
    try:
        lb = run(LB_SH, "start", lb_dir, *[i.url.split("//")[1] for i in instances])["LB_ENDPOINT"]
        # the two instances do not share data yet (that is the storage engine's work), so each
        # request must work on whichever instance serves it: a bucket on each, then GETs of a missing key
        for inst in instances:
            inst.client().create_bucket(Bucket="shared")
        through = instances[0].presigner()
        through = type(through)(through.credentials, region="us-east-1", endpoint_url=lb, addressing_style="path")
        url = through.presign("GET", "shared", "no-such-key").url
        with httpx.Client(timeout=10) as client:
            for _ in range(4):
                r = client.get(url)
                assert r.status_code == 404 and b"NoSuchKey" in r.content, r.content  # signature accepted
            tampered = url.replace("no-such-key", "other-key")
            assert client.get(tampered).status_code == 403
    finally:
        for inst in instances:
            inst.stop()


# ---------------------------------------------------------------- stack.sh


def test_stack_sh_brings_up_the_distributed_shape_and_stops_it_all():
    from .conftest import ceph_missing

    if ceph_missing() or shutil.which("haproxy") is None or not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        pytest.skip("needs radosgw ceph-mon ceph-osd ceph-common postgresql haproxy")
    import sys

    import boto3
    from botocore.config import Config

    stack = ROOT / "deploy" / "stack.sh"
    directory = Path(tempfile.mkdtemp(prefix="s3presign-stack-"))
    pids: list[int] = []
    try:
        env = run("env", f"PYTHON={sys.executable}", stack, "start", directory, "2", timeout=300)
        assert env["S3_ENDPOINT"].startswith("http://127.0.0.1:")
        assert len(env["INSTANCES"].split(",")) == 2 and env["PG_URL"].startswith("postgresql://")
        pids = [int(p) for p in re.findall(r" (\d+)$", (directory / "instances.pids").read_text(), re.M)]
        pids += [int(line.split()[1]) for line in (directory / "rgw" / "pids").read_text().splitlines()]
        pids.append(int((directory / "lb" / "haproxy.pid").read_text()))
        pids.append(int((directory / "pg" / "data" / "postmaster.pid").read_text().split()[0]))
        assert len(pids) == 7 and all(alive(p) for p in pids)
        creds = dict(re.findall(r"(aws_\w+) = (\S+)", (directory / "credentials").read_text())[:2])
        s3 = boto3.client("s3", endpoint_url=env["S3_ENDPOINT"], region_name="us-east-1",
                          aws_access_key_id=creds["aws_access_key_id"],
                          aws_secret_access_key=creds["aws_secret_access_key"],
                          config=Config(retries={"max_attempts": 1}))
        for _ in range(4):  # every instance knows the users: signatures verify whichever answers
            assert s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
        # the blob bucket exists on RGW for the instances
        rgw = json.loads((directory / "rgw" / "env.json").read_text())
        backend = boto3.client("s3", endpoint_url=rgw["RGW_ENDPOINT"], region_name="us-east-1",
                               aws_access_key_id=rgw["RGW_ACCESS_KEY"], aws_secret_access_key=rgw["RGW_SECRET_KEY"])
        assert backend.head_bucket(Bucket=env["RGW_BUCKET"])["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        subprocess.run([str(stack), "stop", str(directory)], capture_output=True, timeout=300)
    assert pids and not any(alive(p) for p in pids)
    shutil.rmtree(directory, ignore_errors=True)
