"""ACLs: Get/PutBucketAcl and Get/PutObjectAcl (S3's AccessControlPolicy XML, a canned
ACL or grant headers; an object's per version, ``?versionId``). A write that creates an
object sets its first ACL (handlers.authz). Whether ACLs apply at all is the bucket's
Object Ownership (access.acl)."""

from __future__ import annotations

from dataclasses import replace

from s3presign.core.s3errors import S3Error
from s3presign.server.access import acl as acls
from s3presign.server.access.authorize import check_acl_write
from s3presign.server.handlers import authz
from s3presign.server.handlers.common import version_header, version_param
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response

MAX_ACL_BYTES = 64 * 1024


def _named(ctx: Ctx, acp: acls.AccessControlPolicy) -> acls.AccessControlPolicy:
    """The ACL with each known account's display name as configured now (the stored
    XML keeps the name it had when it was written)."""
    def name(canonical_id: str | None, stored: str | None) -> str | None:
        account = ctx.state.account_by_id(canonical_id) if canonical_id else None
        return account.display_name if account is not None else stored

    grants = tuple(
        acls.Grant(replace(g.grantee, display_name=name(g.grantee.id, g.grantee.display_name)), g.permission)
        if g.grantee.type == "CanonicalUser" else g
        for g in acp.grants)
    return acls.AccessControlPolicy(acls.Owner(acp.owner.id, name(acp.owner.id, acp.owner.display_name)), grants)


async def _requested(ctx: Ctx, owner: acls.Owner, bucket_owner: acls.Owner | None, *,
                     bucket: bool) -> acls.AccessControlPolicy:
    """The ACL a Put*Acl sets: x-amz-acl or x-amz-grant-* headers, or the XML body (one
    of them; the body's Owner must be the resource's owner)."""
    body = await ctx.read_body(MAX_ACL_BYTES)
    from_headers = authz.requested_acl(ctx, owner, bucket_owner, bucket=bucket)
    if from_headers is not None and body.strip():
        raise S3Error("UnexpectedContent")
    if from_headers is not None:
        return from_headers
    if not body.strip():
        raise S3Error("MissingSecurityHeader", elements={"MissingHeaderName": "x-amz-acl"})
    acp = acls.parse_acl_xml(body, resolve_id=authz.resolver(ctx))
    if acp.owner.id != owner.id:
        raise S3Error("AclOwnerMismatch")
    return acp


async def put_bucket_acl(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    access = authz.bucket_access(ctx, info)
    acp = await _requested(ctx, access.owner, None, bucket=True)
    acls.check_put_acl(access.ownership)
    check_acl_write(acp, access)
    await ctx.state.store.set_bucket_config(ctx.bucket, authz.ACL, acls.render_acl_xml(acp).decode())
    return Response(200)


async def put_object_acl(ctx: Ctx) -> Response:
    """One version's ACL (the current one without ``versionId``); its owner stays."""
    store = ctx.state.store
    info = await store.bucket(ctx.bucket)
    access = authz.bucket_access(ctx, info)
    version = version_param(ctx)
    meta = await store.head(ctx.bucket, ctx.key, version)
    obj = authz.object_access(access, meta.extra)
    acp = await _requested(ctx, obj.owner, access.owner, bucket=False)
    acls.check_put_acl(access.ownership)
    check_acl_write(acp, access)
    text = acls.render_acl_xml(acls.AccessControlPolicy(obj.owner, acp.grants)).decode()
    meta = await store.update_extra(ctx.bucket, ctx.key, version, {authz.ACL: text})
    return version_header(Response(200), info, meta)


async def get_object_acl(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    access = authz.bucket_access(ctx, info)
    meta = await ctx.state.store.head(ctx.bucket, ctx.key, version_param(ctx))
    obj = authz.object_access(access, meta.extra)
    stored = obj.acl or acls.canned_acl("private", obj.owner)
    acp = acls.effective_acl(access.ownership, stored, access.owner)
    resp = Response(200, body=acls.render_acl_xml(_named(ctx, acp))).header("Content-Type", "application/xml")
    return version_header(resp, info, meta)


async def get_bucket_acl(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    access = authz.bucket_access(ctx, info)
    stored = access.acl or acls.canned_acl("private", access.owner, bucket=True)
    acp = acls.effective_acl(access.ownership, stored, access.owner)
    return Response(200, body=acls.render_acl_xml(_named(ctx, acp))).header("Content-Type", "application/xml")
