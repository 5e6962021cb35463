"""CopyObject and UploadPartCopy: decrypt the source under its own SSE, re-encrypt
under the destination's, through the one write pipeline (writing.save).

The source is read with its SSE-C key from x-amz-copy-source-server-side-
encryption-customer-*; the destination's SSE comes from the request (or the
bucket default), never from the source, as on S3. The source is decrypted in
1 MiB pieces on a helper thread, so memory stays bounded whatever the size.
The router sends a PUT with x-amz-copy-source here.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import AsyncIterator
from urllib.parse import unquote

from s3presign.core.numbers import ascii_uint
from s3presign.core.s3errors import S3Error
from s3presign.server import checksums, xml
from s3presign.server.encryption import ObjectReader, ObjectWriter
from s3presign.server.handlers.common import (
    XML, begin_part, check_key, default_sse, part_meta, part_number, stored_headers, upload_of,
    valid_version_id, version_header,
)
from s3presign.server.handlers.conditions import not_modified
from s3presign.server.handlers.context import Ctx
from s3presign.server.handlers.writing import LARGE_BODY, save
from s3presign.server.http import Response, iso_date
from s3presign.server.offload import read_ahead
from s3presign.server.sse import parse_copy_source_sse, parse_write_sse
from s3presign.server.storage import ObjectMeta, StoredObject

MAX_COPY_SOURCE = 5 * 1024**3
DIRECTIVES = ("COPY", "REPLACE")
# Request headers that change an object copied onto itself (S3 then allows it).
_CHANGES = ("x-amz-storage-class", "x-amz-website-redirect-location")
_COPY_CONDITIONS = {
    "x-amz-copy-source-if-match": "if-match",
    "x-amz-copy-source-if-none-match": "if-none-match",
    "x-amz-copy-source-if-modified-since": "if-modified-since",
    "x-amz-copy-source-if-unmodified-since": "if-unmodified-since",
}
_RANGE = re.compile(r"^bytes=([0-9]+)-([0-9]+)$")


@dataclass
class Source:
    """An open copy source: its record, stored bytes and decrypting reader."""

    bucket: str
    key: str
    version_id: str | None
    obj: StoredObject
    reader: ObjectReader

    @property
    def meta(self) -> ObjectMeta:
        return self.obj.meta


def source_name(ctx: Ctx) -> tuple[str, str, str | None]:
    """(bucket, key, version id) of x-amz-copy-source ("/bucket/key[?versionId=...]", URL-encoded)."""
    raw = ctx.req.headers["x-amz-copy-source"]
    path, _, query = raw.partition("?")
    version = None
    if query:
        name, _, value = query.partition("=")
        if name != "versionId" or not valid_version_id(value):
            raise S3Error("InvalidVersionId")
        version = value
    bucket, sep, key = unquote(path).lstrip("/").partition("/")
    if not sep or not bucket or not key:
        raise S3Error("InvalidCopySource")
    return bucket, key, version


def _check_conditions(headers: dict[str, str], meta: ObjectMeta) -> None:
    """x-amz-copy-source-if-*: S3 answers 412 where a GET would answer 304."""
    mapped = {plain: headers[name] for name, plain in _COPY_CONDITIONS.items() if name in headers}
    if mapped and not_modified(mapped, meta.etag, meta.last_modified):
        failed = "If-None-Match" if "if-none-match" in mapped else "If-Modified-Since"
        raise S3Error("PreconditionFailed", elements={"Condition": f"x-amz-copy-source-{failed}"})


async def open_source(ctx: Ctx) -> Source:
    req, state = ctx.req, ctx.state
    bucket, key, version = source_name(ctx)
    source_key = parse_copy_source_sse(req.headers, secure=req.secure,
                                       allow_insecure_ssec=state.config.allow_insecure_ssec)
    obj = await state.store.open(bucket, key, version)
    try:
        _check_conditions(req.headers, obj.meta)
        reader = state.encryption.open_read(obj.meta.envelope, source_key, bucket=bucket, key=key,
                                            signature_version=ctx.signature_version)
    except BaseException:
        obj.close()
        raise
    return Source(bucket, key, version, obj, reader)


async def _plaintext(source: Source, start: int, end: int) -> AsyncIterator[bytes]:
    """The source's plaintext start..end, decrypted on a helper thread a chunk ahead."""
    offset, length = source.reader.cipher_range(start, end)
    decrypted = source.reader.decrypt(source.obj.read(offset, length), start, end)
    try:
        async for plain in read_ahead(iter(decrypted)):
            yield plain
    finally:
        source.obj.close()


def _result(root: str, meta: ObjectMeta, writer: ObjectWriter, source: Source) -> Response:
    fields = [xml.el("LastModified", iso_date(meta.last_modified)), xml.el("ETag", f'"{meta.etag}"')]
    if meta.checksum and root == "CopyPartResult":
        fields.append(xml.el("Checksum" + meta.checksum["algorithm"], meta.checksum["value"]))
    body = xml.document(root, fields)
    resp = Response(200, body=body).header(*XML).extend(writer.response_headers.items())
    if source.meta.version_id != "null" or source.version_id is not None:
        resp.header("x-amz-copy-source-version-id", source.meta.version_id)
    return resp


