"""New-bucket defaults, as data: AWS's current ones and the pre-2023 ones.

- April 2023: new buckets get Object Ownership BucketOwnerEnforced (ACLs disabled)
  and all four Block Public Access settings on.
- April 2026: new general purpose buckets block SSE-C writes: their encryption
  configuration's rule carries ``<BlockedEncryptionTypes><EncryptionType>SSE-C``.
  PutObject, CopyObject, POST and CreateMultipartUpload naming SSE-C then get 403
  AccessDenied; reads of existing SSE-C objects still work. PutBucketEncryption with
  ``EncryptionType`` NONE unblocks.

``--new-bucket-defaults legacy`` gives ACLs enabled (ObjectWriter), no Block Public
Access and SSE-C allowed, for suites written before these changes. Also here: the XML
of Get/PutPublicAccessBlock and the BlockedEncryptionTypes rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from s3presign.core.s3errors import S3Error
from s3presign.server import xml
from s3presign.server.access.acl import BUCKET_OWNER_ENFORCED, OBJECT_WRITER
from s3presign.server.access.authorize import PublicAccessBlock

SSE_C = "SSE-C"
NONE = "NONE"
ENCRYPTION_TYPES = (NONE, SSE_C)


@dataclass(frozen=True, slots=True)
class BucketDefaults:
    object_ownership: str
    public_access_block: PublicAccessBlock | None   # None: no configuration (404 on Get)
    blocked_encryption_types: tuple[str, ...] | None   # None: element absent


DEFAULTS: dict[str, BucketDefaults] = {
    "current": BucketDefaults(
        object_ownership=BUCKET_OWNER_ENFORCED,
        public_access_block=PublicAccessBlock(True, True, True, True),
        blocked_encryption_types=(SSE_C,),
    ),
    "legacy": BucketDefaults(
        object_ownership=OBJECT_WRITER,
        public_access_block=None,
        blocked_encryption_types=None,
    ),
}


def new_bucket(mode: str, headers: Mapping[str, str] | None = None) -> BucketDefaults:
    """The settings a CreateBucket gives, its x-amz-object-ownership header winning."""
    d = DEFAULTS[mode]
    ownership = (headers or {}).get("x-amz-object-ownership")
    if ownership:
        d = BucketDefaults(ownership.strip(), d.public_access_block, d.blocked_encryption_types)
    return d


# --- BlockedEncryptionTypes ----------------------------------------------------------------


def check_blocked_types(types: Iterable[str]) -> tuple[str, ...]:
    """PutBucketEncryption's EncryptionType values: NONE or SSE-C, not both, not empty."""
    t = tuple(types)
    if not t or any(x not in ENCRYPTION_TYPES for x in t) or (NONE in t and len(t) > 1) or len(set(t)) != len(t):
        raise S3Error("MalformedXML")
    return t


def ssec_blocked(encryption_config: Mapping[str, Any] | None) -> bool:
    """Does the bucket's encryption configuration (server/sse.py's rule dict) block SSE-C?"""
    if not encryption_config:
        return False
    return SSE_C in (encryption_config.get("BlockedEncryptionTypes") or ())


def check_ssec_write(encryption_config: Mapping[str, Any] | None, request_is_ssec: bool) -> None:
    """A write naming SSE-C (PutObject, CopyObject destination, POST, CreateMultipartUpload
    and its parts) on a bucket that blocks it: 403 AccessDenied. Reads are never refused."""
    if request_is_ssec and ssec_blocked(encryption_config):
        raise S3Error("SseCBlocked")


def blocked_types_xml(types: Iterable[str]) -> str:
    """The element inside the encryption rule (EncryptionType is a flattened list)."""
    return xml.tree("BlockedEncryptionTypes", "".join(xml.el("EncryptionType", t) for t in types))


# --- PublicAccessBlock XML -----------------------------------------------------------------

_PAB_FIELDS = (
    ("BlockPublicAcls", "block_public_acls"),
    ("IgnorePublicAcls", "ignore_public_acls"),
    ("BlockPublicPolicy", "block_public_policy"),
    ("RestrictPublicBuckets", "restrict_public_buckets"),
)


def parse_public_access_block(body: bytes) -> PublicAccessBlock:
    """PutPublicAccessBlock body; a missing setting is false, as on S3."""
    root = xml.parse(body)
    if xml.local(root.tag) != "PublicAccessBlockConfiguration":
        raise S3Error("MalformedXML")
    values = {}
    for name, attr in _PAB_FIELDS:
        text = xml.text(root, name)
        if text is None:
            values[attr] = False
            continue
        t = text.strip().lower()
        if t not in ("true", "false"):
            raise S3Error("MalformedXML")
        values[attr] = t == "true"
    return PublicAccessBlock(**values)


def render_public_access_block(pab: PublicAccessBlock) -> bytes:
    return xml.document(
        "PublicAccessBlockConfiguration",
        [xml.el(name, getattr(pab, attr)) for name, attr in _PAB_FIELDS],
    )


def render_policy_status(public: bool) -> bytes:
    """GetBucketPolicyStatus body."""
    return xml.document("PolicyStatus", [xml.el("IsPublic", public)])
