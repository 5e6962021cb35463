"""Object Ownership and Block Public Access of a bucket:
Put/Get/DeleteBucketOwnershipControls and Put/Get/DeletePublicAccessBlock."""

from __future__ import annotations

from dataclasses import asdict

from s3presign.server.access import acl as acls
from s3presign.server.access import defaults
from s3presign.server.access.authorize import PublicAccessBlock
from s3presign.server.handlers import authz
from s3presign.server.handlers.subresource import BucketSubresource

OWNERSHIP = BucketSubresource(authz.OWNERSHIP, acls.parse_ownership_controls, acls.render_ownership_controls,
                              "OwnershipControlsNotFound")
put_ownership_controls, get_ownership_controls, delete_ownership_controls = (
    OWNERSHIP.put, OWNERSHIP.get, OWNERSHIP.delete)

PUBLIC_ACCESS_BLOCK = BucketSubresource(
    authz.PUBLIC_ACCESS_BLOCK,
    lambda body: asdict(defaults.parse_public_access_block(body)),
    lambda stored: defaults.render_public_access_block(PublicAccessBlock(**stored)),
    "NoSuchPublicAccessBlockConfiguration",
)
put_public_access_block, get_public_access_block, delete_public_access_block = (
    PUBLIC_ACCESS_BLOCK.put, PUBLIC_ACCESS_BLOCK.get, PUBLIC_ACCESS_BLOCK.delete)
