"""From an ASGI request to an authenticated one, and its body to a verified payload.

:func:`authenticate` is the one call into the core's verifier (the same
canonicalisation the presigner uses). :class:`Payload` is what S3 checks on
the body and the verifier cannot: the declared x-amz-content-sha256, aws-chunked
chunk signatures, Content-MD5 and x-amz-checksum-* (header or trailer). Its
digests are computed while the body streams; :meth:`Payload.finish` raises the
S3 error if any of them disagrees, before anything is committed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import AsyncIterator, Callable

from s3presign.core import sigv4
from s3presign.core.credentials import Credentials
from s3presign.core.numbers import ascii_uint
from s3presign.core.s3errors import S3Error
from s3presign.core.verify import AuthResult, verify_request
from s3presign.server import checksums
from s3presign.server.chunked import AwsChunkedDecoder
from s3presign.server.http import Request
from s3presign.server.offload import DIGEST_POOL, Offload

MAX_OBJECT_SIZE = 5 * 1024**3  # S3's single-PUT limit
# Bodies at least this large are hashed on a helper thread, overlapping the
# encryption and the disk writes on the event loop (hashlib releases the GIL).
_THREADED_DIGESTS = 1 << 20
_STREAMING = {
    sigv4.STREAMING_PAYLOAD: (True, False),
    sigv4.STREAMING_PAYLOAD_TRAILER: (True, True),
    sigv4.STREAMING_UNSIGNED_TRAILER: (False, True),
}


def authenticate(
    req: Request,
    lookup: Callable[[str], Credentials | None],
    region: str,
    virtual_bucket: str | None,
) -> AuthResult:
    """S3's authentication of one request (raises S3Error)."""
    return verify_request(
        req.method,
        req.raw_path,
        req.raw_query,
        req.headers,
        params=req.query if req.raw_query else None,
        lookup=lookup,
        region=region,
        virtual_bucket=virtual_bucket,
    )


