"""S3's authorization decision for one (action, resource) check, as a pure function.

The order, for a requester who is an account (this server has no IAM users):

1. an explicit Deny in the bucket policy refuses (except the owner's Get/Put/
   DeleteBucketPolicy, which no policy can take away);
2. the owner of the resource that governs the action is allowed (the bucket's owner
   for bucket actions and for writes and deletes of objects; the object's owner for
   reading an object or its ACL or tags; with BucketOwnerEnforced the bucket's owner
   owns every object);
3. an Allow in the bucket policy allows, if the bucket owner owns that resource (a
   bucket policy cannot give away another account's object) and Block Public Access
   RestrictPublicBuckets does not set a public policy aside;
4. a grant in the governing ACL allows, unless ACLs are disabled (BucketOwnerEnforced);
   IgnorePublicAcls sets aside grants to AllUsers / AuthenticatedUsers;
5. otherwise 403 AccessDenied. Anonymous requests go through the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from s3presign.core.s3errors import S3Error
from s3presign.server.access import acl as acls
from s3presign.server.access.actions import Check
from s3presign.server.access.policy import (
    Decision,
    Policy,
    RequestContext,
    RequestPrincipal,
    evaluate,
    is_public,
)


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False


@dataclass(frozen=True, slots=True)
class BucketAccess:
    """What authorization needs to know of a bucket."""

    owner: acls.Owner
    owner_account: str | None = None          # 12-digit account id of the owner
    policy: Policy | None = None
    acl: acls.AccessControlPolicy | None = None   # None: private to the owner
    ownership: str = acls.BUCKET_OWNER_ENFORCED
    public_access_block: PublicAccessBlock = field(default_factory=PublicAccessBlock)


@dataclass(frozen=True, slots=True)
class ObjectAccess:
    owner: acls.Owner
    acl: acls.AccessControlPolicy | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str     # which rule decided: for logs and tests, never sent to the client


# Object actions decided by the object's owner and the object's ACL; every other
# object action (writes, deletes, multipart) is decided in the bucket's context.
_OBJECT_CONTEXT = frozenset({
    "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl", "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging", "s3:GetObjectAttributes",
    "s3:GetObjectVersionAttributes", "s3:GetObjectTorrent", "s3:RestoreObject",
})


_LOCKOUT_PROOF = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})


def _is(who: RequestPrincipal, owner: acls.Owner) -> bool:
    return who.canonical_id is not None and who.canonical_id == owner.id


def authorize(check: Check, ctx: RequestContext, bucket: BucketAccess, obj: ObjectAccess | None = None) -> Verdict:
    """One check. ``bucket``: the bucket the resource lives in (a copy source's own
    bucket for its check); ``obj``: the existing object, if the action reads one."""
    who = ctx.principal
    if check.action in _LOCKOUT_PROOF and _is(who, bucket.owner):
        # AWS: the owning account's root can always get, put and delete the bucket
        # policy, even when the policy denies it, so that no policy can lock it out.
        return Verdict(True, "owner (bucket policy actions)")
    decision = evaluate(bucket.policy, ctx)
    if decision is Decision.DENY:
        return Verdict(False, "explicit deny in the bucket policy")

    enforced = bucket.ownership == acls.BUCKET_OWNER_ENFORCED
    in_object_context = obj is not None and check.action in _OBJECT_CONTEXT
    resource_owner = obj.owner if in_object_context and not enforced else bucket.owner
    if _is(who, resource_owner):
        return Verdict(True, "owner")

    pab = bucket.public_access_block
    if decision is Decision.ALLOW and resource_owner.id == bucket.owner.id:
        if pab.restrict_public_buckets and is_public(bucket.policy) and who.account_id != bucket.owner_account:
            pass   # RestrictPublicBuckets: a public policy serves only the owner's account
        else:
            return Verdict(True, "allowed by the bucket policy")

    if not enforced:
        level, permission = acls.ACL_GRANTS.get(check.action, (None, None))
        grants: tuple[acls.Grant, ...] = ()
        if level == "bucket":
            grants = bucket.acl.grants if bucket.acl is not None else ()
        elif level == "object" and obj is not None:
            grants = obj.acl.grants if obj.acl is not None else ()
        if permission and acls.acl_allows(grants, who, permission, ignore_public=pab.ignore_public_acls):
            return Verdict(True, f"allowed by the {level} ACL ({permission})")
    return Verdict(False, "no grant")


def require(check: Check, ctx: RequestContext, bucket: BucketAccess, obj: ObjectAccess | None = None) -> None:
    """authorize(), raising S3's 403 AccessDenied when refused."""
    if not authorize(check, ctx, bucket, obj).allowed:
        raise S3Error("AnonymousDenied" if ctx.principal.anonymous else "AccessDenied")


# --- Block Public Access on writes of policies and ACLs -----------------------------------


def check_policy_write(policy: Policy, bucket: BucketAccess, principal_arn: str, bucket_name: str) -> None:
    """PutBucketPolicy under BlockPublicPolicy: a public policy is refused (403)."""
    if bucket.public_access_block.block_public_policy and is_public(policy):
        raise S3Error("PublicPolicyBlocked", principal=principal_arn, bucket=bucket_name)


def check_acl_write(acp: acls.AccessControlPolicy | None, bucket: BucketAccess) -> None:
    """Put*Acl, and PUT/POST/Copy/CreateBucket/CreateMultipartUpload carrying an ACL,
    under BlockPublicAcls: a public ACL is refused (403)."""
    if acp is not None and bucket.public_access_block.block_public_acls and acp.is_public:
        raise S3Error("PublicAclBlocked")
