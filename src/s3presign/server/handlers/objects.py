"""Object operations: PutObject, GetObject (also ?partNumber), HeadObject,
DeleteObject, DeleteObjects, each with S3's versioning (?versionId, delete markers).

Every object is encrypted through server.encryption (SSE-S3 when the request
and the bucket name nothing); storage only ever sees ciphertext.
"""

from __future__ import annotations

import time
from typing import AsyncIterator, Iterator
from urllib.parse import quote

from s3presign.core.s3errors import S3Error
from s3presign.server import checksums, xml
from s3presign.server.auth import Payload
from s3presign.server.encryption import ObjectReader
from s3presign.server.handlers.common import (
    check_key, default_sse, part_number, stored_headers, valid_version_id, version_header, version_param,
)
from s3presign.server.handlers.conditions import byte_range, not_modified
from s3presign.server.handlers import authz
from s3presign.server.handlers.context import Ctx
from s3presign.server.handlers.writing import LARGE_BODY, save
from s3presign.server.http import Response, http_date
from s3presign.server.offload import read_ahead
from s3presign.server.sse import READ_SSE_HEADERS, SSE_S3, CustomerKey, parse_read_sse, parse_write_sse
from s3presign.server.storage import ObjectMeta

MAX_DELETE_KEYS = 1000
SMALL_OBJECT = 1 << 20  # read and decrypt in one go below this stored size
READER_CACHE = 4096
# GET query parameters that override a response header.
RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}


async def put_object(ctx: Ctx) -> Response:
    req, state = ctx.req, ctx.state
    headers = req.headers
    check_key(ctx.key)
    for name in ("if-match", "if-none-match"):  # S3's conditional writes: not here yet
        if name in headers:
            raise S3Error("NotImplemented", elements={"Header": name})
    content_type, stored, user, extra = stored_headers(headers)
    extra.update(ctx.access.object_extra)  # owner and ACL
    info = await state.store.bucket(ctx.bucket)  # NoSuchBucket before the body is read
    sse = parse_write_sse(
        headers, secure=req.secure, allow_insecure_ssec=state.config.allow_insecure_ssec,
        signature_version=ctx.signature_version,
    )
    payload = Payload(req, ctx.auth)
    writer = state.encryption.begin_write(
        sse, default_sse(info), bucket=ctx.bucket, key=ctx.key, signature_version=ctx.signature_version
    )
    blobs, _ = await save(state.store, writer, payload.chunks(), large=payload.expected_size >= LARGE_BODY,
                          check=payload.finish, key=ctx.key)
    etag = writer.etag(payload.md5_hex)
    checksum = payload.checksum_record
    meta = ObjectMeta(
        key=ctx.key, size=payload.size, etag=etag, last_modified=time.time(),
        content_type=content_type, headers=stored, user_meta=user,
        envelope=writer.envelope, checksum=checksum, extra=extra, blobs=blobs,
    )
    await state.store.put(ctx.bucket, meta)
    resp = Response(200).header("ETag", f'"{etag}"').extend(writer.response_headers.items())
    if checksum:
        resp.header(checksums.header(checksum["algorithm"]), checksum["value"])
    return version_header(resp, info, meta)


def _object_headers(resp: Response, meta: ObjectMeta, query: dict[str, str]) -> None:
    """Content-Type, the stored headers, user metadata; response-* overrides win."""
    values = {"content-type": meta.content_type, **meta.headers}
    for param, name in RESPONSE_OVERRIDES.items():
        if param in query:
            values[name] = query[param]
    resp.extend(values.items())
    resp.extend(meta.user_meta.items())
    storage_class = meta.extra.get("storage_class")
    if storage_class:
        resp.header("x-amz-storage-class", storage_class)
    if meta.extra.get("tags"):
        resp.header("x-amz-tagging-count", str(len(meta.extra["tags"])))