def _content_md5(headers: dict[str, str]) -> bytes | None:
    value = headers.get("content-md5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise S3Error("InvalidDigest", elements={"Content-MD5": value})
    return digest


class _Digests:
    """Every digest a payload needs, updated together (on one thread at a time)."""

    __slots__ = ("md5", "sha256", "checksum")

    def __init__(self, sha256: bool, checksum_algorithm: str | None) -> None:
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256() if sha256 else None
        self.checksum = checksums.new(checksum_algorithm) if checksum_algorithm else None

    def update_many(self, parts: list[bytes]) -> None:
        for part in parts:
            self.update(part)

    def update(self, data: bytes) -> None:
        self.md5.update(data)
        if self.sha256 is not None:
            self.sha256.update(data)
        if self.checksum is not None:
            self.checksum.update(data)  # type: ignore[attr-defined]


class Payload:
    """A request body as S3 checks it: decoded, measured, digested, then verified."""

    def __init__(
        self, req: Request, auth: AuthResult | None, *, max_size: int = MAX_OBJECT_SIZE, length_required: bool = True,
        checksum_algorithm: str | None = None, body_checksums: bool = True,
    ) -> None:
        """``checksum_algorithm``: compute this checksum when the request sends none
        (a part of an upload created with it: S3 computes the part's).
        ``body_checksums=False``: x-amz-checksum-* headers describe something else
        (CompleteMultipartUpload's name the object), not this body."""
        headers = req.headers
        self._req = req
        content_sha = auth.content_sha256 if auth is not None else None
        streaming = _STREAMING.get(content_sha or "")
        self._decoder: AwsChunkedDecoder | None = None
        if streaming is not None:
            signed, trailer = streaming
            self._decoder = AwsChunkedDecoder(auth.chunk_verifier if signed else None, trailer)  # type: ignore[union-attr]
            length_header = "x-amz-decoded-content-length"
        else:
            length_header = "content-length"
        if "content-length" not in headers and not (self._decoder and "x-amz-decoded-content-length" in headers):
            if length_required or "transfer-encoding" in headers:
                raise S3Error("MissingContentLength")
            headers = {**headers, length_header: "0"}
        size = ascii_uint(headers.get(length_header))
        if size is None:
            raise S3Error("MissingContentLength")
        self.expected_size = size
        if self.expected_size > max_size:
            raise S3Error(
                "EntityTooLarge",
                elements={"ProposedSize": str(self.expected_size), "MaxSizeAllowed": str(max_size)},
            )
        self._sha256_expected = content_sha if content_sha and len(content_sha) == 64 else None
        self._md5_expected = _content_md5(headers)
        declared = checksums.declared(headers) if body_checksums else None
        self.checksum_algorithm = declared[0] if declared else checksum_algorithm
        self._checksum_expected = declared[1] if declared else None
        self.checksum_declared = declared is not None
        self._digests = _Digests(self._sha256_expected is not None, self.checksum_algorithm)
        self.size = 0
        self.checksum_value: str | None = None

    async def _decoded(self) -> AsyncIterator[bytes]:
        decoder = self._decoder
        if decoder is None:
            async for chunk in self._req.stream():
                yield chunk
            return
        async for chunk in self._req.stream():
            for piece in decoder.feed(chunk):
                yield piece
        decoder.close()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The payload, chunk by chunk, as it arrives; sizes are checked on the way.
        Large bodies are digested on a helper thread while the consumer works."""
        digests = self._digests
        offload = Offload(digests.update_many, DIGEST_POOL) if self.expected_size >= _THREADED_DIGESTS else None
        limit = self.expected_size
        try:
            async for chunk in self._decoded():
                self.size += len(chunk)
                if self.size > limit:
                    raise S3Error("MalformedChunkedEncoding" if self._decoder else "IncompleteBody")
                if offload is None:
                    digests.update(chunk)
                else:
                    await offload.add(chunk)
                yield chunk
            if offload is not None:
                await offload.drain()
        finally:
            if offload is not None:
                await offload.settle()

    def finish(self) -> None:
        """After the last chunk: S3's errors for a body that is short or disagrees."""
        if self.size != self.expected_size:
            raise S3Error("IncompleteBody")
        d = self._digests
        if self._sha256_expected is not None:
            computed = d.sha256.hexdigest()  # type: ignore[union-attr]
            if not hmac.compare_digest(computed, self._sha256_expected):
                raise S3Error(
                    "ContentSHA256Mismatch",
                    elements={"ClientComputedContentSHA256": self._sha256_expected, "S3ComputedContentSHA256": computed},
                )
        if self._md5_expected is not None and d.md5.digest() != self._md5_expected:
            raise S3Error(
                "BadDigest",
                elements={
                    "ExpectedDigest": base64.b64encode(self._md5_expected).decode(),
                    "CalculatedDigest": base64.b64encode(d.md5.digest()).decode(),
                },
            )
        if self.checksum_algorithm is not None:
            expected = self._checksum_expected
            computed_b64 = checksums.encode(d.checksum.digest())  # type: ignore[union-attr]
            if not self.checksum_declared:
                expected = computed_b64
            elif expected is None:  # declared as a trailer
                name = checksums.header(self.checksum_algorithm)
                trailers = self._decoder.trailers if self._decoder else {}
                if name not in trailers:
                    raise S3Error("IncompleteBody")
                expected = checksums.check_value(self.checksum_algorithm, trailers[name])
            if computed_b64 != expected:
                raise S3Error("ChecksumMismatch", algorithm=self.checksum_algorithm)
            self.checksum_value = expected

    @property
    def checksum_record(self) -> dict[str, str] | None:
        """The verified flexible checksum as stored with an object, if one was sent."""
        if self.checksum_value is None:
            return None
        return {"algorithm": self.checksum_algorithm or "", "value": self.checksum_value}

    @property
    def md5_hex(self) -> str:
        return self._digests.md5.hexdigest()
