"""Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
AbortMultipartUpload, ListParts, ListMultipartUploads.

Each part is its own encrypted stream (and its own blob) under a key derived
from the upload's (server.encryption.begin_part). Completion is one metadata
transaction: the object's record lists the chosen parts' blobs in order, with
their records joined under a MAC (Encryption.complete_parts) - no byte is copied,
and no object key is needed. A repeated completion answers with the first one's
result, as S3 does.

Checksums as S3 defines them: an upload created with x-amz-checksum-algorithm
(and -type) has every part's checksum (verified, or computed by the server); the
object's is COMPOSITE (the checksum of the part checksums, "-N") or FULL_OBJECT
(the CRC of the whole object, combined from the parts' without reading a byte).
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
    algorithm, ctype = _upload_checksum(req.headers)
    writer = state.encryption.begin_write(sse, default_sse(info), bucket=ctx.bucket, key=ctx.key,
                                          signature_version=ctx.signature_version)
    envelope = {k: v for k, v in writer.envelope.items() if k != "nonce"}  # parts get their own
    upload = Upload(new_upload_id(), ctx.key, time.time(), envelope, content_type, stored, user, extra,
                    ctx.owner, algorithm, ctype)
    await state.store.create_upload(ctx.bucket, upload)
    resp = _xml("InitiateMultipartUploadResult", [
        xml.el("Bucket", ctx.bucket), xml.el("Key", ctx.key), xml.el("UploadId", upload.upload_id),
    ]).extend(writer.response_headers.items())
    if algorithm:
        resp.header("x-amz-checksum-algorithm", algorithm).header("x-amz-checksum-type", ctype)
    return resp


def _upload_checksum(headers: dict[str, str]) -> tuple[str | None, str | None]:
    """CreateMultipartUpload's x-amz-checksum-algorithm and -type: (algorithm, type)."""
    raw, declared_type = headers.get("x-amz-checksum-algorithm"), headers.get("x-amz-checksum-type")
    if raw is None:
        if declared_type is not None:
            raise S3Error("ChecksumTypeWithoutAlgorithm")
        return None, None
    algorithm = checksums.algorithm_of(checksums.header(raw.strip()))
    return algorithm, checksums.checksum_type(algorithm, declared_type)


def part_checksum_algorithm(upload: Upload, payload: Payload) -> None:
    """A part of an upload created with a checksum algorithm carries that algorithm's
    checksum (S3 computes it when none is sent, except that a COMPOSITE checksum is
    built from the client's own part checksums)."""
    expected = upload.checksum_algorithm
    if expected is None:
        return
    sent = payload.checksum_algorithm if payload.checksum_declared else None
    if sent != expected and (sent is not None or upload.checksum_type == checksums.COMPOSITE):
        raise S3Error("ChecksumTypeMismatch", expected=expected.lower(), actual=(sent or "null").lower())


# --- parts -------------------------------------------------------------------------


async def upload_part(ctx: Ctx) -> Response:
    number = part_number(ctx)
    upload = await upload_of(ctx)
    writer = begin_part(ctx, upload, number)
    payload = Payload(ctx.req, ctx.auth, checksum_algorithm=upload.checksum_algorithm)
    part_checksum_algorithm(upload, payload)
    blobs, _ = await save(ctx.state.store, writer, payload.chunks(), large=payload.expected_size >= LARGE_BODY,
                          check=payload.finish, key=ctx.key)
    etag = writer.etag(payload.md5_hex)
    checksum = payload.checksum_record
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


def _object_checksum_request(headers: dict[str, str]) -> tuple[tuple[str, str] | None, str | None, int | None]:
    """CompleteMultipartUpload's claims about the object: (algorithm, checksum) from an
    x-amz-checksum-* header (a COMPOSITE one ends in -N, so it is compared, not parsed),
    x-amz-checksum-type and x-amz-mp-object-size."""
    names = [n for n in headers if n.startswith(checksums.PREFIX) and n not in _NOT_CHECKSUMS]
    if len(names) > 1:
        raise S3Error("MultipleChecksums")
    declared = (checksums.algorithm_of(names[0]), headers[names[0]].strip()) if names else None
    ctype = headers.get("x-amz-checksum-type")
    raw_size = headers.get("x-amz-mp-object-size")
    size = None
    if raw_size is not None:
        size = ascii_uint(raw_size.strip())
        if size is None:
            raise S3Error("InvalidArgument", detail="Invalid value for x-amz-mp-object-size")
    return declared, ctype.strip().upper() if ctype is not None else None, size


_NOT_CHECKSUMS = frozenset({"x-amz-checksum-type", "x-amz-checksum-algorithm", "x-amz-checksum-mode"})


