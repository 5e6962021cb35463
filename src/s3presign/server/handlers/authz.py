"""Authorization of one request: the server's side of server/access (which is pure).

The app calls :func:`authorize` once per request, after authentication and routing and
before the handler: it turns the request into RequestFacts, the bucket's stored settings
into BucketAccess, and runs every check of ``access.actions.required`` through
``access.authorize.require`` (403 AccessDenied on the first refusal). Two operations
authorize inside their handler, through :func:`check`: DeleteObjects (per key, a refused
key is an <Error> of the result) and POST object (the signer is known only once the form
is verified).
"""

from __future__ import annotations

import calendar
import time
from dataclasses import replace
from functools import lru_cache
from typing import Callable, Mapping
from urllib.parse import unquote

from s3presign.core.s3errors import S3Error
from s3presign.core.verify import AuthResult
from s3presign.server.access import acl as acls
from s3presign.server.access import defaults, tagging
from s3presign.server.access.actions import Check, required
from s3presign.server.access.authorize import BucketAccess, ObjectAccess, PublicAccessBlock, check_acl_write, require
from s3presign.server.access.context import AUTH_HEADER, AUTH_POST, AUTH_QUERY, RequestFacts, request_context
from s3presign.server.access.policy import ANONYMOUS, Policy, RequestContext, RequestPrincipal, parse_policy
from s3presign.server.handlers.context import Account, Ctx
from s3presign.server.http import Request
from s3presign.server.storage import BucketInfo

# Bucket configuration items (BucketInfo.config) that hold access settings.
OWNER = "owner"                 # {"id", "account", "name"}
POLICY = "policy"               # the policy text as put
OWNERSHIP = "ownership"         # Object Ownership setting
PUBLIC_ACCESS_BLOCK = "public_access_block"   # {"block_public_acls": bool, ...}
ACL = "acl"                     # the AccessControlPolicy XML (none: private to the owner)
TAGS = "tags"                   # ObjectMeta.extra and BucketInfo.config: {key: value}
OBJECT_OWNER = "owner"          # ObjectMeta.extra: [canonical id, display name] of the object's owner

# The owner S3 gives an object an anonymous request writes (ObjectWriter buckets).
ANONYMOUS_OWNER = acls.Owner("65a011a29cdf8ec533ec3d1ccaae921c", "anonymous")

# Operations that need no bucket (or whose bucket does not exist yet): any account may.
_ACCOUNT_OPERATIONS = frozenset({"ListBuckets", "CreateBucket"})
# Operations whose handler authorizes (see the module docstring).
_IN_HANDLER = frozenset({"DeleteObjects", "PostObject", "PutObjectTagging"})
# Writes that a bucket blocking SSE-C refuses when they ask for it (the destination's
# header: a copy's source key is x-amz-copy-source-server-side-encryption-customer-*).
_SSEC_WRITES = frozenset({"PutObject", "PostObject", "CopyObject", "CreateMultipartUpload"})
_SSEC_HEADER = "x-amz-server-side-encryption-customer-algorithm"
# Reads of a key that may not exist: 404 rather than 403 for who may list the bucket.
_MISSING_IS_404 = frozenset({"GetObject", "HeadObject"})
# Writes whose x-amz-tagging (POST: the ``tagging`` field) the policy keys describe.
_TAGGING_WRITES = frozenset({"PutObject", "PostObject", "CopyObject", "CreateMultipartUpload"})
# Operations decided by the existing object's owner and ACL (where ACLs apply), and
# whose policy conditions may test its tags (s3:ExistingObjectTag/<key>).
_OBJECT_READS = frozenset({"GetObject", "HeadObject", "GetObjectAcl", "GetObjectTagging", "GetObjectAttributes",
                           "PutObjectAcl", "PutObjectTagging", "DeleteObjectTagging"})
# Reads whose handler serves the very version authorization looked up (one read of
# the bucket and the object, one snapshot); see Ctx.found.
_SERVED = frozenset({"GetObject", "HeadObject"})


