"""`s3presign serve` as an operator meets it: help, errors, users, logging,
shutdown, virtual-hosted style and TLS."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import uuid

import httpx
import pytest

from .helpers import Endpoint, error_of, start_server


def _serve(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "s3presign", "serve", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def test_help_shows_examples():
    out = _serve("--help")
    assert out.returncode == 0
    assert "Examples:" in out.stdout and "s3presign serve --port 0" in out.stdout
    assert "--allow-insecure-ssec" in out.stdout and "127.0.0.1" in out.stdout


@pytest.mark.parametrize("make_bad", [
    lambda tmp: tmp / "a-file",             # exists and is a file
    lambda tmp: tmp / "a-file" / "below",   # below a file
])
def test_unusable_data_dir_is_one_line(tmp_path, make_bad):
    (tmp_path / "a-file").write_text("x")
    out = _serve("--data-dir", str(make_bad(tmp_path)), "--port", "0")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("s3presign: error: ") and "data dir" in lines[0]


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        out = _serve("--data-dir", str(tmp_path / "d"), "--port", str(taken.getsockname()[1]))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("s3presign: error: cannot listen on 127.0.0.1:")


def test_users_from_environment(tmp_path):
    env = {"AWS_ACCESS_KEY_ID": "ENVUSER", "AWS_SECRET_ACCESS_KEY": "env-secret"}
    server = start_server(tmp_path / "d", credentials=False, env=env)
    try:
        assert "from AWS_ACCESS_KEY_ID" in server.banner
        assert server.client(creds=("ENVUSER", "env-secret")).list_buckets()["Buckets"] == []
    finally:
        server.stop()


def test_generated_users_are_printed_and_kept(tmp_path):
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    banners = []
    for _ in range(2):
        server = start_server(tmp_path / "d", credentials=False, env=env)
        try:
            line = next(l for l in server.banner.splitlines() if "credentials (generated)" in l)
            access = line.split("AWS_ACCESS_KEY_ID=")[1].split()[0]
            secret = line.split("AWS_SECRET_ACCESS_KEY=")[1].split()[0]
            server.client(creds=(access, secret)).list_buckets()
            banners.append((access, secret))
        finally:
            server.stop()
    assert banners[0] == banners[1]
    assert (tmp_path / "d" / ".s3presign" / "credentials").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown_and_one_log_line_per_request(tmp_path, sig):
    server = start_server(tmp_path / "d")
    s3 = server.client()
    s3.create_bucket(Bucket="logged")
    s3.put_object(Bucket="logged", Key="k", Body=b"x")
    url = server.presigner().presign("GET", "logged", "k").url
    httpx.get(url)
    server.proc.send_signal(sig)
    assert server.proc.wait(20) == 0
    assert "s3presign serve: stopped" in server.proc.stdout.read()
    lines = server.log.read_text().splitlines()
    assert len(lines) == 3, lines
    assert '"PUT /logged" 200' in lines[0] and '"PUT /logged/k" 200' in lines[1] and '"GET /logged/k" 200' in lines[2]
    assert "X-Amz-Signature" not in server.log.read_text()  # a pre-signed URL is a credential


def test_binds_loopback_by_default(endpoint):
    assert endpoint.url.startswith("http://127.0.0.1:")


# --- virtual-hosted style --------------------------------------------------------------------


@pytest.mark.parametrize("sig", ["v4", "v2"])
def test_virtual_hosted_style(endpoint: Endpoint, bucket: str, sig: str):
    host = f"{bucket}.{endpoint.domain}:{endpoint.port}"
    put = endpoint.signed("PUT", "/vk/%C3%A9", body=b"virtual", host=host, sig=sig)
    assert put.status_code == 200, put.text
    got = endpoint.signed("GET", "/vk/%C3%A9", host=host, sig=sig)
    assert got.status_code == 200 and got.content == b"virtual"
    listed = endpoint.signed("GET", "/", query="list-type=2", host=host, sig=sig)
    assert b"<Key>vk/\xc3\xa9</Key>" in listed.content
    # the same object, path-style
    assert endpoint.client().get_object(Bucket=bucket, Key="vk/é")["Body"].read() == b"virtual"


# --- TLS and SSE-C ----------------------------------------------------------------------------


def test_ssec_needs_tls_by_default(strict_endpoint: Endpoint):
    s3 = strict_endpoint.client()
    name = f"c-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    key = os.urandom(32)
    headers = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }
    err = error_of(strict_endpoint.signed("PUT", f"/{name}/k", body=b"x", headers=headers))
    assert (err["status"], err["Code"]) == (400, "InvalidRequest")
    assert err["Message"].endswith("must be made over a secure connection.")


def test_tls_self_signed_with_boto3_trailing_checksums_and_ssec(tls_endpoint: Endpoint):
    server = tls_endpoint
    assert server.url.startswith("https://") and server.ca
    s3 = server.client()
    name = f"tls-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    body = os.urandom(300_000)
    # over HTTPS boto3 sends aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER, with a CRC32 trailer
    put = s3.put_object(Bucket=name, Key="k", Body=body)
    assert put["ChecksumCRC32"]
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == body
    key = os.urandom(32)
    s3.put_object(Bucket=name, Key="c", Body=body, SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    got = s3.get_object(Bucket=name, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert got["Body"].read() == body and got["SSECustomerAlgorithm"] == "AES256"
    url = server.presigner().presign("GET", name, "k").url
    assert httpx.get(url, verify=ssl.create_default_context(cafile=server.ca)).content == body


def test_workers_share_the_port_and_stop_together(tmp_path):
    server = start_server(tmp_path / "d", "--workers", "2")
    s3 = server.client()
    s3.create_bucket(Bucket="workers")
    for i in range(20):
        s3.put_object(Bucket="workers", Key=f"k{i}", Body=str(i).encode())
    # every worker sees every write: the data dir is the only state
    for i in range(20):
        assert httpx.get(server.presigner().presign("GET", "workers", f"k{i}").url).content == str(i).encode()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(20) == 0
    lines = server.log.read_text().splitlines()
    assert len(lines) == 41 and all(line.count('"') == 2 for line in lines)


def test_embedded_in_a_thread(tmp_path):
    """create_app + start_in_thread: the endpoint inside another program (the demo, tests)."""
    from s3presign import Credentials
    from s3presign.server.app import start_in_thread
    from s3presign.server.config import ServerConfig

    config = ServerConfig(data_dir=tmp_path / "embedded", users={"EMBED": Credentials("EMBED", "embedded-secret")},
                          access_log=None)
    with start_in_thread(config) as running:
        assert running.url.startswith("http://127.0.0.1:")
        endpoint = Endpoint(running.url, tmp_path / "embedded", tmp_path / "none.log", None, "us-east-1")  # type: ignore[arg-type]
        s3 = endpoint.client(creds=("EMBED", "embedded-secret"))
        s3.create_bucket(Bucket="embedded")
        s3.put_object(Bucket="embedded", Key="k", Body=b"in a thread")
        assert s3.get_object(Bucket="embedded", Key="k")["Body"].read() == b"in a thread"
