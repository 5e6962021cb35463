"""Tagging: Get/Put/DeleteBucketTagging and GetObjectTagging (an object's tags are set
by the write that creates it, x-amz-tagging or POST's ``tagging`` field: handlers.authz)."""

from __future__ import annotations

from s3presign.core.s3errors import S3Error
from s3presign.server.access import tagging
from s3presign.server.handlers import authz
from s3presign.server.handlers.common import version_header
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response

_XML = ("Content-Type", "application/xml")


async def put_bucket_tagging(ctx: Ctx) -> Response:
    await ctx.state.store.bucket(ctx.bucket)
    tags = tagging.parse_tagging_xml(await ctx.read_body(64 * 1024), bucket=True)
    await ctx.state.store.set_bucket_config(ctx.bucket, authz.TAGS, tags)
    return Response(204)


async def get_bucket_tagging(ctx: Ctx) -> Response:
    tags = (await ctx.state.store.bucket(ctx.bucket)).config.get(authz.TAGS)
    if not tags:
        raise S3Error("NoSuchTagSet", elements={"BucketName": ctx.bucket})
    return Response(200, body=tagging.render_tagging_xml(tags)).header(*_XML)


async def delete_bucket_tagging(ctx: Ctx) -> Response:
    await ctx.state.store.set_bucket_config(ctx.bucket, authz.TAGS, None)
    return Response(204)


async def get_object_tagging(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    meta = await ctx.state.store.head(ctx.bucket, ctx.key, ctx.req.query.get("versionId"))
    resp = Response(200, body=tagging.render_tagging_xml(meta.extra.get(authz.TAGS) or {})).header(*_XML)
    return version_header(resp, info, meta)
