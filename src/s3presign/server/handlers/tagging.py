"""Tagging: Get/Put/DeleteBucketTagging and Get/Put/DeleteObjectTagging (an object's per
version, ``?versionId``). A write that creates an object sets its first tags, from
x-amz-tagging or POST's ``tagging`` field (handlers.authz)."""

from __future__ import annotations

from s3presign.core.s3errors import S3Error
from s3presign.server.access import tagging
from s3presign.server.handlers import authz
from s3presign.server.handlers.common import version_header, version_param
from s3presign.server.handlers.context import Ctx
from s3presign.server.handlers.subresource import BucketSubresource
from s3presign.server.http import Response

_XML = ("Content-Type", "application/xml")


TAGGING = BucketSubresource(authz.TAGS, lambda body: tagging.parse_tagging_xml(body, bucket=True),
                            tagging.render_tagging_xml, "NoSuchTagSet", put_status=204)
put_bucket_tagging, get_bucket_tagging, delete_bucket_tagging = TAGGING.put, TAGGING.get, TAGGING.delete


async def get_object_tagging(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    meta = await ctx.state.store.head(ctx.bucket, ctx.key, version_param(ctx))
    resp = Response(200, body=tagging.render_tagging_xml(meta.extra.get(authz.TAGS) or {})).header(*_XML)
    return version_header(resp, info, meta)


async def _set_object_tags(ctx: Ctx, tags: dict[str, str] | None, status: int) -> Response:
    """Replace (None: remove) one version's tags; the current version without ``versionId``."""
    store = ctx.state.store
    info = await store.bucket(ctx.bucket)
    meta = await store.update_extra(ctx.bucket, ctx.key, version_param(ctx), {authz.TAGS: tags or None})
    return version_header(Response(status), info, meta)


async def put_object_tagging(ctx: Ctx) -> Response:
    """Authorized here (handlers.authz): the policy's s3:RequestObjectTag keys are the
    body's tags. A malformed body is refused only once the request is authorized."""
    version = version_param(ctx)
    refusal: S3Error | None = None
    tags: dict[str, str] | None = None
    try:
        tags = tagging.parse_tagging_xml(await ctx.read_body(64 * 1024))
    except S3Error as exc:
        refusal = exc
    await authz.check(ctx, "PutObjectTagging", ctx.key, version, request_tags=tags)
    if refusal is not None:
        raise refusal
    return await _set_object_tags(ctx, tags, 200)


async def delete_object_tagging(ctx: Ctx) -> Response:
    return await _set_object_tags(ctx, None, 204)
