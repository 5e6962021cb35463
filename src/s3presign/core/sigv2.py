"""Signature Version 2 (HMAC-SHA1): pure functions.

The SSE-C key and key-MD5 headers are left out of the string to sign, as
Amazon S3's SSE table implies; that is what lets a SigV2 URL leave the key to
whoever uses it. (MinIO and Ceph RGW sign every x-amz-* header, so such a URL
fails against them.)
"""

from __future__ import annotations

import base64
import hmac
from typing import Iterable, Mapping
from urllib.parse import unquote

from .canonical import SSEC_KEY_HEADERS

# Query parameters that are part of the SigV2 canonical resource (botocore's list).
SUBRESOURCES = frozenset(
    {
        "accelerate", "acl", "cors", "defaultObjectAcl", "location", "logging",
        "partNumber", "policy", "requestPayment", "torrent", "versioning",
        "versionId", "versions", "website", "uploads", "uploadId",
        "response-content-type", "response-content-language", "response-expires",
        "response-cache-control", "response-content-disposition",
        "response-content-encoding", "delete", "lifecycle", "tagging", "restore",
        "storageClass", "notification", "replication", "analytics", "metrics",
        "inventory", "select", "select-type", "object-lock",
    }
)

# S3 sub-resources newer than SigV2: its string to sign cannot cover them, so a
# SigV2 signature could be replayed onto their operations. S3 refuses them under
# SigV2 (they need SigV4).
SIGV4_ONLY_SUBRESOURCES = frozenset(
    {
        "attributes", "encryption", "intelligent-tiering", "legal-hold", "metadataTable",
        "metadataConfiguration", "ownershipControls", "policyStatus", "publicAccessBlock",
        "retention", "session", "renameObject", "abac",
    }
)


def canonical_resource(path: str, raw_query_pairs: Iterable[tuple[str, str | None]]) -> str:
    """'/bucket/key' plus the sub-resources, sorted by name, values decoded.

    ``raw_query_pairs`` are still percent-encoded; a value of None means the
    parameter had no '=' (e.g. ``?uploads``).
    """
    subs = [(k, v) for k, v in raw_query_pairs if k in SUBRESOURCES]
    if not subs:
        return path
    subs.sort(key=lambda kv: kv[0])
    return path + "?" + "&".join(k if v is None else f"{k}={unquote(v)}" for k, v in subs)


def amz_headers_block(headers: Mapping[str, str], *, include_ssec_keys: bool = False) -> str:
    """The x-amz-* lines (each ending in a newline), sorted; SSE-C key headers excluded
    unless asked for (botocore, MinIO and Ceph sign them)."""
    names = sorted(
        n for n in headers
        if n.startswith("x-amz-") and (include_ssec_keys or n not in SSEC_KEY_HEADERS)
    )
    return "".join(f"{n}:{headers[n].strip()}\n" for n in names)


def string_to_sign(
    method: str,
    content_md5: str,
    content_type: str,
    date_or_expires: str,
    headers: Mapping[str, str],
    resource: str,
    *,
    include_ssec_keys: bool = False,
) -> str:
    return (
        f"{method}\n{content_md5.strip()}\n{content_type.strip()}\n{date_or_expires}\n"
        f"{amz_headers_block(headers, include_ssec_keys=include_ssec_keys)}{resource}"
    )


def sign(secret_key: str, text: str) -> str:
    return base64.b64encode(hmac.digest(secret_key.encode(), text.encode(), "sha1")).decode()
