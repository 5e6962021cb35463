"""CopyObject and UploadPartCopy: decrypt the source under its own SSE, re-encrypt
under the destination's.

The source is read with its SSE-C key from x-amz-copy-source-server-side-
encryption-customer-*; the destination's SSE comes from the request (or the
bucket default), never from the source, as on S3. The copy runs on a worker
thread in 1 MiB pieces, so memory stays bounded whatever the size.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from s3presign.core.s3errors import S3Error
from s3presign.server import xml
from s3presign.server.encryption import ObjectReader, ObjectWriter
from s3presign.server.handlers import multipart, objects
from s3presign.server.handlers.conditions import not_modified
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response, iso_date
from s3presign.server.sse import parse_copy_source_sse, parse_write_sse
from s3presign.server.storage import ObjectMeta, ObjectSink, StoredObject

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
_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")
_XML = ("Content-Type", "application/xml")


@dataclass
class Source:
    """An open copy source: its record, stored bytes and decrypting reader."""

    bucket: str
    key: str
    obj: StoredObject
    reader: ObjectReader

    @property
    def meta(self) -> ObjectMeta:
        return self.obj.meta


def source_name(ctx: Ctx) -> tuple[str, str]:
    """(bucket, key) of x-amz-copy-source ("/bucket/key" or "bucket/key", URL-encoded)."""
    raw = ctx.req.headers["x-amz-copy-source"]
    path, _, query = raw.partition("?")
    if query:
        name, _, value = query.partition("=")
        if name != "versionId" or value != "null":
            raise S3Error("InvalidVersionId")
    bucket, sep, key = unquote(path).lstrip("/").partition("/")
    if not sep or not bucket or not key:
        raise S3Error("InvalidCopySource")
    return bucket, key


def _check_conditions(headers: dict[str, str], meta: ObjectMeta) -> None:
    """x-amz-copy-source-if-*: S3 answers 412 where a GET would answer 304."""
    mapped = {plain: headers[name] for name, plain in _COPY_CONDITIONS.items() if name in headers}
    if mapped and not_modified(mapped, meta.etag, meta.last_modified):
        failed = "If-None-Match" if "if-none-match" in mapped else "If-Modified-Since"
        raise S3Error("PreconditionFailed", elements={"Condition": f"x-amz-copy-source-{failed}"})


def open_source(ctx: Ctx) -> Source:
    req, state = ctx.req, ctx.state
    bucket, key = source_name(ctx)
    source_key = parse_copy_source_sse(req.headers, secure=req.secure,
                                       allow_insecure_ssec=state.config.allow_insecure_ssec)
    obj = state.storage.open(bucket, key)
    try:
        _check_conditions(req.headers, obj.meta)
        reader = state.encryption.open_read(obj.meta.envelope, source_key, bucket=bucket, key=key,
                                            signature_version=ctx.signature_version)
    except BaseException:
        obj.close()
        raise
    return Source(bucket, key, obj, reader)


def _pump(source: Source, start: int, end: int, writer: ObjectWriter, sink: ObjectSink) -> str:
    """Decrypt source bytes start..end into the writer and sink; the plaintext MD5 (hex)."""
    md5 = hashlib.md5()
    offset, length = source.reader.cipher_range(start, end)
    try:
        for plain in source.reader.decrypt(source.obj.read(offset, length), start, end):
            md5.update(plain)
            sink.write(writer.encrypt(plain))
        sink.write(writer.finish())
    finally:
        source.obj.close()
    return md5.hexdigest()


async def _copy(source: Source, start: int, end: int, writer: ObjectWriter, sink: ObjectSink,
                meta_of: Any) -> ObjectMeta:
    """Copy and commit on a worker thread; ``meta_of(md5_hex)`` gives the record."""

    def run() -> ObjectMeta:
        try:
            meta = meta_of(_pump(source, start, end, writer, sink))
            sink.commit(meta)
        except BaseException:
            sink.abort()
            raise
        return meta

    return await asyncio.get_running_loop().run_in_executor(None, run)


def _result(root: str, meta: ObjectMeta, writer: ObjectWriter) -> Response:
    body = xml.document(root, [xml.el("LastModified", iso_date(meta.last_modified)),
                               xml.el("ETag", f'"{meta.etag}"')])
    return Response(200, body=body).header(*_XML).extend(writer.response_headers.items())


async def put_or_copy(ctx: Ctx) -> Response:
    """PUT on an object: CopyObject when x-amz-copy-source is present, else PutObject."""
    if "x-amz-copy-source" in ctx.req.headers:
        return await copy_object(ctx)
    return await objects.put_object(ctx)


async def copy_object(ctx: Ctx) -> Response:
    req, state = ctx.req, ctx.state
    headers = req.headers
    objects.check_key(ctx.key)
    directive = headers.get("x-amz-metadata-directive", "COPY")
    if directive not in DIRECTIVES:
        raise S3Error("InvalidMetadataDirective", elements={"ArgumentName": "x-amz-metadata-directive",
                                                            "ArgumentValue": directive})
    own = {n: v for n, v in headers.items() if n != "x-amz-copy-source"}
    replaced = objects.stored_headers(own) if directive == "REPLACE" else None
    bucket_default = objects.bucket_default_sse(ctx)
    sse = parse_write_sse(headers, secure=req.secure, allow_insecure_ssec=state.config.allow_insecure_ssec,
                          signature_version=ctx.signature_version)
    if source_name(ctx) == (ctx.bucket, ctx.key) and directive == "COPY" and sse.mode is None and not any(
        h in headers for h in _CHANGES
    ):
        raise S3Error("CopyOntoItself")
    source = open_source(ctx)
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
            extra.update(objects.stored_headers({"x-amz-storage-class": headers["x-amz-storage-class"]})[3])
        content_type, stored, user = src.content_type, dict(src.headers), dict(src.user_meta)
        checksum = None if "parts" in src.envelope else src.checksum
    try:
        writer = state.encryption.begin_write(sse, bucket_default, bucket=ctx.bucket, key=ctx.key,
                                              signature_version=ctx.signature_version)
        sink = state.storage.writer(ctx.bucket, ctx.key)
    except BaseException:
        source.obj.close()
        raise

    def meta_of(md5_hex: str) -> ObjectMeta:
        return ObjectMeta(key=ctx.key, size=src.size, etag=writer.etag(md5_hex), last_modified=time.time(),
                          content_type=content_type, headers=stored, user_meta=user, envelope=writer.envelope,
                          checksum=checksum, extra=extra)

    meta = await _copy(source, 0, src.size - 1, writer, sink, meta_of)
    return _result("CopyObjectResult", meta, writer)


def _source_range(header: str | None, size: int) -> tuple[int, int]:
    if header is None:
        if size > MAX_COPY_SOURCE:
            raise S3Error("CopySourceTooLarge")
        return 0, size - 1
    match = _RANGE.match(header.strip())
    if not match or not int(match.group(1)) <= int(match.group(2)) < size:
        raise S3Error("InvalidCopySourceRange", size=str(size))
    first, last = int(match.group(1)), int(match.group(2))
    if last - first + 1 > MAX_COPY_SOURCE:
        raise S3Error("CopySourceTooLarge")
    return first, last


async def upload_part_copy(ctx: Ctx) -> Response:
    """PUT ?partNumber&uploadId with x-amz-copy-source[-range]: a part from an object."""
    number = multipart.part_number(ctx)
    upload = multipart.upload_of(ctx)
    writer = multipart.begin_part(ctx, upload, number)
    source = open_source(ctx)
    try:
        start, end = _source_range(ctx.req.headers.get("x-amz-copy-source-range"), source.meta.size)
        sink = multipart.store(ctx).part_writer(ctx.bucket, upload.upload_id, number)
    except BaseException:
        source.obj.close()
        raise

    def meta_of(md5_hex: str) -> ObjectMeta:
        return multipart.part_meta(ctx.key, number, end - start + 1, writer.etag(md5_hex), writer, None)

    meta = await _copy(source, start, end, writer, sink, meta_of)
    return _result("CopyPartResult", meta, writer)
