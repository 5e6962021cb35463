"""Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
AbortMultipartUpload, ListParts, ListMultipartUploads.

Each part is its own encrypted stream (and its own blob) under a key derived
from the upload's (server.encryption.begin_part). Completion is one metadata
transaction: the object's record lists the chosen parts' blobs in order, with
their records joined under a MAC (Encryption.complete_parts) - no byte is copied.
A repeated completion answers with the first one's result, as S3 does.
"""

from __future__ import annotations

import hashlib
import time

from s3presign.core.numbers import ascii_uint
from s3presign.core.s3errors import S3Error
from s3presign.server import checksums, xml
from s3presign.server.auth import Payload
from s3presign.server.encryption import ObjectWriter
from s3presign.server.handlers.common import (
    MAX_PARTS, XML, begin_part, check_key, count_param, customer_key, default_sse, part_meta, part_number,
    same_key, stored_headers, upload_of,
)
from s3presign.server.handlers.context import Ctx
from s3presign.server.handlers.writing import LARGE_BODY, save
from s3presign.server.http import Response, iso_date
from s3presign.server.sse import parse_write_sse
from s3presign.server.storage import ObjectMeta, Upload, new_upload_id

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_LISTING = 1000
MAX_UPLOAD_SCAN = 100_000
MAX_COMPLETE_BODY = 4 * 1024 * 1024  # 10,000 parts with checksums fit easily


def _xml(root: str, parts: list[str]) -> Response:
    return Response(200, body=xml.document(root, parts)).header(*XML)


def part_response(etag: str, writer: ObjectWriter, checksum: dict[str, str] | None) -> Response:
    resp = Response(200).header("ETag", f'"{etag}"').extend(writer.response_headers.items())
    if checksum:
        resp.header(checksums.header(checksum["algorithm"]), checksum["value"])
    return resp


# --- create ----------------------------------------------------------------------


async def create_upload(ctx: Ctx) -> Response:
    req, state = ctx.req, ctx.state
    check_key(ctx.key)
    content_type, stored, user, extra = stored_headers(req.headers)
    extra.update(ctx.access.object_extra)  # owner and ACL of the object it becomes
    info = await state.store.bucket(ctx.bucket)
    sse = parse_write_sse(req.headers, secure=req.secure, allow_insecure_ssec=state.config.allow_insecure_ssec,
                          signature_version=ctx.signature_version)
    algorithm = req.headers.get("x-amz-checksum-algorithm")
    if algorithm is not None:
        algorithm = checksums.algorithm_of(checksums.header(algorithm.strip()))
    writer = state.encryption.begin_write(sse, default_sse(info), bucket=ctx.bucket, key=ctx.key,
                                          signature_version=ctx.signature_version)
    envelope = {k: v for k, v in writer.envelope.items() if k != "nonce"}  # parts get their own
    upload = Upload(new_upload_id(), ctx.key, time.time(), envelope, content_type, stored, user, extra,
                    ctx.owner, algorithm)
    await state.store.create_upload(ctx.bucket, upload)
    resp = _xml("InitiateMultipartUploadResult", [
        xml.el("Bucket", ctx.bucket), xml.el("Key", ctx.key), xml.el("UploadId", upload.upload_id),
    ]).extend(writer.response_headers.items())
    if algorithm:
        resp.header("x-amz-checksum-algorithm", algorithm)
    return resp


# --- parts -------------------------------------------------------------------------


async def upload_part(ctx: Ctx) -> Response:
    number = part_number(ctx)
    upload = await upload_of(ctx)
    writer = begin_part(ctx, upload, number)
    payload = Payload(ctx.req, ctx.auth)
    blobs, _ = await save(ctx.state.store, writer, payload.chunks(), large=payload.expected_size >= LARGE_BODY,
                          check=payload.finish, key=ctx.key)
    etag = writer.etag(payload.md5_hex)
    checksum = (
        {"algorithm": payload.checksum_algorithm, "value": payload.checksum_value}
        if payload.checksum_value else None
    )
    await ctx.state.store.put_part(ctx.bucket, upload.upload_id, number,
                                   part_meta(number, payload.size, etag, writer, checksum, blobs))
    return part_response(etag, writer, checksum)


