"""A bucket configuration kept as one value of the bucket's config (CORS, tagging,
Object Ownership, Block Public Access): its Put, Get and Delete differ only in
these fields, so each is a row and the three handlers are the row's methods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from s3presign.core.s3errors import S3Error
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response

_LIMIT = 64 * 1024


@dataclass(frozen=True)
class BucketSubresource:
    config_key: str
    parse: Callable[[bytes], Any]  # the request body -> the stored value (raises S3Error)
    render: Callable[[Any], bytes]  # the stored value -> the Get body
    missing: str  # the error code of a Get when nothing is stored (or the value is empty)
    put_status: int = 200
    require_digest: bool = False  # S3 requires Content-MD5 (or a checksum) on this Put

    async def put(self, ctx: Ctx) -> Response:
        await ctx.state.store.bucket(ctx.bucket)
        body = await ctx.read_body(_LIMIT, require_digest=self.require_digest)
        await ctx.state.store.set_bucket_config(ctx.bucket, self.config_key, self.parse(body))
        return Response(self.put_status)

    async def get(self, ctx: Ctx) -> Response:
        value = (await ctx.state.store.bucket(ctx.bucket)).config.get(self.config_key)
        if not value:
            raise S3Error(self.missing, elements={"BucketName": ctx.bucket})
        return Response(200, body=self.render(value)).header("Content-Type", "application/xml")

    async def delete(self, ctx: Ctx) -> Response:
        await ctx.state.store.set_bucket_config(ctx.bucket, self.config_key, None)
        return Response(204)
