"""ACLs: Get/PutBucketAcl (S3's AccessControlPolicy XML, a canned ACL or grant headers)
and GetObjectAcl (an object's ACL is set by the write that creates it: handlers.authz).
Whether ACLs apply at all is the bucket's Object Ownership (access.acl)."""

from __future__ import annotations

from s3presign.core.s3errors import S3Error
from s3presign.server.access import acl as acls
from s3presign.server.access.authorize import check_acl_write
from s3presign.server.handlers import authz
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response

MAX_ACL_BYTES = 64 * 1024


async def put_bucket_acl(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    access = authz.bucket_access(ctx, info)
    owner = access.owner
    body = await ctx.read_body(MAX_ACL_BYTES)
    from_headers = authz.requested_acl(ctx, owner, bucket=True)
    if from_headers is not None and body.strip():
        raise S3Error("UnexpectedContent")
    if from_headers is not None:
        acp = from_headers
    elif body.strip():
        acp = acls.parse_acl_xml(body, resolve_id=authz.resolver(ctx))
        if acp.owner.id != owner.id:
            raise S3Error("AclOwnerMismatch")
    else:
        raise S3Error("MissingSecurityHeader", elements={"MissingHeaderName": "x-amz-acl"})
    acls.check_put_acl(access.ownership)
    check_acl_write(acp, access)
    await ctx.state.store.set_bucket_config(ctx.bucket, authz.ACL, acls.render_acl_xml(acp).decode())
    return Response(200)


async def get_object_acl(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    access = authz.bucket_access(ctx, info)
    meta = await ctx.state.store.head(ctx.bucket, ctx.key, ctx.req.query.get("versionId"))
    obj = authz.object_access(access, meta.extra)
    stored = obj.acl or acls.canned_acl("private", obj.owner)
    acp = acls.effective_acl(access.ownership, stored, access.owner)
    return Response(200, body=acls.render_acl_xml(acp)).header("Content-Type", "application/xml")


async def get_bucket_acl(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    access = authz.bucket_access(ctx, info)
    stored = access.acl or acls.canned_acl("private", access.owner, bucket=True)
    acp = acls.effective_acl(access.ownership, stored, access.owner)
    return Response(200, body=acls.render_acl_xml(acp)).header("Content-Type", "application/xml")
