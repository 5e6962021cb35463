"""The HTTP layer with real sockets against the real server (short timeouts so
the tests take seconds): every refusal is S3's XML, slow and idle clients are
closed on time while others keep being served, and connections over the limit
get 503 SlowDown, never a dropped socket."""

from __future__ import annotations

import socket
import time
from typing import Iterator

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from defusedxml import ElementTree

from .helpers import MAIN, Endpoint, start_server

TIMEOUT = 1.0
SLACK = 2.5  # sweeper tick + scheduling on a loaded machine


@pytest.fixture(scope="module")
def tight(tmp_path_factory) -> Iterator[Endpoint]:
    server = start_server(
        tmp_path_factory.mktemp("tight") / "data",
        "--idle-timeout", str(TIMEOUT), "--header-timeout", str(TIMEOUT), "--body-timeout", str(TIMEOUT),
        "--send-timeout", str(TIMEOUT), "--send-buffer", "65536", "--max-connections", "12",
    )
    server.client().create_bucket(Bucket="tight")
    yield server
    server.stop()


def _connect(endpoint: Endpoint) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", endpoint.port), timeout=10)
    return sock


def _read_all(sock: socket.socket, limit: float = 10) -> tuple[bytes, float]:
    """Everything until the server closes; (data, seconds it took)."""
    started = time.monotonic()
    sock.settimeout(limit)
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return out, time.monotonic() - started


def _exchange(endpoint: Endpoint, data: bytes) -> bytes:
    sock = _connect(endpoint)
    try:
        sock.sendall(data)
        return _read_all(sock)[0]
    finally:
        sock.close()


def _xml_error(response: bytes) -> tuple[int, str]:
    """(status, S3 error code) of the LAST response in ``response``."""
    head, _, body = response.rpartition(b"HTTP/1.1 ")[2].partition(b"\r\n\r\n")
    status = int(head.split(b" ", 1)[0])
    assert b"content-type: application/xml" in head.lower(), response
    return status, ElementTree.fromstring(body).findtext("Code")


def _signed_put_head(endpoint: Endpoint, path: str, body: bytes) -> bytes:
    request = AWSRequest(method="PUT", url=f"{endpoint.url}{path}", data=body)
    S3SigV4Auth(BotoCredentials(*MAIN), "s3", endpoint.region).add_auth(request)
    lines = [f"PUT {path} HTTP/1.1", f"Host: 127.0.0.1:{endpoint.port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in ("host", "content-length")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- malformed framing: S3's XML, never uvicorn's text -----------------------------------


@pytest.mark.parametrize("request_bytes", [
    b"PUT /tight/k HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"PUT /tight/k HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
    b"PUT /tight/k HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
    b"PUT /tight/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"PUT /tight/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    b"PUT /tight/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /tight HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 not http\r\n\r\n",
    b"GET /tight HTTP/9.9\r\nHost: x\r\n\r\n",
])
def test_malformed_framing_gets_s3_xml(tight, request_bytes):
    response = _exchange(tight, request_bytes)
    assert response.startswith(b"HTTP/1.1 4"), response
    status, code = _xml_error(response)
    assert status == 400 and code, response
    assert b"text/plain" not in response
    time.sleep(0.4)  # the access log is written in batches
    assert f" 400 {code} " in tight.log.read_text()


def test_body_longer_than_content_length(tight):
    """The declared body is the request; the bytes after it are refused in XML."""
    response = _exchange(tight, _signed_put_head(tight, "/tight/longer", b"ab") + b"ab-extra-garbage")
    assert response.startswith(b"HTTP/1.1 200") and response.count(b"HTTP/1.1 ") == 2
    assert _xml_error(response) == (400, "BadRequest")
    assert b"text/plain" not in response
    assert tight.client().get_object(Bucket="tight", Key="longer")["Body"].read() == b"ab"


def test_header_section_too_large(tight):
    response = _exchange(tight, b"GET /tight HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    assert _xml_error(response) == (400, "RequestHeaderSectionTooLarge")


# --- timeouts ------------------------------------------------------------------------------


def test_idle_connection_is_closed(tight):
    sock = _connect(tight)
    data, took = _read_all(sock)
    sock.close()
    assert data == b"" and TIMEOUT * 0.8 < took < TIMEOUT + SLACK


def test_keep_alive_connection_is_closed_after_idle(tight):
    sock = _connect(tight)
    sock.sendall(b"GET /tight/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(5)
    first = b""
    while b"\r\n\r\n" not in first:
        first += sock.recv(65536)
    head, _, body = first.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 403") and b"connection: close" not in head.lower()
    data, took = _read_all(sock)
    sock.close()
    assert data == b"" and took < TIMEOUT + SLACK


def test_slow_headers_get_request_timeout(tight):
    sock = _connect(tight)
    started = time.monotonic()
    sock.sendall(b"GET /tight HTTP/1.1\r\nHost: x\r\n")
    for _ in range(3):  # a byte now and then never resets the header deadline
        time.sleep(TIMEOUT / 3)
        try:
            sock.sendall(b"X")
        except OSError:
            break
    data, _ = _read_all(sock)
    sock.close()
    assert _xml_error(data) == (400, "RequestTimeout")
    assert time.monotonic() - started < TIMEOUT + SLACK


def test_stalled_body_gets_request_timeout_and_stores_nothing(tight):
    body = b"0123456789" * 100
    sock = _connect(tight)
    sock.sendall(_signed_put_head(tight, "/tight/stalled", body) + body[:10])
    data, took = _read_all(sock)
    sock.close()
    assert _xml_error(data) == (400, "RequestTimeout")
    assert took < TIMEOUT + SLACK
    assert tight.client().list_objects_v2(Bucket="tight", Prefix="stalled")["KeyCount"] == 0


def test_client_that_stops_reading_is_cut(tight):
    size = 16 * 1024 * 1024
    tight.client().put_object(Bucket="tight", Key="big", Body=b"x" * size)
    url = tight.presigner().presign("GET", "tight", "big").url
    target = url.split(str(tight.port), 1)[1]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", tight.port))
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{tight.port}\r\n\r\n".encode())
    time.sleep(TIMEOUT + SLACK)  # read nothing
    data, _ = _read_all(sock, limit=20)
    sock.close()
    assert data.startswith(b"HTTP/1.1 200")
    assert len(data) < size  # the server gave up on this client


def test_slow_clients_do_not_stop_others(tight):
    slow = [_connect(tight) for _ in range(5)]
    for sock in slow:
        sock.sendall(b"GET /tight HTTP/1.1\r\nHost: x\r\n")
    try:
        for _ in range(5):
            assert tight.client().list_objects_v2(Bucket="tight")["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        for sock in slow:
            sock.close()


# --- the connection limit -----------------------------------------------------------------


def test_connections_over_the_limit_get_slow_down(tmp_path):
    server = start_server(tmp_path / "data", "--max-connections", "4", "--idle-timeout", "30")
    try:
        held = [_connect(server) for _ in range(4)]
        time.sleep(0.2)
        for _ in range(3):
            response = _exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _xml_error(response) == (503, "SlowDown")
        for sock in held:
            sock.close()
        time.sleep(0.3)
        assert server.client().list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
        log = server.log.read_text()
        assert "Traceback" not in log and " 500 " not in log
        assert '"GET /" 503 SlowDown' in log
    finally:
        server.stop()