# --- complete and abort --------------------------------------------------------------


def _requested_parts(body: bytes) -> list[tuple[int, str, dict[str, str]]]:
    """(part number, ETag, {algorithm: checksum}) of a CompleteMultipartUpload body, in
    the order given; S3's InvalidPartOrder unless strictly ascending."""
    root = xml.parse(body)
    if xml.local(root.tag) != "CompleteMultipartUpload":
        raise S3Error("MalformedXML")
    parts = []
    for item in xml.children(root, "Part"):
        raw, etag = (xml.text(item, "PartNumber") or "").strip(), xml.text(item, "ETag")
        if etag is None or not raw:
            raise S3Error("MalformedXML")
        number = ascii_uint(raw, 5)
        if number is None or not 1 <= number <= MAX_PARTS:
            raise S3Error("InvalidPartNumber", elements={"ArgumentName": "PartNumber", "ArgumentValue": raw})
        sums = {xml.local(c.tag)[len("Checksum"):]: (c.text or "").strip()
                for c in item if xml.local(c.tag).startswith("Checksum")}
        parts.append((number, etag.strip().strip('"'), sums))
    if not parts:
        raise S3Error("MalformedXML")
    for before, after in zip(parts, parts[1:]):
        if after[0] <= before[0]:
            raise S3Error("InvalidPartOrder")
    return parts


def multipart_etag(etags: list[str]) -> str:
    """S3's multipart ETag: MD5 of the parts' binary MD5s, then "-N"."""
    return hashlib.md5(b"".join(bytes.fromhex(e) for e in etags)).hexdigest() + f"-{len(etags)}"


async def complete_upload(ctx: Ctx) -> Response:
    upload_id = ctx.req.query.get("uploadId", "")
    state = ctx.state
    known = await state.store.get_upload(ctx.bucket, upload_id, ctx.key, finished=True)
    key = customer_key(ctx)
    requested = _requested_parts(await ctx.read_body(MAX_COMPLETE_BODY))
    encryption = state.encryption

    def assemble(upload: Upload, staged: dict[int, ObjectMeta]) -> tuple[list[int], ObjectMeta]:
        chosen = []
        for number, etag, sums in requested:  # every part must exist before sizes matter
            part = staged.get(number)
            if part is None or part.etag != etag or any(
                not part.checksum or part.checksum["algorithm"] != alg.upper() or part.checksum["value"] != value
                for alg, value in sums.items()
            ):
                raise S3Error("InvalidPart", elements={"UploadId": upload.upload_id, "PartNumber": str(number),
                                                       "ETag": etag})
            chosen.append(part)
        for part, (number, etag, _) in zip(chosen[:-1], requested):
            if part.size < MIN_PART_SIZE:
                raise S3Error("EntityTooSmall", elements={
                    "ProposedSize": str(part.size), "MinSizeAllowed": str(MIN_PART_SIZE),
                    "PartNumber": str(number), "ETag": etag,
                })
        envelope = same_key(lambda: encryption.complete_parts(
            upload.envelope, [p.envelope for p in chosen], key, bucket=ctx.bucket, key=ctx.key,
            signature_version=ctx.signature_version))
        meta = ObjectMeta(
            key=ctx.key, size=envelope["size"], etag=multipart_etag([p.etag for p in chosen]),
            last_modified=time.time(), content_type=upload.content_type, headers=upload.headers,
            user_meta=upload.user_meta, envelope=envelope, extra=upload.extra,
        )
        return [number for number, _, _ in requested], meta

    upload, _ = await state.store.complete_upload(ctx.bucket, upload_id, ctx.key, assemble)
    result = upload.result or {}
    sse_headers = same_key(lambda: encryption.check_access(
        known.envelope, key, bucket=ctx.bucket, key=ctx.key, signature_version=ctx.signature_version))
    resp = _xml("CompleteMultipartUploadResult", [
        xml.el("Location", f"/{ctx.bucket}/{ctx.key}"), xml.el("Bucket", ctx.bucket), xml.el("Key", ctx.key),
        xml.el("ETag", f'"{result.get("etag", "")}"'),
    ]).extend(sse_headers.items())
    if result.get("version_id", "null") != "null":
        resp.header("x-amz-version-id", result["version_id"])
    return resp


