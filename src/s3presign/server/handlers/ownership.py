"""Object Ownership and Block Public Access of a bucket:
Put/Get/DeleteBucketOwnershipControls and Put/Get/DeletePublicAccessBlock."""

from __future__ import annotations

from dataclasses import asdict

from s3presign.core.s3errors import S3Error
from s3presign.server.access import acl as acls
from s3presign.server.access import defaults
from s3presign.server.access.authorize import PublicAccessBlock
from s3presign.server.handlers import authz
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response

_XML = ("Content-Type", "application/xml")


async def put_ownership_controls(ctx: Ctx) -> Response:
    await ctx.state.store.bucket(ctx.bucket)
    value = acls.parse_ownership_controls(await ctx.read_body(64 * 1024))
    await ctx.state.store.set_bucket_config(ctx.bucket, authz.OWNERSHIP, value)
    return Response(200)


async def get_ownership_controls(ctx: Ctx) -> Response:
    value = (await ctx.state.store.bucket(ctx.bucket)).config.get(authz.OWNERSHIP)
    if not value:
        raise S3Error("OwnershipControlsNotFound", elements={"BucketName": ctx.bucket})
    return Response(200, body=acls.render_ownership_controls(value)).header(*_XML)


async def delete_ownership_controls(ctx: Ctx) -> Response:
    await ctx.state.store.set_bucket_config(ctx.bucket, authz.OWNERSHIP, None)
    return Response(204)


async def put_public_access_block(ctx: Ctx) -> Response:
    await ctx.state.store.bucket(ctx.bucket)
    pab = defaults.parse_public_access_block(await ctx.read_body(64 * 1024))
    await ctx.state.store.set_bucket_config(ctx.bucket, authz.PUBLIC_ACCESS_BLOCK, asdict(pab))
    return Response(200)


async def get_public_access_block(ctx: Ctx) -> Response:
    stored = (await ctx.state.store.bucket(ctx.bucket)).config.get(authz.PUBLIC_ACCESS_BLOCK)
    if stored is None:
        raise S3Error("NoSuchPublicAccessBlockConfiguration", elements={"BucketName": ctx.bucket})
    return Response(200, body=defaults.render_public_access_block(PublicAccessBlock(**stored))).header(*_XML)


async def delete_public_access_block(ctx: Ctx) -> Response:
    await ctx.state.store.set_bucket_config(ctx.bucket, authz.PUBLIC_ACCESS_BLOCK, None)
    return Response(204)
