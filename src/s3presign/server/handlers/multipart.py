"""Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
AbortMultipartUpload, ListParts, ListMultipartUploads, and GET/HEAD ?partNumber.

Each part is its own encrypted stream under a key derived from the upload's
(server.encryption.begin_part); completion joins the parts' records under a MAC
(complete_parts) and publishes the object atomically (multipart_store).
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from s3presign.core.s3errors import S3Error
from s3presign.server import checksums, xml
from s3presign.server.auth import Payload
from s3presign.server.encryption import ObjectWriter
from s3presign.server.handlers import objects
from s3presign.server.handlers.context import Ctx
from s3presign.server.handlers.writing import LARGE_BODY, encrypt_into
from s3presign.server.http import Response, iso_date
from s3presign.server.multipart_store import Upload, UploadStore, new_upload_id
from s3presign.server.sse import CustomerKey, parse_read_sse, parse_write_sse
from s3presign.server.storage import ObjectMeta

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000
MAX_LISTING = 1000
MAX_COMPLETE_BODY = 4 * 1024 * 1024  # 10,000 parts with checksums fit easily
# The SSE-C refusals of a part or completion whose key is not the upload's.
_KEY_MISMATCH = frozenset({"SseCWrongKey", "SseCObjectNeedsKey", "SseCNotForThisObject"})
_XML = ("Content-Type", "application/xml")


def store(ctx: Ctx) -> UploadStore:
    return UploadStore(ctx.state.storage)  # type: ignore[arg-type]


def _xml(root: str, parts: list[str]) -> Response:
    return Response(200, body=xml.document(root, parts)).header(*_XML)


def part_number(ctx: Ctx) -> int:
    raw = ctx.req.query.get("partNumber", "")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PARTS:
        raise S3Error("InvalidPartNumber", elements={"ArgumentName": "partNumber", "ArgumentValue": raw})
    return int(raw)


def upload_of(ctx: Ctx) -> Upload:
    return store(ctx).get(ctx.bucket, ctx.req.query.get("uploadId", ""), ctx.key)


def customer_key(ctx: Ctx) -> CustomerKey | None:
    """The SSE-C key of a part or completion (naming an SSE mode there is refused)."""
    req = ctx.req
    return parse_read_sse(req.headers, secure=req.secure, allow_insecure_ssec=ctx.state.config.allow_insecure_ssec,
                          signature_version=ctx.signature_version)


def _same_key(call):
    """Run ``call``; an SSE-C key other than the upload's is S3's mismatch error."""
    try:
        return call()
    except S3Error as err:
        if err.name in _KEY_MISMATCH:
            raise S3Error("SseCPartKeyMismatch") from None
        raise


def begin_part(ctx: Ctx, upload: Upload, number: int) -> ObjectWriter:
    """The encrypting writer of one part, after S3's SSE-C and SigV2-on-KMS checks."""
    key = customer_key(ctx)
    return _same_key(lambda: ctx.state.encryption.begin_part(
        upload.envelope, number, key, bucket=ctx.bucket, key=ctx.key, signature_version=ctx.signature_version))


def part_response(etag: str, writer: ObjectWriter, checksum: dict[str, str] | None) -> Response:
    resp = Response(200).header("ETag", f'"{etag}"').extend(writer.response_headers.items())
    if checksum:
        resp.header(checksums.header(checksum["algorithm"]), checksum["value"])
    return resp


async def commit(sink, meta: ObjectMeta) -> None:
    await asyncio.get_running_loop().run_in_executor(None, sink.commit, meta)


# --- create ----------------------------------------------------------------------


async def create_upload(ctx: Ctx) -> Response:
    req, state = ctx.req, ctx.state
    objects.check_key(ctx.key)
    content_type, stored, user, extra = objects.stored_headers(req.headers)
    bucket_default = objects.bucket_default_sse(ctx)
    sse = parse_write_sse(req.headers, secure=req.secure, allow_insecure_ssec=state.config.allow_insecure_ssec,
                          signature_version=ctx.signature_version)
    algorithm = req.headers.get("x-amz-checksum-algorithm")
    if algorithm is not None:
        algorithm = checksums.algorithm_of(checksums.header(algorithm.strip()))
    writer = state.encryption.begin_write(sse, bucket_default, bucket=ctx.bucket, key=ctx.key,
                                          signature_version=ctx.signature_version)
    envelope = {k: v for k, v in writer.envelope.items() if k != "nonce"}  # parts get their own
    upload = Upload(new_upload_id(), ctx.key, time.time(), envelope, content_type, stored, user, extra,
                    ctx.owner, algorithm)
    store(ctx).create(ctx.bucket, upload)
    resp = _xml("InitiateMultipartUploadResult", [
        xml.el("Bucket", ctx.bucket), xml.el("Key", ctx.key), xml.el("UploadId", upload.upload_id),
    ]).extend(writer.response_headers.items())
    if algorithm:
        resp.header("x-amz-checksum-algorithm", algorithm)
    return resp


