"""SigV4 header authentication: the Authorization header of an ordinary request.

The server talks to an S3 backend (Ceph RGW, any S3 store) with requests
signed here, by the same pure functions the presigner and the verifier use.
"""

from __future__ import annotations

import time
from typing import Iterable, Mapping

from . import sigv4
from .canonical import UNSIGNABLE_HEADERS, canonical_headers, canonical_query, encode_value
from .credentials import Credentials


def sign_headers(
    method: str,
    host: str,
    canonical_uri: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    credentials: Credentials,
    region: str,
    *,
    payload_sha256: str = sigv4.UNSIGNED_PAYLOAD,
    now: float | None = None,
    service: str = "s3",
) -> dict[str, str]:
    """The headers to send: ``headers`` (names lower-cased) plus x-amz-date,
    x-amz-content-sha256, x-amz-security-token (with a session token) and
    Authorization.

    ``host`` is the Host header exactly as it will be sent (default port
    dropped); ``canonical_uri`` the path already percent-encoded as sent
    (canonical.encode_key of "/bucket/key"); ``query`` the decoded name/value
    pairs. Every header given is signed except those proxies rewrite.
    """
    stamp, date = sigv4.amz_date(int(time.time() if now is None else now))
    out = {k.lower(): v for k, v in headers.items()}
    out["x-amz-date"] = stamp
    out["x-amz-content-sha256"] = payload_sha256
    if credentials.session_token:
        out["x-amz-security-token"] = credentials.session_token
    signing = {k: v for k, v in out.items() if k not in UNSIGNABLE_HEADERS}
    signing["host"] = host
    names = sorted(signing)
    signed_names = ";".join(names)
    request = sigv4.canonical_request(
        method,
        canonical_uri,
        canonical_query((encode_value(k), encode_value(v)) for k, v in query),
        canonical_headers(signing, names),
        signed_names,
        payload_sha256,
    )
    scope = sigv4.credential_scope(date, region, service)
    signature = sigv4.sign(
        sigv4.signing_key(credentials.secret_key, date, region, service),
        sigv4.string_to_sign(stamp, scope, request),
    )
    out["authorization"] = (
        f"{sigv4.ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={signed_names}, Signature={signature}"
    )
    return out


__all__ = ["sign_headers"]