async def copy_object(ctx: Ctx) -> Response:
    req, state = ctx.req, ctx.state
    headers = req.headers
    check_key(ctx.key)
    directive = headers.get("x-amz-metadata-directive", "COPY")
    if directive not in DIRECTIVES:
        raise S3Error("InvalidMetadataDirective", elements={"ArgumentName": "x-amz-metadata-directive",
                                                            "ArgumentValue": directive})
    own = {n: v for n, v in headers.items() if n != "x-amz-copy-source"}
    replaced = stored_headers(own) if directive == "REPLACE" else None
    info = await state.store.bucket(ctx.bucket)
    sse = parse_write_sse(headers, secure=req.secure, allow_insecure_ssec=state.config.allow_insecure_ssec,
                          signature_version=ctx.signature_version)
    src_bucket, src_key, src_version = source_name(ctx)
    if (src_bucket, src_key) == (ctx.bucket, ctx.key) and src_version is None and directive == "COPY" \
            and sse.mode is None and not any(h in headers for h in _CHANGES):
        raise S3Error("CopyOntoItself")
    source = await open_source(ctx)
    src = source.meta
    if src.size > MAX_COPY_SOURCE:
        source.obj.close()
        raise S3Error("CopySourceTooLarge")
    if replaced is not None:
        content_type, stored, user, extra = replaced
        checksum = None
    else:
        extra = dict(src.extra)
        if "x-amz-storage-class" in headers:
            extra.pop("storage_class", None)
            extra.update(stored_headers({"x-amz-storage-class": headers["x-amz-storage-class"]})[3])
        content_type, stored, user = src.content_type, dict(src.headers), dict(src.user_meta)
        checksum = None if "parts" in src.envelope else src.checksum
    extra.pop("acl", None)  # a copy never takes its source's ACL: its own request decides
    extra.update(ctx.access.object_extra)
    try:
        writer = state.encryption.begin_write(sse, default_sse(info), bucket=ctx.bucket, key=ctx.key,
                                              signature_version=ctx.signature_version)
    except BaseException:
        source.obj.close()
        raise
    blobs, md5 = await save(state.store, writer, _plaintext(source, 0, src.size - 1),
                            large=src.size >= LARGE_BODY, digest=True, key=ctx.key)
    meta = ObjectMeta(key=ctx.key, size=src.size, etag=writer.etag(md5 or ""), last_modified=time.time(),
                      content_type=content_type, headers=stored, user_meta=user, envelope=writer.envelope,
                      checksum=checksum, extra=extra, blobs=blobs)
    await state.store.put(ctx.bucket, meta)
    return version_header(_result("CopyObjectResult", meta, writer, source), info, meta)


def _source_range(header: str | None, size: int) -> tuple[int, int]:
    if header is None:
        if size > MAX_COPY_SOURCE:
            raise S3Error("CopySourceTooLarge")
        return 0, size - 1
    match = _RANGE.match(header.strip())
    first = ascii_uint(match.group(1)) if match else None
    last = ascii_uint(match.group(2)) if match else None
    if first is None or last is None or not first <= last < size:
        raise S3Error("InvalidCopySourceRange", size=str(size))
    if last - first + 1 > MAX_COPY_SOURCE:
        raise S3Error("CopySourceTooLarge")
    return first, last


async def upload_part_copy(ctx: Ctx) -> Response:
    """PUT ?partNumber&uploadId with x-amz-copy-source[-range]: a part from an object."""
    number = part_number(ctx)
    upload = await upload_of(ctx)
    writer = begin_part(ctx, upload, number)
    source = await open_source(ctx)
    try:
        start, end = _source_range(ctx.req.headers.get("x-amz-copy-source-range"), source.meta.size)
    except BaseException:
        source.obj.close()
        raise
    digest = checksums.new(upload.checksum_algorithm) if upload.checksum_algorithm else None
    blobs, md5 = await save(ctx.state.store, writer, _digested(_plaintext(source, start, end), digest),
                            large=end - start + 1 >= LARGE_BODY, digest=True, key=ctx.key)
    checksum = None
    if digest is not None:  # an upload with a checksum algorithm has each part's (S3 computes it here)
        checksum = {"algorithm": upload.checksum_algorithm, "value": checksums.encode(digest.digest())}
    meta = part_meta(number, end - start + 1, writer.etag(md5 or ""), writer, checksum, blobs)
    await ctx.state.store.put_part(ctx.bucket, upload.upload_id, number, meta)
    return _result("CopyPartResult", meta, writer, source)


async def _digested(chunks: AsyncIterator[bytes], digest) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        if digest is not None:
            digest.update(chunk)
        yield chunk