# --- parts -------------------------------------------------------------------------


async def upload_part(ctx: Ctx) -> Response:
    """PUT ?partNumber&uploadId: UploadPart, or UploadPartCopy with x-amz-copy-source."""
    if "x-amz-copy-source" in ctx.req.headers:
        from s3presign.server.handlers.copy import upload_part_copy

        return await upload_part_copy(ctx)
    number = part_number(ctx)
    upload = upload_of(ctx)
    writer = begin_part(ctx, upload, number)
    payload = Payload(ctx.req, ctx.auth)
    sink = store(ctx).part_writer(ctx.bucket, upload.upload_id, number)
    try:
        await encrypt_into(sink, writer, payload.chunks(), large=payload.expected_size >= LARGE_BODY)
        payload.finish()
        etag = writer.etag(payload.md5_hex)
        checksum = (
            {"algorithm": payload.checksum_algorithm, "value": payload.checksum_value}
            if payload.checksum_value else None
        )
        await commit(sink, part_meta(ctx.key, number, payload.size, etag, writer, checksum))
    except BaseException:
        sink.abort()
        raise
    return part_response(etag, writer, checksum)


def part_meta(key: str, number: int, size: int, etag: str, writer: ObjectWriter,
              checksum: dict[str, str] | None) -> ObjectMeta:
    """A staged part's record: its size, ETag and encryption record (salt, nonces)."""
    return ObjectMeta(key=key, size=size, etag=etag, last_modified=time.time(), envelope=writer.envelope,
                      checksum=checksum, extra={"part": number})


# --- complete and abort --------------------------------------------------------------


def _requested_parts(body: bytes) -> list[tuple[int, str, dict[str, str]]]:
    """(part number, ETag, {algorithm: checksum}) of a CompleteMultipartUpload body, in
    the order given; S3's InvalidPartOrder unless strictly ascending."""
    root = xml.parse(body)
    if xml.local(root.tag) != "CompleteMultipartUpload":
        raise S3Error("MalformedXML")
    parts = []
    for item in xml.children(root, "Part"):
        number, etag = (xml.text(item, "PartNumber") or "").strip(), xml.text(item, "ETag")
        if not number.isdigit() or etag is None:
            raise S3Error("MalformedXML")
        sums = {xml.local(c.tag)[len("Checksum"):]: (c.text or "").strip()
                for c in item if xml.local(c.tag).startswith("Checksum")}
        parts.append((int(number), etag.strip().strip('"'), sums))
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
    upload = upload_of(ctx)
    key = customer_key(ctx)
    requested = _requested_parts(await ctx.read_body(MAX_COMPLETE_BODY))
    encryption = ctx.state.encryption

    def assemble(staged: dict[int, ObjectMeta]) -> tuple[list[int], ObjectMeta]:
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
        envelope = _same_key(lambda: encryption.complete_parts(
            upload.envelope, [p.envelope for p in chosen], key, bucket=ctx.bucket, key=ctx.key,
            signature_version=ctx.signature_version))
        meta = ObjectMeta(
            key=ctx.key, size=envelope["size"], etag=multipart_etag([p.etag for p in chosen]),
            last_modified=time.time(), content_type=upload.content_type, headers=upload.headers,
            user_meta=upload.user_meta, envelope=envelope, extra=upload.extra,
        )
        return [number for number, _, _ in requested], meta

    loop = asyncio.get_running_loop()
    meta = await loop.run_in_executor(None, store(ctx).complete, ctx.bucket, upload, assemble)
    reader_headers = encryption.open_read(meta.envelope, key, bucket=ctx.bucket, key=ctx.key,
                                          signature_version=ctx.signature_version).response_headers
    location = f"/{ctx.bucket}/{ctx.key}"
    return _xml("CompleteMultipartUploadResult", [
        xml.el("Location", location), xml.el("Bucket", ctx.bucket), xml.el("Key", ctx.key),
        xml.el("ETag", f'"{meta.etag}"'),
    ]).extend(reader_headers.items())


