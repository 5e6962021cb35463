"""Service and bucket operations: ListBuckets, Create/Head/DeleteBucket,
GetBucketLocation, ListObjects (V1 and V2) and the bucket default encryption."""

from __future__ import annotations

import base64
import binascii
import functools
import re
import time
from dataclasses import asdict
from urllib.parse import quote_plus

from s3presign.core.s3errors import S3Error
from s3presign.server import sse, xml
from s3presign.server.access import acl as acls
from s3presign.server.access import defaults
from s3presign.server.handlers import authz
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response, iso_date
from s3presign.server.handlers.common import count_param
from s3presign.server.storage import ENABLED, SUSPENDED, Listed

MAX_KEYS = 1000
_XML = ("Content-Type", "application/xml")
_DEFAULT_ENCRYPTION = {"SSEAlgorithm": sse.SSE_S3, "KMSMasterKeyID": None, "BucketKeyEnabled": False}


def _xml(root: str, parts: list[str], status: int = 200) -> Response:
    return Response(status, body=xml.document(root, parts)).header(*_XML)


def _owner(ctx: Ctx) -> str:
    owner_id, name = ctx.owner
    return xml.tree("Owner", xml.el("ID", owner_id), xml.el("DisplayName", name))


async def list_buckets(ctx: Ctx) -> Response:
    """The caller's buckets only, as on S3."""
    me = ctx.access.account.canonical_id
    buckets = [
        xml.tree("Bucket", xml.el("Name", b.name), xml.el("CreationDate", iso_date(b.created)),
                 xml.el("BucketRegion", b.region))
        for b in await ctx.state.store.list_buckets() if authz.owner_of(ctx, b).canonical_id == me
    ]
    return _xml("ListAllMyBucketsResult", [_owner(ctx), xml.tree("Buckets", *buckets)])


def _location_constraint(body: bytes) -> str | None:
    if not body.strip():
        return None
    root = xml.parse(body)
    if xml.local(root.tag) != "CreateBucketConfiguration":
        raise S3Error("MalformedXML")
    return (xml.text(root, "LocationConstraint") or "").strip() or None


async def create_bucket(ctx: Ctx) -> Response:
    """S3's regional rules: us-east-1 takes no constraint (and re-creating your own
    bucket there succeeds, as on S3); every other region requires its own name."""
    if ctx.req.headers.get("x-amz-bucket-object-lock-enabled", "").lower() == "true":
        raise S3Error("NotImplemented", elements={"Header": "x-amz-bucket-object-lock-enabled"})
    settings = defaults.new_bucket(ctx.state.config.new_bucket_defaults,
                                   {"x-amz-object-ownership": acls.ownership_header(ctx.req.headers) or ""})
    me = ctx.access.account
    owner = acls.Owner(me.canonical_id, me.display_name)
    requested = authz.requested_acl(ctx, owner, bucket=True)
    acls.check_create_bucket_acl(settings.object_ownership, requested)
    constraint = _location_constraint(await ctx.read_body(64 * 1024))
    region = ctx.state.config.region
    if region == "us-east-1":
        if constraint == "us-east-1":
            raise S3Error("InvalidLocationConstraint", elements={"LocationConstraint": constraint})
        if constraint is not None:
            raise S3Error("IllegalLocationConstraintException", constraint=constraint)
    elif constraint != region:
        raise S3Error("IllegalLocationConstraintException", constraint=constraint or "unspecified")
    # Every owner setting goes in with the bucket itself: one transaction, never half-configured.
    config: dict = {authz.OWNER: authz.owner_record(me), authz.OWNERSHIP: settings.object_ownership}
    if requested is not None and not requested.is_private:
        config[authz.ACL] = acls.render_acl_xml(requested).decode()
    if settings.public_access_block is not None:
        config[authz.PUBLIC_ACCESS_BLOCK] = asdict(settings.public_access_block)
    if settings.blocked_encryption_types:
        config["encryption"] = {**_DEFAULT_ENCRYPTION, "BlockedEncryptionTypes": list(settings.blocked_encryption_types)}
    store = ctx.state.store
    if not await store.create_bucket(ctx.bucket, region, config):
        if authz.owner_of(ctx, await store.bucket(ctx.bucket)).canonical_id != me.canonical_id:
            raise S3Error("BucketAlreadyExists", elements={"BucketName": ctx.bucket})
        if region != "us-east-1":
            raise S3Error("BucketAlreadyOwnedByYou", elements={"BucketName": ctx.bucket})
    return Response(200).header("Location", f"/{ctx.bucket}")