def _object_checksum(upload: Upload, requested: list[tuple[int, str, dict[str, str]]], chosen: list[ObjectMeta],
                     declared: tuple[str, str] | None, declared_type: str | None) -> dict | None:
    """The completed object's checksum, from the parts' (each verified when it was
    uploaded), checked against what the completion claims, as S3 checks it."""
    algorithm = upload.checksum_algorithm
    if algorithm is None:
        if declared is not None:
            raise S3Error("ChecksumWithoutAlgorithm", algorithm=declared[0].lower())
        return None
    ctype = upload.checksum_type or checksums.CHECKSUM_TYPES[algorithm][0]
    if declared_type is not None and declared_type != ctype:
        raise S3Error("CompleteChecksumTypeMismatch", expected=ctype)
    values = []
    for part, (number, etag, _) in zip(chosen, requested):
        if not part.checksum or part.checksum["algorithm"] != algorithm:  # staged before the rule: cannot be combined
            raise S3Error("InvalidPart", elements={"UploadId": upload.upload_id, "PartNumber": str(number),
                                                   "ETag": etag})
        values.append(part.checksum["value"])
    value = checksums.multipart(algorithm, ctype, [(checksums.decode(v), p.size) for v, p in zip(values, chosen)])
    if declared is not None and (declared[0] != algorithm or declared[1] != value):
        raise S3Error("ChecksumMismatch", algorithm=declared[0])
    if ctype == checksums.COMPOSITE:  # the client builds the composite from its own part checksums
        for number, _, sums in requested:
            if algorithm not in sums:
                raise S3Error("ChecksumMissingForPart", algorithm=algorithm.lower(), part=str(number))
    # parts that carry checksums are numbered 1..N without gaps on S3
    if any(number != i for i, (number, _, _) in enumerate(requested, 1)):
        raise S3Error("InvalidPartOrder")
    return {"algorithm": algorithm, "value": value, "type": ctype, "parts": values}


def _checksum_elements(checksum: dict | None) -> list[str]:
    if not checksum:
        return []
    return [xml.el("Checksum" + checksum["algorithm"], checksum["value"]),
            xml.el("ChecksumType", checksum.get("type") or checksums.FULL_OBJECT)]


async def complete_upload(ctx: Ctx) -> Response:
    """No object key is needed: the parts' records are sealed under a server key
    (Encryption.complete_parts), so an SSE-C client may leave its key out, as S3
    allows, unless the upload has a checksum algorithm (S3 requires it there)."""
    upload_id = ctx.req.query.get("uploadId", "")
    state = ctx.state
    known = await state.store.get_upload(ctx.bucket, upload_id, ctx.key, finished=True)
    key = customer_key(ctx)
    declared, declared_type, declared_size = _object_checksum_request(ctx.req.headers)
    encryption = state.encryption
    sse_headers = same_key(lambda: encryption.check_completion(
        known.envelope, key, signature_version=ctx.signature_version,
        key_required=known.checksum_algorithm is not None))
    requested = _requested_parts(await ctx.read_body(MAX_COMPLETE_BODY, body_checksums=False))

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
        checksum = _object_checksum(upload, requested, chosen, declared, declared_type)
        envelope = same_key(lambda: encryption.complete_parts(
            upload.envelope, [p.envelope for p in chosen], key, bucket=ctx.bucket, key=ctx.key,
            upload_id=upload.upload_id, signature_version=ctx.signature_version))
        if declared_size is not None and declared_size != envelope["size"]:
            raise S3Error("MpObjectSizeMismatch", declared=str(declared_size), actual=str(envelope["size"]))
        meta = ObjectMeta(
            key=ctx.key, size=envelope["size"], etag=multipart_etag([p.etag for p in chosen]),
            last_modified=time.time(), content_type=upload.content_type, headers=upload.headers,
            user_meta=upload.user_meta, envelope=envelope, extra=upload.extra, checksum=checksum,
        )
        return [number for number, _, _ in requested], meta

    upload, _ = await state.store.complete_upload(ctx.bucket, upload_id, ctx.key, assemble)
    result = upload.result or {}
    resp = _xml("CompleteMultipartUploadResult", [
        xml.el("Location", f"/{ctx.bucket}/{ctx.key}"), xml.el("Bucket", ctx.bucket), xml.el("Key", ctx.key),
        xml.el("ETag", f'"{result.get("etag", "")}"'), *_checksum_elements(result.get("checksum")),
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
        out.append(xml.el("ChecksumType", upload.checksum_type or checksums.CHECKSUM_TYPES[upload.checksum_algorithm][0]))
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
