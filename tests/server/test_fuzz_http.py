"""A bounded fuzzer of the request parser, through the real server: a valid
pre-signed request damaged at the byte level is answered with S3's XML and a
4xx (or with the object, when the damage changed nothing signed), never a 5xx,
never plain text, never a traceback in the log."""

from __future__ import annotations

import socket
from typing import Iterator
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import Endpoint, start_server


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> Iterator[Endpoint]:
    server = start_server(tmp_path_factory.mktemp("fuzz") / "data", "--idle-timeout", "1", "--header-timeout", "1",
                          "--body-timeout", "1")
    server.client().create_bucket(Bucket="fuzz")
    server.client().put_object(Bucket="fuzz", Key="o.txt", Body=b"x" * 1024)
    yield server
    server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log and " 500 " not in log, log[-3000:]


def _template(server: Endpoint) -> bytes:
    url = server.presigner().presign("GET", "fuzz", "o.txt").url
    parts = urlsplit(url)
    return (f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"User-Agent: fuzz\r\nContent-Length: 0\r\n\r\n").encode()


def _exchange(server: Endpoint, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # nothing more is coming: an incomplete request ends here
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    return out


@st.composite
def damage(draw, template: bytes) -> bytes:
    data = bytearray(template)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "token"]))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        else:
            data[at:at] = draw(st.sampled_from([
                b"\r\n", b"\r\nContent-Length: -1", b"\r\nTransfer-Encoding: chunked", b"%C2%B2", b"&X-Amz-Expires=1",
                b"&encryption", b"\xff\xfe", b"\r\nAuthorization: AWS x:y", b"&Signature=\xc3\xa9", b"\r\n\r\n",
                b"\r\nContent-Length: 99999999999999999999", b"\r\nExpect: 100-continue",
            ]))
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_requests_get_s3_answers(fuzzed, data):
    request = data.draw(damage(_template(fuzzed)))
    response = _exchange(fuzzed, request)
    if not response:
        return  # the client closed before a request was complete: nothing to answer
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    for answer in response.split(b"HTTP/1.1 ")[1:]:
        status = int(answer[:3])
        assert status < 500, response[:600]
        head = answer.partition(b"\r\n\r\n")[0].lower()
        assert b"text/plain" not in head
        if status >= 400:
            assert b"content-type: application/xml" in head, response[:600]