async def head_bucket(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    return Response(200).header("x-amz-bucket-region", info.region).header("x-amz-access-point-alias", "false")


async def delete_bucket(ctx: Ctx) -> Response:
    await ctx.state.store.delete_bucket(ctx.bucket)
    return Response(204)


async def get_bucket_location(ctx: Ctx) -> Response:
    region = (await ctx.state.store.bucket(ctx.bucket)).region
    body = xml.DECLARATION + f'<LocationConstraint xmlns="{xml.NS}">'
    body += ("" if region == "us-east-1" else xml.escape(region)) + "</LocationConstraint>"
    return Response(200, body=body.encode()).header(*_XML)


# --- listing ---------------------------------------------------------------------


def _max_keys(query: dict[str, str]) -> int:
    return min(count_param(query, "max-keys", "InvalidMaxKeys", MAX_KEYS), MAX_KEYS)


def _token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8", "surrogatepass")).decode()


def _untoken(token: str) -> str:
    try:
        key = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        key = ""
    if not key:
        raise S3Error("InvalidContinuationToken", elements={"ArgumentName": "continuation-token", "ArgumentValue": token})
    return key


# Keys that need no work in a listing: the common case, checked with one regex match.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~/-]*").fullmatch  # what quote_plus(safe="/") leaves as it is
_XML_SAFE = re.compile(r'[^&<>"\x00-\x08\x0b-\x1f\x7f]*').fullmatch


def _url(s: str) -> str:
    return s if _URL_SAFE(s) else quote_plus(s, safe="/")


def _text(s: str) -> str:
    return s if _XML_SAFE(s) else xml.escape(s)


def _encoder(q: dict[str, str]):
    """(encoding-type, how a key is encoded under it, how an entry's key becomes XML text)."""
    encoding = q.get("encoding-type")
    if encoding is not None and encoding.lower() != "url":
        raise S3Error("InvalidEncodingType", elements={"ArgumentName": "encoding-type", "ArgumentValue": encoding})
    if encoding:
        return encoding, _url, _url  # URL-encoded text holds nothing XML must escape
    return encoding, (lambda s: s), _text


@functools.lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _iso(epoch: float) -> str:
    """http.iso_date, cached by the second (a listing renders one per entry)."""
    second = int(epoch)
    return f"{_iso_second(second)}.{int(round((epoch - second) * 1000)) % 1000:03d}Z"


def _common_prefixes(prefixes: list[str], enc) -> str:
    return "".join(f"<CommonPrefixes><Prefix>{enc(p)}</Prefix></CommonPrefixes>" for p in prefixes)


def _details(m: Listed, owner: str) -> str:
    """LastModified through Owner of a listed version (S3's order)."""
    checksum = f"<ChecksumAlgorithm>{m.checksum_algorithm}</ChecksumAlgorithm>" if m.checksum_algorithm else ""
    return (f"<LastModified>{_iso(m.last_modified)}</LastModified><ETag>&quot;{_text(m.etag)}&quot;</ETag>"
            f"{checksum}<Size>{m.size}</Size><StorageClass>{m.storage_class or 'STANDARD'}</StorageClass>{owner}")


async def list_objects(ctx: Ctx) -> Response:
    """ListObjectsV2 (list-type=2) and the original ListObjects: one indexed range
    read per page, whatever the bucket's size."""
    q = ctx.req.query
    v2 = q.get("list-type") == "2"
    encoding, enc, text = _encoder(q)
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    max_keys = _max_keys(q)
    token = q.get("continuation-token") if v2 else None
    start_after = q.get("start-after", "") if v2 else q.get("marker", "")
    after = _untoken(token) if token is not None else start_after
    if max_keys:
        entries, last = await ctx.state.store.list_objects(ctx.bucket, prefix, delimiter, after, max_keys)
    else:
        await ctx.state.store.bucket(ctx.bucket)
        entries, last = [], None
    owner = _owner(ctx) if (not v2 or q.get("fetch-owner") == "true") else ""
    parts = [xml.el("Name", ctx.bucket), xml.el("Prefix", enc(prefix))]
    if v2:
        if start_after:
            parts.append(xml.el("StartAfter", enc(start_after)))
        if token is not None:
            parts.append(xml.el("ContinuationToken", token))
        if last is not None:
            parts.append(xml.el("NextContinuationToken", _token(last)))
        parts.append(xml.el("KeyCount", len(entries)))
    else:
        parts.append(xml.el("Marker", enc(start_after)))
        if last is not None and delimiter:
            parts.append(xml.el("NextMarker", enc(last)))
    _page_fields(parts, max_keys, delimiter, encoding, enc, last is not None)
    prefixes = []
    for m in entries:
        if isinstance(m, str):
            prefixes.append(m)
        else:
            parts.append(f"<Contents><Key>{text(m.key)}</Key>{_details(m, owner)}</Contents>")
    parts.append(_common_prefixes(prefixes, text))
    return _xml("ListBucketResult", parts)


def _page_fields(parts: list, max_keys: int, delimiter: str, encoding: str | None, enc, truncated: bool) -> None:
    """The fields every listing page shares, in S3's order."""
    parts.append(xml.el("MaxKeys", max_keys))
    if delimiter:
        parts.append(xml.el("Delimiter", enc(delimiter)))
    if encoding:
        parts.append(xml.el("EncodingType", "url"))
    parts.append(xml.el("IsTruncated", truncated))


async def list_object_versions(ctx: Ctx) -> Response:
    """GET ?versions: every version and delete marker, by key, newest first."""
    q = ctx.req.query
    encoding, enc, text = _encoder(q)
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    max_keys = _max_keys(q)
    key_marker, version_marker = q.get("key-marker", ""), q.get("version-id-marker", "")
    if version_marker and not key_marker:
        raise S3Error("InvalidArgument", detail="A version-id marker cannot be specified without a key marker.")
    if max_keys:
        entries, nxt = await ctx.state.store.list_versions(ctx.bucket, prefix, delimiter, key_marker,
                                                           version_marker, max_keys)
    else:
        await ctx.state.store.bucket(ctx.bucket)
        entries, nxt = [], None
    owner = _owner(ctx)
    parts = [xml.el("Name", ctx.bucket), xml.el("Prefix", enc(prefix)), xml.el("KeyMarker", enc(key_marker)),
             xml.el("VersionIdMarker", version_marker)]
    if nxt is not None:
        parts.append(xml.el("NextKeyMarker", enc(nxt[0])))
        if nxt[1]:
            parts.append(xml.el("NextVersionIdMarker", nxt[1]))
    _page_fields(parts, max_keys, delimiter, encoding, enc, nxt is not None)
    prefixes = []
    for m in entries:
        if isinstance(m, str):
            prefixes.append(m)
            continue
        head = (f"<Key>{text(m.key)}</Key><VersionId>{_text(m.version_id)}</VersionId>"
                f"<IsLatest>{'true' if m.latest else 'false'}</IsLatest>")
        if m.delete_marker:
            parts.append(f"<DeleteMarker>{head}<LastModified>{_iso(m.last_modified)}</LastModified>{owner}"
                         "</DeleteMarker>")
        else:
            parts.append(f"<Version>{head}{_details(m, owner)}</Version>")
    parts.append(_common_prefixes(prefixes, text))
    return _xml("ListVersionsResult", parts)


# --- versioning ----------------------------------------------------------------------


async def get_bucket_versioning(ctx: Ctx) -> Response:
    """Enabled or Suspended; a bucket that never had versioning answers an empty document."""
    info = await ctx.state.store.bucket(ctx.bucket)
    return _xml("VersioningConfiguration", [xml.el("Status", info.versioning or None)])


async def put_bucket_versioning(ctx: Ctx) -> Response:
    await ctx.state.store.bucket(ctx.bucket)
    root = xml.parse(await ctx.read_body(64 * 1024))
    if xml.local(root.tag) != "VersioningConfiguration":
        raise S3Error("MalformedXML")
    status = xml.text(root, "Status")
    mfa = (xml.text(root, "MfaDelete") or "Disabled").strip()
    if mfa not in ("Disabled", "Enabled"):
        raise S3Error("MalformedXML")
    if mfa == "Enabled":
        raise S3Error("NotImplemented", elements={"Header": "MfaDelete"})
    if status is None:
        return Response(200)
    status = status.strip()
    if status not in (ENABLED, SUSPENDED):
        raise S3Error("IllegalVersioningConfiguration")
    await ctx.state.store.set_versioning(ctx.bucket, status)
    return Response(200)


# --- default encryption ------------------------------------------------------------


async def put_bucket_encryption(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    body = await ctx.read_body(64 * 1024, require_digest=True)
    config = sse.parse_bucket_encryption_xml(body)
    if "BlockedEncryptionTypes" in config:
        config["BlockedEncryptionTypes"] = list(defaults.check_blocked_types(config["BlockedEncryptionTypes"]))
    else:  # S3 keeps the blocked types a configuration does not mention
        kept = (info.config.get("encryption") or {}).get("BlockedEncryptionTypes")
        if kept:
            config["BlockedEncryptionTypes"] = kept
    await ctx.state.store.set_bucket_config(ctx.bucket, "encryption", config)
    return Response(200)


async def get_bucket_encryption(ctx: Ctx) -> Response:
    """Every bucket has a default since January 2023: SSE-S3 unless configured."""
    config = (await ctx.state.store.bucket(ctx.bucket)).config.get("encryption") or _DEFAULT_ENCRYPTION
    return Response(200, body=sse.render_bucket_encryption_xml(config)).header(*_XML)


async def delete_bucket_encryption(ctx: Ctx) -> Response:
    """Back to SSE-S3; blocked encryption types stay (only NONE unblocks)."""
    kept = ((await ctx.state.store.bucket(ctx.bucket)).config.get("encryption") or {}).get("BlockedEncryptionTypes")
    value = {**_DEFAULT_ENCRYPTION, "BlockedEncryptionTypes": kept} if kept else None
    await ctx.state.store.set_bucket_config(ctx.bucket, "encryption", value)
    return Response(204)
