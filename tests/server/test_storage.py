"""Storage guarantees: atomic replacement under disconnects, crashes and
concurrent writers; encryption at rest; tampering never returned as data."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from .helpers import Endpoint, error_of, start_server


def _blob_files(endpoint: Endpoint) -> set[Path]:
    return {p for p in (endpoint.data_dir / "blobs").rglob("*") if p.is_file() and p.parent.name != "tmp"}


def _tmp_files(endpoint: Endpoint, bucket: str = "") -> list[Path]:
    return list((endpoint.data_dir / "blobs" / "tmp").iterdir())


def _start_partial_put(endpoint: Endpoint, bucket: str, key: str, total: int, sent: int) -> socket.socket:
    """A pre-signed PUT announcing ``total`` bytes that sends only ``sent`` of them."""
    url = httpx.URL(endpoint.presigner().presign("PUT", bucket, key).url)
    sock = socket.create_connection(("127.0.0.1", endpoint.port))
    head = (f"PUT {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.netloc.decode()}\r\n"
            f"Content-Length: {total}\r\n\r\n")
    sock.sendall(head.encode() + b"P" * sent)
    return sock


def _wait_until(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_client_disconnect_mid_upload_keeps_previous_version(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="victim", Body=b"version one")
    sock = _start_partial_put(endpoint, bucket, "victim", total=8 << 20, sent=3 << 20)
    _wait_until(lambda: len(_tmp_files(endpoint, bucket)) == 1)  # the upload is in progress
    sock.close()
    _wait_until(lambda: not _tmp_files(endpoint, bucket))  # ...and cleaned up when the client left
    assert s3.get_object(Bucket=bucket, Key="victim")["Body"].read() == b"version one"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["victim"]


def test_killed_client_process_leaves_nothing_partial(endpoint, bucket):
    url = endpoint.presigner().presign("PUT", bucket, "killed").url
    uploader = subprocess.Popen([sys.executable, "-c", f"""
import time, httpx
def body():
    for _ in range(1000):
        yield b"K" * 65536
        time.sleep(0.01)
httpx.put({url!r}, content=body(), headers={{"Content-Length": str(1000 * 65536)}}, timeout=60)
"""])
    _wait_until(lambda: len(_tmp_files(endpoint, bucket)) == 1)
    uploader.send_signal(signal.SIGKILL)
    uploader.wait()
    _wait_until(lambda: not _tmp_files(endpoint, bucket))
    assert endpoint.client().list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_server_crash_mid_upload_keeps_previous_version(tmp_path):
    server = start_server(tmp_path / "data")
    try:
        s3 = server.client()
        s3.create_bucket(Bucket="crash")
        s3.put_object(Bucket="crash", Key="k", Body=b"durable")
        sock = _start_partial_put(server, "crash", "k", total=8 << 20, sent=2 << 20)
        _wait_until(lambda: len(_tmp_files(server, "crash")) == 1)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        sock.close()
    finally:
        server.stop()
    restarted = start_server(tmp_path / "data")
    try:
        s3 = restarted.client()
        assert s3.get_object(Bucket="crash", Key="k")["Body"].read() == b"durable"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="crash")["Contents"]] == ["k"]
    finally:
        restarted.stop()


def test_concurrent_writers_and_readers_never_see_a_torn_object(endpoint, bucket):
    s3 = endpoint.client(max_pool_connections=16)
    size = 300_000
    bodies = [bytes([65 + i]) * size for i in range(4)]
    s3.put_object(Bucket=bucket, Key="hot", Body=bodies[0])
    problems: list[str] = []
    stop = threading.Event()

    def writer(body: bytes) -> None:
        for _ in range(5):
            s3.put_object(Bucket=bucket, Key="hot", Body=body)

    def reader() -> None:
        while not stop.is_set():
            got = s3.get_object(Bucket=bucket, Key="hot")
            data = got["Body"].read()
            if data not in bodies or got["ETag"] != f'"{hashlib.md5(data).hexdigest()}"':
                problems.append(f"torn read: {len(data)} bytes, {set(data)!r}")

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(b,)) for b in bodies]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not problems
    s3.put_object(Bucket=bucket, Key="hot", Body=b"last")
    assert s3.get_object(Bucket=bucket, Key="hot")["Body"].read() == b"last"
    assert not _tmp_files(endpoint, bucket)


# --- at rest ------------------------------------------------------------------------------------


def test_no_plaintext_byte_under_the_data_dir(endpoint, bucket):
    marker = os.urandom(16).hex().encode() * 64  # 2 KiB, easy to spot even in part
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="default", Body=marker)  # no SSE asked: SSE-S3 all the same
    s3.put_object(Bucket=bucket, Key="explicit", Body=marker, ServerSideEncryption="AES256")
    endpoint.client("s3").put_object(Bucket=bucket, Key="sigv2", Body=marker)
    presigned = endpoint.presigner().presign("PUT", bucket, "presigned")
    assert httpx.put(presigned.url, content=marker).status_code == 200
    s3.put_object(Bucket=bucket, Key="sse-c", Body=marker, SSECustomerAlgorithm="AES256", SSECustomerKey="k" * 32)
    got = s3.get_object(Bucket=bucket, Key="default")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == marker
    probe = marker[:32]
    for path in endpoint.data_dir.rglob("*"):
        if path.is_file():
            assert probe not in path.read_bytes(), path


def test_tampered_bytes_are_never_returned(endpoint, bucket):
    s3 = endpoint.client()
    small = os.urandom(100_000)
    before = _blob_files(endpoint)
    s3.put_object(Bucket=bucket, Key="small", Body=small)
    (stored,) = _blob_files(endpoint) - before
    data = bytearray(stored.read_bytes())
    data[70_000] ^= 0x01
    stored.write_bytes(bytes(data))  # a new inode: the server re-reads it
    err = error_of(httpx.get(endpoint.presigner().presign("GET", bucket, "small").url))
    assert (err["status"], err["Code"]) == (500, "InternalError")


def test_tampered_large_object_is_cut_off(endpoint, bucket):
    big = os.urandom(3 << 20)
    before = _blob_files(endpoint)
    endpoint.client().put_object(Bucket=bucket, Key="big", Body=big)
    (stored,) = _blob_files(endpoint) - before
    data = bytearray(stored.read_bytes())
    data[2_500_000] ^= 0x80
    stored.write_bytes(bytes(data))
    url = endpoint.presigner().presign("GET", bucket, "big").url
    received = b""
    with pytest.raises(httpx.HTTPError):
        with httpx.stream("GET", url) as resp:
            for chunk in resp.iter_bytes():
                received += chunk
    assert len(received) < 2_500_000 and big.startswith(received)
