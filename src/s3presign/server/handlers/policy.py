"""Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus.

The policy is validated once here (access.policy.parse_policy: S3's MalformedPolicy for
the first fault) and stored as sent; authorization (handlers.authz) evaluates it."""

from __future__ import annotations

from s3presign.core.s3errors import S3Error
from s3presign.server.access import defaults
from s3presign.server.access.authorize import check_policy_write
from s3presign.server.access.policy import MAX_POLICY_BYTES, is_public, parse_policy
from s3presign.server.handlers import authz
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response


async def put_bucket_policy(ctx: Ctx) -> Response:
    info = await ctx.state.store.bucket(ctx.bucket)
    body = await ctx.read_body(MAX_POLICY_BYTES * 4)
    policy = parse_policy(body, ctx.bucket)
    account = ctx.access.account
    who = f"arn:aws:iam::{account.account_id}:root" if account is not None else "anonymous"
    check_policy_write(policy, authz.bucket_access(ctx, info), who, ctx.bucket)
    await ctx.state.store.set_bucket_config(ctx.bucket, authz.POLICY, policy.text)
    return Response(204)


async def _text(ctx: Ctx) -> str:
    text = (await ctx.state.store.bucket(ctx.bucket)).config.get(authz.POLICY)
    if not text:
        raise S3Error("NoSuchBucketPolicy", elements={"BucketName": ctx.bucket})
    return text


async def get_bucket_policy(ctx: Ctx) -> Response:
    return Response(200, body=(await _text(ctx)).encode()).header("Content-Type", "application/json")


async def delete_bucket_policy(ctx: Ctx) -> Response:
    await ctx.state.store.bucket(ctx.bucket)
    await ctx.state.store.set_bucket_config(ctx.bucket, authz.POLICY, None)
    return Response(204)


async def get_bucket_policy_status(ctx: Ctx) -> Response:
    text = await _text(ctx)
    public = is_public(parse_policy(text, ctx.bucket))
    return Response(200, body=defaults.render_policy_status(public)).header("Content-Type", "application/xml")