def _reader(ctx: Ctx, meta: ObjectMeta, customer_key: CustomerKey | None) -> tuple[ObjectReader, list]:
    """The decrypting reader of an object version, and a slot for what a plain GET of
    it always answers (see get_object). SSE-S3 readers are kept per version: they
    depend only on the stored envelope and the master key (no request input, no key
    state to re-check, unlike SSE-C and SSE-KMS)."""
    state = ctx.state
    cacheable = customer_key is None and meta.envelope.get("mode") == SSE_S3
    if cacheable:
        hit = state.readers.get((ctx.bucket, ctx.key, meta.version_id))
        if hit is not None and hit[0] is meta:
            return hit[1], hit[2]
    reader = state.encryption.open_read(
        meta.envelope, customer_key, bucket=ctx.bucket, key=ctx.key, signature_version=ctx.signature_version
    )
    slot: list = [None]
    if cacheable:
        if len(state.readers) >= READER_CACHE:
            state.readers.clear()
        state.readers[(ctx.bucket, ctx.key, meta.version_id)] = (meta, reader, slot)
    return reader, slot


def _part_window(ctx: Ctx, meta: ObjectMeta) -> tuple[int, int] | None:
    """GET/HEAD ?partNumber: that part's plaintext bytes (a single-part object has part 1)."""
    if "range" in ctx.req.headers:
        raise S3Error("RangeWithPartNumber")
    number = part_number(ctx)
    parts = meta.envelope.get("parts")
    sizes = [p["size"] for p in parts] if parts else [meta.size]
    if number > len(sizes):
        raise S3Error("PartNumberNotSatisfiable", elements={"PartNumberRequested": str(number),
                                                            "ActualPartCount": str(len(sizes))})
    start = sum(sizes[: number - 1])
    if not parts or not sizes[number - 1]:
        return None
    return start, start + sizes[number - 1] - 1


async def get_object(ctx: Ctx) -> Response:
    """GetObject and HeadObject (with ?versionId, ?partNumber)."""
    req, state = ctx.req, ctx.state
    head = req.method == "HEAD"
    raw = req.raw_query
    # a pre-signed URL's query is all credentials: parse it again only when it may name more
    query = req.query if ("versionId" in raw or "partNumber" in raw or "response-" in raw) else {}
    version = version_param(ctx) if "versionId" in query else None
    headers = req.headers
    customer_key = None
    for name in READ_SSE_HEADERS:
        if name in headers:
            customer_key = parse_read_sse(
                headers, secure=req.secure, allow_insecure_ssec=state.config.allow_insecure_ssec,
                signature_version=ctx.signature_version,
            )
            break
    found = ctx.found  # the current version authorization read (never with a versionId)
    if found is not None:
        obj = await state.store.open_version(ctx.bucket, ctx.key, found, ctx.found_versioned)
    else:
        obj = await state.store.open(ctx.bucket, ctx.key, version)
    try:
        meta = obj.meta
        window: tuple[int, int] | None
        by_part = "partNumber" in query
        window = _part_window(ctx, meta) if by_part else None
        reader, slot = _reader(ctx, meta, customer_key)
        # A GET of the whole current version naming nothing else (no range, part,
        # response-* override, checksum mode) always answers the same headers:
        # kept with the reader (the version's record is immutable).
        plain = (found is not None and not query and "range" not in headers
                 and "x-amz-checksum-mode" not in headers)
        ready = slot[0] if plain else None
        if ready is not None and not (
                ("if-match" in headers or "if-none-match" in headers or "if-modified-since" in headers
                 or "if-unmodified-since" in headers) and not_modified(headers, meta.etag, meta.last_modified)):
            resp = Response(200, list(ready[0]))
            if head:
                obj.close()
                return resp
            offset, length = ready[1], ready[2]
            if length <= SMALL_OBJECT:
                stored = obj.pread(offset, length)
                body = reader.whole(stored)
                if body is None:
                    decryptor = reader.decryptor(0, meta.size - 1)
                    body = decryptor.feed(stored) + decryptor.close()
                resp.body = body
            else:
                resp.body = _plaintext(reader, obj.read(offset, length), 0, meta.size - 1)
            return resp
        resp = Response(200)
        resp.header("Last-Modified", http_date(meta.last_modified)).header("ETag", f'"{meta.etag}"')
        if obj.versioned or meta.version_id != "null" or version is not None:
            resp.header("x-amz-version-id", meta.version_id)
        if not_modified(headers, meta.etag, meta.last_modified):
            obj.close()
            resp.status = 304
            return resp
        size = meta.size
        if not by_part:
            window = byte_range(headers.get("range"), size)
        if window is None:
            start, end = 0, size - 1
        else:
            start, end = window
            resp.status = 206
            resp.header("Content-Range", f"bytes {start}-{end}/{size}")
        if by_part and "parts" in meta.envelope:
            resp.header("x-amz-mp-parts-count", str(len(meta.envelope["parts"])))
        _object_headers(resp, meta, query)
        resp.extend(reader.response_headers.items())
        resp.header("Accept-Ranges", "bytes").header("Content-Length", str(end - start + 1))
        if meta.checksum and headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            _checksum_headers(resp, meta, window, query.get("partNumber") if by_part else None)
        if head:
            obj.close()
            return resp
        offset, length = reader.cipher_range(start, end)
        if plain and window is None:
            slot[0] = (tuple(resp.headers), offset, length)
        if length <= SMALL_OBJECT:
            decryptor = reader.decryptor(start, end)
            resp.body = decryptor.feed(obj.pread(offset, length)) + decryptor.close()
        else:
            resp.body = _plaintext(reader, obj.read(offset, length), start, end)
        return resp
    except BaseException:
        obj.close()
        raise


