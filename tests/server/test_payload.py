"""The body checks S3 makes: aws-chunked (signed, with and without trailer, and
unsigned with trailer), Content-MD5 and x-amz-checksum-* (header and trailer).

The aws-chunked encoder and chunk signer here are written from AWS's
specification, independently of the server's decoder and the core's verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import zlib

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from s3presign.server import checksums
from s3presign.server.chunked import AwsChunkedDecoder

from .helpers import MAIN, Endpoint, error_of, send_raw

EMPTY = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


class ChunkSigner:
    """Signs an aws-chunked body the way the AWS SDKs do (chained signatures)."""

    def __init__(self, seed: str, stamp: str, scope: str, secret: str) -> None:
        date, region, service, _ = scope.split("/")
        key = _hmac(("AWS4" + secret).encode(), date)
        for part in (region, service, "aws4_request"):
            key = _hmac(key, part)
        self.key, self.stamp, self.scope, self.previous = key, stamp, scope, seed

    def chunk(self, data: bytes) -> str:
        text = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.stamp, self.scope, self.previous, EMPTY,
                          hashlib.sha256(data).hexdigest()])
        self.previous = hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()
        return self.previous

    def trailer(self, trailer_text: str) -> str:
        text = "\n".join(["AWS4-HMAC-SHA256-TRAILER", self.stamp, self.scope, self.previous,
                          hashlib.sha256(trailer_text.encode()).hexdigest()])
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def streaming_put(endpoint: Endpoint, path: str, chunks: list[bytes], *, trailer: bool = False,
                  signed: bool = True, corrupt=None, checksum: str | None = None) -> object:
    """PUT ``chunks`` as an aws-chunked body; ``corrupt(body) -> body`` tampers after signing."""
    data = b"".join(chunks)
    token = {
        (True, False): "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        (True, True): "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        (False, True): "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    }[(signed, trailer)]
    headers = {
        "X-Amz-Content-SHA256": token,
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
    }
    if trailer:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    request = AWSRequest(method="PUT", url=f"{endpoint.url}{path}", headers=headers)
    SigV4Auth(BotoCredentials(*MAIN), "s3", endpoint.region).add_auth(request)
    sent = dict(request.headers.items())
    seed = sent["Authorization"].rsplit("Signature=", 1)[1]
    scope = sent["Authorization"].split("Credential=")[1].split(",")[0].split("/", 1)[1]
    signer = ChunkSigner(seed, sent["X-Amz-Date"], scope, MAIN[1])
    body = b""
    for chunk in [*chunks, b""]:
        ext = f";chunk-signature={signer.chunk(chunk)}" if signed else ""
        body += f"{len(chunk):x}{ext}\r\n".encode() + chunk + (b"\r\n" if chunk else b"")
    if trailer:
        line = f"x-amz-checksum-crc32:{checksum or crc32_b64(data)}\n"
        body += line.replace("\n", "\r\n").encode()
        if signed:
            body += f"x-amz-trailer-signature:{signer.trailer(line)}\r\n".encode()
        body += b"\r\n"
    else:
        body += b"\r\n"
    if corrupt is not None:
        body = corrupt(body)
    sent["Content-Length"] = str(len(body))
    return send_raw(endpoint, "PUT", path, body=body, headers=sent)


CHUNKS = [b"a" * 9000, b"b" * 8192, b"tail"]


@pytest.mark.parametrize("trailer", [False, True])
def test_signed_streaming_upload(endpoint, bucket, trailer):
    resp = streaming_put(endpoint, f"/{bucket}/stream", CHUNKS, trailer=trailer)
    assert resp.status_code == 200, resp.text
    got = endpoint.client().get_object(Bucket=bucket, Key="stream", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(CHUNKS)
    assert got.get("ContentEncoding") is None  # aws-chunked is not stored
    if trailer:
        assert resp.headers["x-amz-checksum-crc32"] == crc32_b64(b"".join(CHUNKS))
        assert got["ChecksumCRC32"] == crc32_b64(b"".join(CHUNKS))


def test_signed_streaming_tampered_chunk(endpoint, bucket):
    err = error_of(streaming_put(endpoint, f"/{bucket}/t", CHUNKS, corrupt=lambda b: b.replace(b"bbbb", b"bbbc", 1)))
    assert (err["status"], err["Code"]) == (403, "SignatureDoesNotMatch")
    forged = streaming_put(endpoint, f"/{bucket}/t", CHUNKS, corrupt=lambda b: b.replace(b"chunk-signature=", b"chunk-signature=0", 1))
    assert (error_of(forged)["status"], error_of(forged)["Code"]) == (403, "SignatureDoesNotMatch")
    assert endpoint.client().list_objects_v2(Bucket=bucket)["KeyCount"] == 0  # nothing was stored


def test_signed_streaming_bad_trailer_signature(endpoint, bucket):
    def forge(body: bytes) -> bytes:
        head, _, sig = body.rpartition(b"x-amz-trailer-signature:")
        return head + b"x-amz-trailer-signature:" + (b"0" * 64) + b"\r\n\r\n"

    err = error_of(streaming_put(endpoint, f"/{bucket}/t", CHUNKS, trailer=True, corrupt=forge))
    assert (err["status"], err["Code"]) == (403, "SignatureDoesNotMatch")


def test_signed_streaming_small_chunk_refused(endpoint, bucket):
    err = error_of(streaming_put(endpoint, f"/{bucket}/t", [b"x" * 100, b"y" * 9000]))
    assert (err["status"], err["Code"]) == (403, "InvalidChunkSizeError")


def test_unsigned_trailer_checksum(endpoint, bucket):
    ok = streaming_put(endpoint, f"/{bucket}/u", CHUNKS, trailer=True, signed=False)
    assert ok.status_code == 200, ok.text
    bad = streaming_put(endpoint, f"/{bucket}/u2", CHUNKS, trailer=True, signed=False, checksum=crc32_b64(b"other"))
    err = error_of(bad)
    assert (err["status"], err["Code"]) == (400, "BadDigest")
    assert err["Message"] == "The CRC32 you specified did not match the calculated checksum."


def test_truncated_chunked_body(endpoint, bucket):
    err = error_of(streaming_put(endpoint, f"/{bucket}/short", CHUNKS, corrupt=lambda b: b[:-200]))
    assert err["status"] == 400 and err["Code"] in ("IncompleteBody", "InvalidRequest")


# --- Content-MD5 and flexible checksums as headers ------------------------------------------


def test_content_md5(endpoint, bucket):
    body = b"digest me"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert endpoint.signed("PUT", f"/{bucket}/m", body=body, headers={"Content-MD5": good}).status_code == 200
    wrong = base64.b64encode(hashlib.md5(b"else").digest()).decode()
    err = error_of(endpoint.signed("PUT", f"/{bucket}/m", body=body, headers={"Content-MD5": wrong}))
    assert (err["status"], err["Code"]) == (400, "BadDigest")
    assert err["Message"] == "The Content-MD5 you specified did not match what we received."
    err = error_of(endpoint.signed("PUT", f"/{bucket}/m", body=body, headers={"Content-MD5": "not-base64"}))
    assert (err["status"], err["Code"]) == (400, "InvalidDigest")


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA1", "SHA256"])  # CRC32C needs awscrt in boto3
def test_checksum_headers_with_boto3(endpoint, bucket, algorithm):
    s3 = endpoint.client()
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"check me", ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"]
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"check me"
    assert got[f"Checksum{algorithm}"] == put[f"Checksum{algorithm}"]


def test_crc32c_header(endpoint, bucket):
    check = base64.b64encode(0xE3069283.to_bytes(4, "big")).decode()  # CRC32C("123456789")
    resp = endpoint.signed("PUT", f"/{bucket}/c", body=b"123456789", headers={"x-amz-checksum-crc32c": check})
    assert resp.status_code == 200 and resp.headers["x-amz-checksum-crc32c"] == check
    err = error_of(endpoint.signed("PUT", f"/{bucket}/c", body=b"123456780", headers={"x-amz-checksum-crc32c": check}))
    assert (err["status"], err["Code"]) == (400, "BadDigest")


def test_checksum_header_mismatch_and_malformed(endpoint, bucket):
    err = error_of(endpoint.signed("PUT", f"/{bucket}/c", body=b"abc", headers={"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(b"abd").digest()).decode()}))
    assert (err["status"], err["Code"]) == (400, "BadDigest")
    assert err["Message"] == "The SHA256 you specified did not match the calculated checksum."
    err = error_of(endpoint.signed("PUT", f"/{bucket}/c", body=b"abc", headers={"x-amz-checksum-crc32": "zz"}))
    assert (err["status"], err["Code"]) == (400, "InvalidRequest")
    err = error_of(endpoint.signed("PUT", f"/{bucket}/c", body=b"abc", headers={
        "x-amz-checksum-crc32": crc32_b64(b"abc"), "x-amz-checksum-sha1": base64.b64encode(hashlib.sha1(b"abc").digest()).decode()}))
    assert (err["status"], err["Code"]) == (400, "InvalidRequest")
    assert "Multiple checksum Types are not allowed" in err["Message"]


# --- the decoder on its own ---------------------------------------------------------------


class _Verifier:
    """The core's ChunkVerifier, seeded like a real request."""

    def __new__(cls, seed: str):
        from s3presign.core import sigv4
        from s3presign.core.verify import ChunkVerifier

        key = sigv4.signing_key(MAIN[1], "20260101", "us-east-1")
        return ChunkVerifier(key, "20260101T000000Z", "20260101/us-east-1/s3/aws4_request", seed)