class Access:
    """Who sends the request and what the server knows of it. ``facts`` is made on
    first use: only a bucket policy (and a few handlers) read it, and most buckets
    have none."""

    __slots__ = ("principal", "account", "object_extra", "_facts", "_make")

    def __init__(self, principal: RequestPrincipal, account: Account | None,
                 make: Callable[[], RequestFacts]) -> None:
        self.principal = principal
        self.account = account
        # what a write stores in the new object's ObjectMeta.extra: its owner and ACL
        self.object_extra: dict = {}
        self._facts: RequestFacts | None = None
        self._make: Callable[[], RequestFacts] | None = make

    @property
    def facts(self) -> RequestFacts:
        made = self._facts
        if made is None:
            made = self._facts = self._make()  # type: ignore[misc]
            self._make = None
        return made

    def refine(self, **changes) -> None:
        """Facts only known after a read (the existing object's tags, a body's tags)."""
        self._facts = replace(self.facts, **changes)


@lru_cache(maxsize=256)
def principal(account: Account | None) -> RequestPrincipal:
    if account is None:
        return ANONYMOUS
    return RequestPrincipal(account.account_id, account.canonical_id, f"arn:aws:iam::{account.account_id}:root")


def _signature_age_ms(req: Request, now: float) -> int | None:
    stamp = req.query.get("X-Amz-Date") or req.headers.get("x-amz-date")
    if not stamp:
        return None
    try:
        signed = calendar.timegm(time.strptime(stamp.strip(), "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return None
    return int((now - signed) * 1000)


def facts(ctx: Ctx, *, post: bool = False, fields: Mapping[str, str] | None = None) -> RequestFacts:
    """``fields``: a POST form's fields, which stand for the headers of other writes."""
    return _facts(ctx.req, ctx.auth, ctx.operation, post, fields)


def _facts(req: Request, auth: AuthResult | None, operation: str | None, post: bool,
           fields: Mapping[str, str] | None) -> RequestFacts:
    now = time.time()
    client = req.scope.get("client")
    if auth is None:
        auth_type, version, age = None, None, None
    else:
        auth_type = AUTH_POST if post else (AUTH_QUERY if auth.presigned else AUTH_HEADER)
        version = auth.signature_version
        age = _signature_age_ms(req, now) if version == "v4" and not post else None
    headers = req.headers if fields is None else {k.lower(): v for k, v in fields.items()}
    return RequestFacts(
        headers=headers, query=req.query, auth_type=auth_type, signature_version=version,
        signature_age_ms=age, secure=req.secure, source_ip=client[0] if client else None, now=now,
        username=auth.access_key if auth is not None else None,
        request_tags=_request_tags(operation, headers),
    )


def _request_tags(operation: str | None, headers: Mapping[str, str]) -> dict[str, str] | None:
    """The tags a write sets, for s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys
    (None: the request sets none, and the keys are absent). Malformed tags count as none
    here: the handler refuses them with S3's error, once authorized."""
    if operation not in _TAGGING_WRITES:
        return None
    try:
        tags = _object_tags(operation, headers)
    except S3Error:
        return None
    return tags or None


def access_of(ctx: Ctx, *, post: bool = False, fields: Mapping[str, str] | None = None) -> Access:
    auth, req = ctx.auth, ctx.req
    account = ctx.state.account(auth.access_key) if auth is not None else None
    # the request and its auth, not ctx: ctx holds this Access (no reference cycle per request)
    operation = ctx.operation
    return Access(principal(account), account, lambda: _facts(req, auth, operation, post, fields))


def owner_of(ctx: Ctx, info: BucketInfo) -> Account:
    """The bucket's owner; a bucket created before owners were recorded is the first user's."""
    stored = info.config.get(OWNER)
    if not stored:
        return ctx.state.first_account
    # the display name the operator configures now, not the one stored at creation
    return ctx.state.account_by_id(stored["id"]) or Account(stored["id"], stored["account"], stored["name"])


def owner_record(account: Account) -> dict[str, str]:
    return {"id": account.canonical_id, "account": account.account_id, "name": account.display_name}


@lru_cache(maxsize=256)
def _policy(bucket: str, text: str) -> Policy:
    return parse_policy(text, bucket)


@lru_cache(maxsize=1024)
def parse_stored_acl(text: str) -> acls.AccessControlPolicy:
    return acls.parse_acl_xml(text.encode())


def resolver(ctx: Ctx):
    """Canonical id -> the account's Owner, for grants naming a user (None: unknown id)."""
    def resolve(canonical_id: str) -> acls.Owner | None:
        account = ctx.state.account_by_id(canonical_id)
        return acls.Owner(account.canonical_id, account.display_name) if account is not None else None
    return resolve


def requested_acl(ctx: Ctx, owner: acls.Owner, bucket_owner: acls.Owner | None = None, *,
                  bucket: bool = False, headers: Mapping[str, str] | None = None) -> acls.AccessControlPolicy | None:
    """The ACL a write or CreateBucket asks for (x-amz-acl or x-amz-grant-*), if any."""
    return acls.acl_from_request(ctx.req.headers if headers is None else headers, owner, bucket_owner,
                                 bucket=bucket, resolve_id=resolver(ctx))


def _object_tags(operation: str, headers: Mapping[str, str]) -> dict[str, str] | None:
    """The tags a write sets (None: a copy that keeps its source's). POST's ``tagging``
    field is a Tagging document; the headers' x-amz-tagging is URL-encoded."""
    if operation == "PostObject":
        field_text = headers.get("tagging")
        return tagging.parse_tagging_xml(field_text.encode()) if field_text else {}
    replace = operation != "CopyObject" or tagging.tagging_directive(headers) == "REPLACE"
    if not replace:
        return None
    value = headers.get("x-amz-tagging")
    return tagging.parse_tagging_header(value) if value else {}


def _object_extra(ctx: Ctx, access: BucketAccess, headers: Mapping[str, str]) -> dict:
    """Owner, ACL and tags of the object a write creates, after S3's Object Ownership and
    BlockPublicAcls checks of the ACL it asks for."""
    account = ctx.access.account
    writer = acls.Owner(account.canonical_id, account.display_name) if account else ANONYMOUS_OWNER
    requested = requested_acl(ctx, writer, access.owner, headers=headers)
    acls.check_write_acl(access.ownership, requested, access.owner, headers)
    check_acl_write(requested, access)
    owner = acls.object_owner(access.ownership, writer, access.owner, headers.get("x-amz-acl"))
    extra: dict = {OBJECT_OWNER: [owner.id, owner.display_name]}
    tags = _object_tags(ctx.operation or "", headers)
    if tags is not None:
        extra[TAGS] = tags
    if requested is not None and access.ownership != acls.BUCKET_OWNER_ENFORCED:
        extra[ACL] = acls.render_acl_xml(acls.AccessControlPolicy(owner, requested.grants)).decode()
    return extra


def object_access(access: BucketAccess, extra: Mapping) -> ObjectAccess:
    stored = extra.get(OBJECT_OWNER)
    owner = acls.Owner(stored[0], stored[1]) if stored else access.owner
    text = extra.get(ACL)
    return ObjectAccess(owner, parse_stored_acl(text) if text else None)


_ACCESS_CACHE = 1024
_accesses: dict[tuple[str, str, Account | None], BucketAccess] = {}


def bucket_access(ctx: Ctx, info: BucketInfo) -> BucketAccess:
    if not info.stored:
        return _derive(owner_of(ctx, info), info)
    # Keyed by the settings' text as read for this request, so never stale: a change
    # made by any instance is a different text.
    first = None if info.config.get(OWNER) else ctx.state.first_account
    key = (info.name, info.stored, first)
    access = _accesses.get(key)
    if access is None:
        if len(_accesses) >= _ACCESS_CACHE:
            _accesses.clear()
        access = _accesses[key] = _derive(owner_of(ctx, info), info)
    return access


def _derive(owner: Account, info: BucketInfo) -> BucketAccess:
    text = info.config.get(POLICY)
    pab = info.config.get(PUBLIC_ACCESS_BLOCK)
    acl_text = info.config.get(ACL)
    return BucketAccess(
        acl=parse_stored_acl(acl_text) if acl_text else None,
        owner=acls.Owner(owner.canonical_id, owner.display_name),
        owner_account=owner.account_id,
        policy=_policy(info.name, text) if text else None,
        ownership=info.config.get(OWNERSHIP, acls.OBJECT_WRITER),   # none set: S3's ObjectWriter
        public_access_block=PublicAccessBlock(**pab) if pab else PublicAccessBlock(),
    )


def _copy_source(ctx: Ctx) -> tuple[str, str, str | None] | None:
    """(bucket, key, version) of x-amz-copy-source; None if malformed (the handler refuses it)."""
    raw = ctx.req.headers.get("x-amz-copy-source", "")
    path, _, query = raw.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        return None
    version = None
    if query.startswith("versionId="):
        version = unquote(query[len("versionId="):])
    return bucket, key, version


def _run(ctx: Ctx, checks: list[Check], infos: dict[str, BucketInfo], obj: ObjectAccess | None = None,
         source_obj: ObjectAccess | None = None) -> None:
    who = ctx.access
    for c in checks:
        bucket_name = c.resource[len("arn:aws:s3:::"):].partition("/")[0]
        access = bucket_access(ctx, infos[bucket_name])
        if access.policy is None:  # the condition keys are read by a policy only
            rc = RequestContext(who.principal, c.action, c.resource)
        else:
            rc = request_context(who.principal, c.action, c.resource, who.facts)
        require(c, rc, access, source_obj if c.source else obj)


async def _existing(ctx: Ctx, access: BucketAccess, bucket: str, key: str, version: str | None, *,
                    tags: bool = False) -> ObjectAccess | None:
    """The object a read names, for its owner and ACL (only where ACLs apply: with
    BucketOwnerEnforced the bucket's owner owns everything) and, with ``tags`` and a
    bucket policy, its tags for s3:ExistingObjectTag. None if it cannot be read: the
    handler then gives S3's error for it, once authorized on the bucket's terms."""
    enforced = access.ownership == acls.BUCKET_OWNER_ENFORCED
    want_tags = tags and access.policy is not None
    if enforced and not want_tags:
        return None
    try:
        meta = await ctx.state.store.head(bucket, key, version)
    except S3Error:
        return None
    if want_tags and meta.extra.get(TAGS):
        ctx.access.refine(existing_tags=meta.extra[TAGS])
    return None if enforced else object_access(access, meta.extra)


def _expected_owner(ctx: Ctx, info: BucketInfo, header: str) -> None:
    """x-amz-expected-bucket-owner (a copy's source: x-amz-source-expected-bucket-owner):
    the account id the caller expects owns the bucket; any other owner is S3's 403."""
    expected = ctx.req.headers.get(header)
    if expected is not None and expected.strip() != owner_of(ctx, info).account_id:
        raise S3Error("AccessDenied")


async def _may_learn_missing(ctx: Ctx, info: BucketInfo) -> bool:
    """S3 (GetObject): a key that does not exist is 404 to a requester allowed
    s3:ListBucket on the bucket (who could list it anyway), 403 to anyone else."""
    try:
        await ctx.state.store.head(ctx.bucket, ctx.key, ctx.req.query.get("versionId"))
        return False
    except S3Error as exc:
        if exc.name not in ("NoSuchKey", "NoSuchVersion"):
            return False
    try:
        _run(ctx, required("ListObjects", ctx.bucket), {ctx.bucket: info})
    except S3Error:
        return False
    return True


async def authorize(ctx: Ctx, operation: str | None) -> None:
    """The one authorization call per request (see the module docstring)."""
    ctx.operation = operation
    if operation is None or operation == "PostObject":
        return
    ctx.access = access_of(ctx)
    if operation in _ACCOUNT_OPERATIONS:
        if ctx.access.account is None:
            raise S3Error("AnonymousDenied")
        return
    store = ctx.state.store
    headers = ctx.req.headers
    if operation in _SERVED and "versionId" not in ctx.req.raw_query:
        info, found = await store.lookup(ctx.bucket, ctx.key)
        _expected_owner(ctx, info, "x-amz-expected-bucket-owner")
        ctx.found = found
        ctx.found_versioned = bool(info.versioning)
        obj = None
        if found is not None:
            access = bucket_access(ctx, info)
            enforced = access.ownership == acls.BUCKET_OWNER_ENFORCED
            if access.policy is None:
                # No policy, so no explicit deny: the owner of the object (with
                # BucketOwnerEnforced, of the bucket) is allowed; GetObject is one check.
                stored = None if enforced else found.extra.get(OBJECT_OWNER)
                who = ctx.access.principal.canonical_id
                if who is not None and who == (stored[0] if stored else access.owner.id):
                    return
            elif found.extra.get(TAGS):
                ctx.access.refine(existing_tags=found.extra[TAGS])
            if not enforced:
                obj = object_access(access, found.extra)
        needs = frozenset({"tagging"} if "x-amz-tagging" in headers else ())
        try:
            _run(ctx, required(operation, ctx.bucket, ctx.key or None, facts=needs), {ctx.bucket: info}, obj)
        except S3Error:
            if found is None and await _may_learn_missing(ctx, info):
                return   # the handler answers 404 NoSuchKey
            raise
        return
    infos = {ctx.bucket: await store.bucket(ctx.bucket)}
    _expected_owner(ctx, infos[ctx.bucket], "x-amz-expected-bucket-owner")
    if operation in _IN_HANDLER:
        return
    source = None
    if operation in ("CopyObject", "UploadPartCopy"):
        source = _copy_source(ctx)
        if source is None:
            return
        if source[0] not in infos:
            infos[source[0]] = await store.bucket(source[0])
        _expected_owner(ctx, infos[source[0]], "x-amz-source-expected-bucket-owner")
    # tags at write need s3:PutObjectTagging; an ACL at write is decided by the write's own grant
    needs = frozenset({"tagging"} if "x-amz-tagging" in headers else ())
    checks = required(operation, ctx.bucket, ctx.key or None, version_id=ctx.req.query.get("versionId"),
                      source=source, facts=needs)
    obj = source_obj = None
    if operation in _OBJECT_READS:
        obj = await _existing(ctx, bucket_access(ctx, infos[ctx.bucket]), ctx.bucket, ctx.key,
                              ctx.req.query.get("versionId"), tags=True)
    elif source is not None:   # a copy reads its source on the source object's owner and ACL
        source_obj = await _existing(ctx, bucket_access(ctx, infos[source[0]]), *source)
    try:
        _run(ctx, checks, infos, obj, source_obj)
    except S3Error:
        if operation in _MISSING_IS_404 and await _may_learn_missing(ctx, infos[ctx.bucket]):
            return   # the handler answers 404 NoSuchKey
        raise
    if operation in _SSEC_WRITES:
        defaults.check_ssec_write(infos[ctx.bucket].config.get("encryption"), _SSEC_HEADER in ctx.req.headers)
        ctx.access.object_extra.update(_object_extra(ctx, bucket_access(ctx, infos[ctx.bucket]), ctx.req.headers))


async def check(ctx: Ctx, operation: str, key: str, version_id: str | None = None, *,
                post: bool = False, info: BucketInfo | None = None,
                fields: Mapping[str, str] | None = None, request_tags: Mapping[str, str] | None = None) -> None:
    """Authorize one key of DeleteObjects, a POST object once its signer is known, or a
    PutObjectTagging once its body gave the tags (``request_tags``) its policy keys name."""
    if ctx.access is None or post:
        ctx.access = access_of(ctx, post=post, fields=fields)
    if request_tags:
        ctx.access.refine(request_tags=dict(request_tags))
    if info is None:
        info = await ctx.state.store.bucket(ctx.bucket)
    obj = None
    if operation in _OBJECT_READS:
        obj = await _existing(ctx, bucket_access(ctx, info), ctx.bucket, key, version_id, tags=True)
    _run(ctx, required(operation, ctx.bucket, key, version_id=version_id), {ctx.bucket: info}, obj)
    if operation in _SSEC_WRITES:
        headers = ctx.access.facts.headers
        defaults.check_ssec_write(info.config.get("encryption"), _SSEC_HEADER in headers)
        acl_field = {"x-amz-acl": headers["acl"]} if "acl" in headers else {}   # POST's form field
        ctx.access.object_extra.update(_object_extra(ctx, bucket_access(ctx, info), {**headers, **acl_field}))
