"""GetObjectAttributes: ETag, Checksum, ObjectParts, StorageClass and ObjectSize of a
version, read from its record alone (no bytes). An SSE-C object needs its key, as on S3."""

from __future__ import annotations

from s3presign.core.s3errors import S3Error
from s3presign.server import xml
from s3presign.server.handlers.common import customer_key, count_param, version_header, version_param
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response, http_date

MAX_PARTS = 1000
ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


def _asked(ctx: Ctx) -> set[str]:
    raw = ctx.req.headers.get("x-amz-object-attributes", "")
    asked = {a.strip() for a in raw.split(",") if a.strip()}
    if not asked:
        raise S3Error("ObjectAttributesMissing")
    if any(a not in ATTRIBUTES for a in asked):
        raise S3Error("ObjectAttributesInvalid")
    return asked


def _object_parts(ctx: Ctx, meta) -> str:
    """PartsCount, and for an object uploaded with checksums each part's size and
    checksum (a page of x-amz-max-parts after x-amz-part-number-marker)."""
    records = meta.envelope["parts"]
    out = [xml.el("PartsCount", len(records))]
    values = (meta.checksum or {}).get("parts")
    if values:
        headers = ctx.req.headers
        marker = count_param(headers, "x-amz-part-number-marker", "InvalidPartNumberMarker", 0)
        most = min(count_param(headers, "x-amz-max-parts", "InvalidMaxParts", MAX_PARTS), MAX_PARTS)
        numbered = list(enumerate(zip(records, values), 1))[marker:]
        page = numbered[:most]
        out += [xml.el("PartNumberMarker", marker), xml.el("NextPartNumberMarker", page[-1][0] if page else marker),
                xml.el("MaxParts", most), xml.el("IsTruncated", len(numbered) > most)]
        name = "Checksum" + meta.checksum["algorithm"]
        out += [xml.tree("Part", xml.el("PartNumber", n), xml.el("Size", record["size"]), xml.el(name, value))
                for n, (record, value) in page]
    return xml.tree("ObjectParts", *out)


async def get_object_attributes(ctx: Ctx) -> Response:
    asked = _asked(ctx)
    store = ctx.state.store
    info = await store.bucket(ctx.bucket)
    meta = await store.head(ctx.bucket, ctx.key, version_param(ctx))
    sse_headers = ctx.state.encryption.check_access(
        meta.envelope, customer_key(ctx), bucket=ctx.bucket, key=ctx.key, signature_version=ctx.signature_version)
    parts = []
    if "ETag" in asked:
        parts.append(xml.el("ETag", meta.etag))
    if "Checksum" in asked and meta.checksum:
        c = meta.checksum
        parts.append(xml.tree("Checksum", xml.el(f"Checksum{c['algorithm']}", c["value"]),
                              xml.el("ChecksumType", c.get("type") or ("COMPOSITE" if "-" in c["value"] else "FULL_OBJECT"))))
    if "ObjectParts" in asked and "parts" in meta.envelope:
        parts.append(_object_parts(ctx, meta))
    if "StorageClass" in asked:
        parts.append(xml.el("StorageClass", meta.extra.get("storage_class", "STANDARD")))
    if "ObjectSize" in asked:
        parts.append(xml.el("ObjectSize", meta.size))
    resp = Response(200, body=xml.document("GetObjectAttributesResponse", parts)).header(
        "Content-Type", "application/xml").header("Last-Modified", http_date(meta.last_modified))
    resp.extend(sse_headers.items())
    return version_header(resp, info, meta)