def _checksum_headers(resp: Response, meta: ObjectMeta, window: tuple[int, int] | None,
                      part: str | None) -> None:
    """ChecksumMode=ENABLED: the object's checksum and type, or with ?partNumber the
    part's; a byte range has none (it would not match the bytes)."""
    c = meta.checksum or {}
    value = c.get("value")
    if part is not None and "parts" in meta.envelope:
        values = c.get("parts") or []
        n = int(part)
        value = values[n - 1] if 0 < n <= len(values) else None
    elif window is not None:
        value = None
    if value:
        resp.header(checksums.header(c["algorithm"]), value)
        resp.header("x-amz-checksum-type", c.get("type") or checksums.FULL_OBJECT)


async def _plaintext(reader: ObjectReader, stored: Iterator[bytes], start: int, end: int) -> AsyncIterator[bytes]:
    """Decrypt a large range while a helper thread reads the next stored chunk."""
    decryptor = reader.decryptor(start, end)
    async for chunk in read_ahead(stored):
        plain = decryptor.feed(chunk)
        if plain:
            yield plain
    tail = decryptor.close()
    if tail:
        yield tail


def _delete_headers(resp: Response, version: str | None, marker: bool) -> Response:
    if version is not None:
        resp.header("x-amz-version-id", version)
    if marker:
        resp.header("x-amz-delete-marker", "true")
    return resp


async def delete_object(ctx: Ctx) -> Response:
    check_key(ctx.key)
    version, marker = await ctx.state.store.delete(ctx.bucket, ctx.key, version_param(ctx))
    return _delete_headers(Response(204), version, marker)


async def delete_objects(ctx: Ctx) -> Response:
    """POST ?delete: up to 1000 keys (and versions); errors per key, never for a missing key."""
    body = await ctx.read_body(2 * 1024 * 1024, require_digest=True)
    root = xml.parse(body)
    if xml.local(root.tag) != "Delete":
        raise S3Error("MalformedXML")
    quiet = (xml.text(root, "Quiet") or "").strip().lower() == "true"
    objects = xml.children(root, "Object")
    if not objects or len(objects) > MAX_DELETE_KEYS:
        raise S3Error("MalformedXML")
    store = ctx.state.store
    info = await store.bucket(ctx.bucket)
    encode = (ctx.req.query.get("encoding-type") == "url")
    parts: list[str] = []
    for item in objects:
        key = xml.text(item, "Key")
        if key is None:
            raise S3Error("MalformedXML")
        shown = quote(key, safe="/") if encode else key
        version = xml.text(item, "VersionId")
        try:
            if version is not None and not valid_version_id(version):
                raise S3Error("InvalidVersionId")
            check_key(key)
            await authz.check(ctx, "DeleteObject", key, version, info=info)
            reported, marker = await store.delete(ctx.bucket, key, version)
        except S3Error as err:
            parts.append(xml.tree("Error", xml.el("Key", shown), xml.el("VersionId", version),
                                  xml.el("Code", err.code), xml.el("Message", err.message)))
            continue
        if quiet:
            continue
        if version is None and marker:  # a delete marker was created
            parts.append(xml.tree("Deleted", xml.el("Key", shown), xml.el("DeleteMarker", True),
                                  xml.el("DeleteMarkerVersionId", reported)))
        else:
            parts.append(xml.tree("Deleted", xml.el("Key", shown), xml.el("VersionId", version),
                                  xml.el("DeleteMarker", True) if marker else ""))
    return Response(200, body=xml.document("DeleteResult", parts)).header("Content-Type", "application/xml")