async def abort_upload(ctx: Ctx) -> Response:
    store(ctx).abort(ctx.bucket, ctx.req.query.get("uploadId", ""), ctx.key)
    return Response(204)


# --- listings ----------------------------------------------------------------------------


def _count(query: dict[str, str], name: str, error: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) > 2147483647:
        raise S3Error(error, elements={"ArgumentName": name, "ArgumentValue": raw})
    return int(raw)


def _people(ctx: Ctx, owner: tuple[str, str]) -> list[str]:
    person = [xml.el("ID", owner[0]), xml.el("DisplayName", owner[1])]
    return [xml.tree("Initiator", *person), xml.tree("Owner", *person)]


def _storage_class(extra: dict) -> str:
    return extra.get("storage_class", "STANDARD")


async def list_parts(ctx: Ctx) -> Response:
    q = ctx.req.query
    upload = upload_of(ctx)
    max_parts = min(_count(q, "max-parts", "InvalidMaxParts", MAX_LISTING), MAX_LISTING)
    marker = _count(q, "part-number-marker", "InvalidPartNumberMarker", 0)
    staged = store(ctx).parts(ctx.bucket, upload.upload_id)
    numbers = sorted(n for n in staged if n > marker)
    page, truncated = numbers[:max_parts], len(numbers) > max_parts
    out = [
        xml.el("Bucket", ctx.bucket), xml.el("Key", ctx.key), xml.el("UploadId", upload.upload_id),
        xml.el("PartNumberMarker", marker), xml.el("NextPartNumberMarker", page[-1] if page else 0),
        xml.el("MaxParts", max_parts), xml.el("IsTruncated", truncated),
    ]
    if upload.checksum_algorithm:
        out.append(xml.el("ChecksumAlgorithm", upload.checksum_algorithm))
    for n in page:
        part = staged[n]
        checksum = part.checksum and xml.el("Checksum" + part.checksum["algorithm"], part.checksum["value"])
        out.append(xml.tree("Part", xml.el("PartNumber", n), xml.el("LastModified", iso_date(part.last_modified)),
                            xml.el("ETag", f'"{part.etag}"'), xml.el("Size", part.size), checksum or ""))
    out += _people(ctx, upload.owner)
    out.append(xml.el("StorageClass", _storage_class(upload.extra)))
    return _xml("ListPartsResult", out)


async def list_uploads(ctx: Ctx) -> Response:
    """GET ?uploads: uploads in progress by key then initiation (never a completed one)."""
    q = ctx.req.query
    max_uploads = min(_count(q, "max-uploads", "InvalidMaxUploads", MAX_LISTING), MAX_LISTING)
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker, id_marker = q.get("key-marker", ""), q.get("upload-id-marker", "")
    entries: list[tuple[str, Upload | None]] = []
    for upload in store(ctx).list_uploads(ctx.bucket):
        if not upload.key.startswith(prefix):
            continue
        if upload.key < key_marker or (upload.key == key_marker and (not id_marker or upload.upload_id <= id_marker)):
            continue
        cut = upload.key.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            common = upload.key[: cut + len(delimiter)]
            if not entries or entries[-1][0] != common:
                entries.append((common, None))
        else:
            entries.append((upload.key, upload))
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
                            *_people(ctx, upload.owner), xml.el("StorageClass", _storage_class(upload.extra)),
                            xml.el("Initiated", iso_date(upload.initiated))))
    return _xml("ListMultipartUploadsResult", out)


# --- GET/HEAD ?partNumber ------------------------------------------------------------------


async def get_part(ctx: Ctx) -> Response:
    """One part of an object, as a ranged GET of that part's bytes (S3 adds the
    part count); a single-part object has exactly part 1, the whole object."""
    headers = ctx.req.headers
    if "range" in headers:
        raise S3Error("RangeWithPartNumber")
    number = part_number(ctx)
    obj = ctx.state.storage.open(ctx.bucket, ctx.key)
    obj.close()
    parts = obj.meta.envelope.get("parts")
    sizes = [p["size"] for p in parts] if parts else [obj.meta.size]
    if number > len(sizes):
        raise S3Error("PartNumberNotSatisfiable", elements={"PartNumberRequested": str(number),
                                                            "ActualPartCount": str(len(sizes))})
    start = sum(sizes[: number - 1])
    if parts and sizes[number - 1]:
        headers["range"] = f"bytes={start}-{start + sizes[number - 1] - 1}"
    resp = await objects.get_object(ctx)
    if parts:
        resp.header("x-amz-mp-parts-count", str(len(sizes)))
    return resp
