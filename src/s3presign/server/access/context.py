"""Request facts -> the condition keys a bucket policy can test.

The server fills one ``RequestFacts`` per request from what it already knows (the
headers, the query, the verifier's AuthResult, the connection) and calls
``condition_keys(facts)``; ``request_context(...)`` adds principal, action and
resource. Keys are lower-case (IAM compares key names without regard to case) and
every value is a tuple of strings (multi-valued keys such as
s3:RequestObjectTagKeys have several).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping

from s3presign.server.access.policy import RequestContext, RequestPrincipal

AUTH_HEADER = "REST-HEADER"
AUTH_QUERY = "REST-QUERY-STRING"
AUTH_POST = "POST"

SIGNATURE_VERSIONS = {"v2": "AWS", "v4": "AWS4-HMAC-SHA256"}

# Request headers that are condition keys of their own name ("s3:<header>").
_HEADER_KEYS = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-context",
    "x-amz-content-sha256",
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-amz-object-ownership",
    "x-amz-checksum-algorithm",
)
# Query parameters of ListObjects(V2)/ListObjectVersions that are condition keys.
_QUERY_KEYS = {"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys",
               "versionId": "s3:versionid"}


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the server knows about a request, before any policy is read."""

    headers: Mapping[str, str] = field(default_factory=dict)   # lower-case names
    query: Mapping[str, str] = field(default_factory=dict)     # decoded
    auth_type: str | None = None            # AUTH_HEADER / AUTH_QUERY / AUTH_POST; None: anonymous
    signature_version: str | None = None    # "v2" | "v4"
    signature_age_ms: int | None = None     # now - the signature's date (SigV4 only)
    secure: bool = False                    # TLS
    source_ip: str | None = None
    now: float | None = None                # epoch seconds; None: time.time()
    existing_tags: Mapping[str, str] | None = None   # the stored object's tags
    request_tags: Mapping[str, str] | None = None    # tags this request sets
    username: str | None = None             # the account's user name (aws:username)
    resource_account: str | None = None     # the bucket owner's account id
    tls_version: str | None = None          # "1.2", "1.3"


def condition_keys(f: RequestFacts) -> dict[str, tuple[str, ...]]:
    now = time.time() if f.now is None else f.now
    keys: dict[str, tuple[str, ...]] = {
        "aws:securetransport": ("true" if f.secure else "false",),
        "aws:currenttime": (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),),
        "aws:epochtime": (str(int(now)),),
    }
    if f.source_ip:
        keys["aws:sourceip"] = (f.source_ip,)
    if f.username:
        keys["aws:username"] = (f.username,)
    if f.resource_account:
        keys["s3:resourceaccount"] = (f.resource_account,)
        keys["aws:resourceaccount"] = (f.resource_account,)
    if f.tls_version:
        keys["s3:tlsversion"] = (f.tls_version,)
    if f.auth_type:
        keys["s3:authtype"] = (f.auth_type,)
    if f.signature_version in SIGNATURE_VERSIONS:
        keys["s3:signatureversion"] = (SIGNATURE_VERSIONS[f.signature_version],)
    if f.signature_age_ms is not None and f.signature_version == "v4":
        keys["s3:signatureage"] = (str(max(0, int(f.signature_age_ms))),)
    for h in _HEADER_KEYS:
        v = f.headers.get(h)
        if v is not None:
            keys["s3:" + h] = (v.strip(),)
    for q, k in _QUERY_KEYS.items():
        v = f.query.get(q)
        if v is not None:
            keys[k] = (v,)
    if f.existing_tags:
        for tk, tv in f.existing_tags.items():
            keys["s3:existingobjecttag/" + tk.lower()] = (tv,)
    if f.request_tags is not None:
        for tk, tv in f.request_tags.items():
            keys["s3:requestobjecttag/" + tk.lower()] = (tv,)
        if f.request_tags:
            keys["s3:requestobjecttagkeys"] = tuple(f.request_tags)
    return keys


def principal_keys(who: RequestPrincipal) -> dict[str, tuple[str, ...]]:
    if who.anonymous:
        return {"aws:principaltype": ("Anonymous",)}
    keys = {"aws:principaltype": ("Account" if (who.arn or "").endswith(":root") else "User",)}
    if who.account_id:
        keys["aws:principalaccount"] = (who.account_id,)
        keys["aws:userid"] = (who.account_id,)
    if who.arn:
        keys["aws:principalarn"] = (who.arn,)
    return keys


def request_context(
    principal: RequestPrincipal, action: str, resource: str, facts: RequestFacts
) -> RequestContext:
    """The one call the server makes per (action, resource) check."""
    keys = condition_keys(facts)
    keys.update(principal_keys(principal))
    return RequestContext(principal, action, resource, keys)