async def abort_upload(ctx: Ctx) -> Response:
    await ctx.state.store.abort_upload(ctx.bucket, ctx.req.query.get("uploadId", ""), ctx.key)
    return Response(204)


# --- listings ----------------------------------------------------------------------------


def _people(owner: tuple[str, str]) -> list[str]:
    person = [xml.el("ID", owner[0]), xml.el("DisplayName", owner[1])]
    return [xml.tree("Initiator", *person), xml.tree("Owner", *person)]


def _storage_class(extra: dict) -> str:
    return extra.get("storage_class", "STANDARD")


async def list_parts(ctx: Ctx) -> Response:
    q = ctx.req.query
    upload = await upload_of(ctx)
    max_parts = min(count_param(q, "max-parts", "InvalidMaxParts", MAX_LISTING), MAX_LISTING)
    marker = count_param(q, "part-number-marker", "InvalidPartNumberMarker", 0)
    staged = await ctx.state.store.list_parts(upload.upload_id, marker, max_parts + 1)
    page, truncated = staged[:max_parts], len(staged) > max_parts
    out = [
        xml.el("Bucket", ctx.bucket), xml.el("Key", ctx.key), xml.el("UploadId", upload.upload_id),
        xml.el("PartNumberMarker", marker), xml.el("NextPartNumberMarker", page[-1][0] if page else 0),
        xml.el("MaxParts", max_parts), xml.el("IsTruncated", truncated),
    ]
    if upload.checksum_algorithm:
        out.append(xml.el("ChecksumAlgorithm", upload.checksum_algorithm))
    for n, part in page:
        checksum = part.checksum and xml.el("Checksum" + part.checksum["algorithm"], part.checksum["value"])
        out.append(xml.tree("Part", xml.el("PartNumber", n), xml.el("LastModified", iso_date(part.last_modified)),
                            xml.el("ETag", f'"{part.etag}"'), xml.el("Size", part.size), checksum or ""))
    out += _people(upload.owner)
    out.append(xml.el("StorageClass", _storage_class(upload.extra)))
    return _xml("ListPartsResult", out)


async def list_uploads(ctx: Ctx) -> Response:
    """GET ?uploads: uploads in progress by key then initiation (never a completed one)."""
    q = ctx.req.query
    max_uploads = min(count_param(q, "max-uploads", "InvalidMaxUploads", MAX_LISTING), MAX_LISTING)
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker, id_marker = q.get("key-marker", ""), q.get("upload-id-marker", "")
    entries: list[tuple[str, Upload | None]] = []
    # uploads in progress are few; one indexed read from the marker on
    for upload in await ctx.state.store.list_uploads(ctx.bucket, prefix, key_marker, MAX_UPLOAD_SCAN):
        if upload.key == key_marker and (not id_marker or upload.upload_id <= id_marker):
            continue
        cut = upload.key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = upload.key[: cut + len(delimiter)]
            if not entries or entries[-1][0] != common:
                entries.append((common, None))
        else:
            entries.append((upload.key, upload))
        if len(entries) > max_uploads:
            break
    page, truncated = entries[:max_uploads], len(entries) > max_uploads
    out = [xml.el("Bucket", ctx.bucket), xml.el("KeyMarker", key_marker), xml.el("UploadIdMarker", id_marker)]
    if truncated and page:
        last_key, last = page[-1]
        out += [xml.el("NextKeyMarker", last_key), xml.el("NextUploadIdMarker", last.upload_id if last else "")]
    if prefix:
        out.append(xml.el("Prefix", prefix))
    if delimiter:
        out.append(xml.el("Delimiter", delimiter))
    out += [xml.el("MaxUploads", max_uploads), xml.el("IsTruncated", truncated)]
    for name, upload in page:
        if upload is None:
            out.append(xml.tree("CommonPrefixes", xml.el("Prefix", name)))
            continue
        out.append(xml.tree("Upload", xml.el("Key", upload.key), xml.el("UploadId", upload.upload_id),
                            *_people(upload.owner), xml.el("StorageClass", _storage_class(upload.extra)),
                            xml.el("Initiated", iso_date(upload.initiated))))
    return _xml("ListMultipartUploadsResult", out)