def _encode(chunks: list[bytes], seed: str) -> bytes:
    signer = ChunkSigner(seed, "20260101T000000Z", "20260101/us-east-1/s3/aws4_request", MAIN[1])
    body = b""
    for chunk in [*chunks, b""]:
        body += f"{len(chunk):x};chunk-signature={signer.chunk(chunk)}\r\n".encode() + chunk + (b"\r\n" if chunk else b"")
    return body + b"\r\n"


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(8192, 20000), max_size=3),
    last=st.integers(0, 9000),
    cuts=st.lists(st.integers(1, 60000), max_size=8),
)
def test_decoder_is_independent_of_how_the_body_is_split(sizes, last, cuts):
    chunks = [bytes([65 + i % 26]) * n for i, n in enumerate(sizes)] + ([b"z" * last] if last else [])
    body = _encode(chunks, "f" * 64)
    decoder = AwsChunkedDecoder(_Verifier("f" * 64), trailer=False)
    out, pos = [], 0
    for cut in sorted(set(c for c in cuts if c < len(body))) + [len(body)]:
        out += decoder.feed(body[pos:cut])
        pos = cut
    decoder.close()
    assert b"".join(out) == b"".join(chunks)


def test_crc32c_fallback_matches_the_library():
    vectors = [b"", b"a", b"123456789", bytes(range(256)) * 3]
    for data in vectors:
        fallback = checksums.crc32c_table(data)
        hasher = checksums.new("CRC32C")
        hasher.update(data)
        assert fallback.to_bytes(4, "big") == hasher.digest()
    assert checksums.crc32c_table(b"123456789") == 0xE3069283  # the standard check value
