"""Signature Version 2 (HMAC-SHA1): pure functions.

The SSE-C key and key-MD5 headers are left out of the string to sign, as
Amazon S3's SSE table implies; that is what lets a SigV2 URL leave the key to
whoever uses it. (MinIO and Ceph RGW sign every x-amz-* header, so such a URL
fails against them.)
"""

from __future__ import annotations

from binascii import b2a_base64

try:  # OpenSSL's HMAC object directly: hmac.HMAC wraps it in Python for every copy
    from _hashlib import hmac_new as _hmac_new
except ImportError:  # pragma: no cover - CPython without OpenSSL
    from hmac import new as _hmac_new

from .canonical import SSEC_KEY_HEADERS, unquote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Iterable, Mapping

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
    names = [n for n in headers if n.startswith("x-amz-") and (include_ssec_keys or n not in SSEC_KEY_HEADERS)]
    if not names:
        return ""
    names.sort()
    return "".join([f"{n}:{headers[n].strip()}\n" for n in names])


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


def signer(secret_key: str, *, for_query: bool = False) -> Callable[[str], str]:
    """sign() for one secret: the keyed HMAC-SHA1 state is made once and copied per
    text, so the key is not hashed again for every signature. ``for_query`` returns
    the signature percent-encoded for a query string (base64's '+', '/' and '=' are
    the only characters that need it)."""
    copy = _hmac_new(secret_key.encode(), digestmod="sha1").copy

    def sign_text(text: str) -> str:
        mac = copy()
        mac.update(text.encode())
        return b2a_base64(mac.digest(), newline=False).decode()

    def sign_for_query(text: str) -> str:
        mac = copy()
        mac.update(text.encode())
        sig = b2a_base64(mac.digest(), newline=False).decode()
        return sig.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")

    return sign_for_query if for_query else sign_text


_SIGNERS: dict[str, Callable[[str], str]] = {}


def sign(secret_key: str, text: str) -> str:
    """Base64 HMAC-SHA1 of ``text`` (the SigV2 signature), keyed states cached per secret."""
    fn = _SIGNERS.get(secret_key)
    if fn is None:
        if len(_SIGNERS) >= 64:
            _SIGNERS.clear()
        fn = _SIGNERS[secret_key] = signer(secret_key)
    return fn(text)
