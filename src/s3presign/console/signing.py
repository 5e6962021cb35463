"""Signing without the secret: the library builds the request, the page signs it.

The console page keeps the user's secret key (and any SSE-C key) to itself. For
every request it wants, it asks this module for the *unsigned* form: the URL and
headers exactly as ``core.Presigner`` makes them, plus the text to sign
(SigV4: the canonical request; SigV2 and POST policies: the string to sign).
The page then computes the HMACs with WebCrypto. So the SSE x signature rules,
the encodings and the refusals (``PresignError``) are the library's own, and the
secrets never reach this process.

Where a value depends on the SSE-C key (the key and its MD5, signed into a URL
or a POST policy), a fixed placeholder key is used and named in the answer; the
page swaps in its own key before hashing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Mapping

from s3presign.core import sigv4
from s3presign.core.canonical import canonical_headers, encode_value, host_header
from s3presign.core.credentials import Credentials
from s3presign.core.errors import PresignError
from s3presign.core.presign import Presigner, check_bucket_name
from s3presign.core.sse import SSE, SSE_TABLE, key_md5

# The secret the library signs with here: never a real one, its signature is discarded.
PLACEHOLDER_SECRET = "s3presign-console-placeholder-secret"
# A key whose base64 and MD5 cannot occur by accident in anything else signed.
PLACEHOLDER_KEY = hashlib.sha256(b"s3presign console placeholder SSE-C key").digest()
PLACEHOLDER_KEY_B64 = base64.b64encode(PLACEHOLDER_KEY).decode()
PLACEHOLDER_KEY_MD5 = key_md5(PLACEHOLDER_KEY)
SIGNATURE_V4_PLACEHOLDER = "0" * 64


def _text(spec: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = spec.get(name, default)
    if value is not None and not isinstance(value, str):
        raise PresignError(f"{name} must be a string")
    return value


def sse_of(spec: Mapping[str, Any] | None) -> SSE | None:
    """{"mode": "kms", "key_id": ..., "context": {...}} as the library's SSE (placeholder key for c-key)."""
    if not spec:
        return None
    if not isinstance(spec, Mapping):
        raise PresignError("sse must be an object such as {\"mode\": \"kms\"}")
    mode = _text(spec, "mode", "none") or "none"
    if mode not in SSE_TABLE:
        raise PresignError(f"unknown SSE mode {mode!r}; use one of {', '.join(SSE_TABLE)}")
    if mode == "none":
        return None
    if mode == "c-key":
        return SSE.customer(PLACEHOLDER_KEY)
    if mode == "c":
        return SSE.customer()
    key_id = _text(spec, "key_id") or None
    context = spec.get("context") or None
    if mode == "kms":
        return SSE.kms(key_id, context, spec.get("bucket_key"))
    if mode == "dsse":
        return SSE.dsse(key_id, context)
    return SSE.s3()


class Shaper:
    """Unsigned requests for one endpoint and region, for a given access key."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region

    def presigner(self, access_key: str, signature_version: str,
                  session_token: str | None = None) -> Presigner:
        if not isinstance(access_key, str) or not access_key:
            raise PresignError("access_key is empty; sign in with an access key of the server")
        creds = Credentials(access_key, PLACEHOLDER_SECRET, session_token or None)
        return Presigner(creds, region=self.region, endpoint_url=self.endpoint_url,
                         addressing_style="path", signature_version=signature_version)

    # --- one object request -----------------------------------------------------
    def request(self, access_key: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The library's answer for one request: unsigned form, or PresignError."""
        version = _text(spec, "signature_version", "v4") or "v4"
        presigner = self.presigner(access_key, version, _text(spec, "session_token"))
        method = (_text(spec, "method", "GET") or "GET").upper()
        sse = sse_of(spec.get("sse"))
        headers = spec.get("headers") or None
        query = spec.get("query") or None
        overrides = spec.get("response_overrides") or None
        expires = spec.get("expires_in", 3600)
        bucket, key = _text(spec, "bucket") or "", _text(spec, "key")
        if key is None or key == "":  # a bucket or service request (listing, CORS): SigV4 only here
            return self.bucket_request(access_key, method, bucket, query or {}, headers or {}, expires,
                                       _text(spec, "session_token"))
        if method == "POST" and not query:
            return self.post(presigner, bucket, key, sse, expires, spec)
        signed = presigner.presign(method, bucket, key, sse=sse, expires_in=expires, headers=headers,
                                   query=query, response_overrides=overrides)
        out = signed.to_dict()
        out["curl"] = signed.to_curl()
        return self._to_sign(out, presigner.signature_version, sse)

    def _to_sign(self, out: dict[str, Any], version: str, sse: SSE | None) -> dict[str, Any]:
        from s3presign.client.inspect import canonical_request, parse_signed_url, string_to_sign

        u = parse_signed_url(out["url"], endpoint_url=self.endpoint_url)
        signed_headers = out["headers"]
        if version == "v4":
            out["canonical_request"] = canonical_request(u, out["method"], signed_headers)
            out["amz_date"] = u.stamp
            out["scope_date"] = u.scope_date
            out["region"] = u.region
        else:
            out["string_to_sign"] = string_to_sign(u, out["method"], signed_headers)
            out["signature_placeholder"] = encode_value(u.signature)
        if sse is not None and sse.mode == "c-key":
            out["key_placeholders"] = {"key": PLACEHOLDER_KEY_B64, "md5": PLACEHOLDER_KEY_MD5}
        return out

    def post(self, presigner: Presigner, bucket: str, key: str, sse: SSE | None, expires: Any,
             spec: Mapping[str, Any]) -> dict[str, Any]:
        length = spec.get("content_length_range")
        fields = spec.get("fields") or {}
        if not isinstance(fields, dict):
            raise PresignError("fields must be an object of form field names and values")
        post = presigner.presign_post(
            bucket, key, sse=sse, expires_in=expires,
            content_length_range=tuple(length) if length else None,
            fields=fields or None, conditions=[{name: value} for name, value in fields.items()],
        )
        out = post.to_dict()
        out["method"] = "POST"
        out["form"] = True
        out["signature_version"] = presigner.signature_version
        out["expires_at"] = post.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        fields = out["fields"]
        if presigner.signature_version == "v4":
            _, date = fields["x-amz-credential"].split("/", 2)[:2]
            out["scope_date"], out["region"] = date, self.region
        if sse is not None and sse.mode == "c-key":
            out["key_placeholders"] = {"key": PLACEHOLDER_KEY_B64, "md5": PLACEHOLDER_KEY_MD5}
        return out

    # --- bucket and service requests ------------------------------------------------
    def bucket_request(self, access_key: str, method: str, bucket: str, query: Mapping[str, Any],
                       headers: Mapping[str, str], expires: Any = 900,
                       session_token: str | None = None) -> dict[str, Any]:
        """A pre-signed SigV4 request on a bucket (or on the service, bucket ""): listings, CORS."""
        if not isinstance(access_key, str) or not access_key:
            raise PresignError("access_key is empty; sign in with an access key of the server")
        url, canonical, stamp, date = build_bucket_request(
            self.endpoint_url, self.region, access_key, method, bucket, query, headers, expires,
            session_token=session_token)
        return {"method": method, "url": url, "headers": dict(headers), "signature_version": "v4",
                "canonical_request": canonical, "amz_date": stamp, "scope_date": date, "region": self.region}


def build_bucket_request(endpoint_url: str, region: str, access_key: str, method: str, bucket: str,
                         query: Mapping[str, Any], headers: Mapping[str, str], expires: Any,
                         now: float | None = None, session_token: str | None = None) -> tuple[str, str, str, str]:
    """(URL without its signature, canonical request, X-Amz-Date, scope date) for a
    bucket-level request, from the core's own canonical forms."""
    from urllib.parse import urlsplit

    if method not in ("GET", "PUT", "HEAD", "DELETE", "POST"):
        raise PresignError(f"method {method!r} cannot be pre-signed; use GET, PUT, HEAD, DELETE or POST")
    if bucket:
        check_bucket_name(bucket)
    if not isinstance(expires, int) or not 1 <= expires <= sigv4.MAX_EXPIRES:
        raise PresignError("expires_in must be whole seconds from 1 to 604800")
    parts = urlsplit(endpoint_url)
    base = parts.path.rstrip("/")
    path = f"{base}/{bucket}" if bucket else f"{base}/"
    stamp, date = sigv4.amz_date(int(time.time() if now is None else now))
    scope = sigv4.credential_scope(date, region)
    clean = {str(k).lower(): str(v) for k, v in headers.items()}
    names = sorted({"host", *clean})
    pairs = [(encode_value(str(k)), encode_value("" if v is None else str(v))) for k, v in query.items()]
    pairs += [
        ("X-Amz-Algorithm", sigv4.ALGORITHM),
        ("X-Amz-Credential", encode_value(f"{access_key}/{scope}")),
        ("X-Amz-Date", stamp),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", encode_value(";".join(names))),
    ]
    if session_token:
        pairs.append(("X-Amz-Security-Token", encode_value(session_token)))
    pairs.sort()
    query_string = "&".join(f"{k}={v}" for k, v in pairs)
    host = host_header(parts.scheme, parts.netloc)
    canonical = sigv4.canonical_request(
        method, path, query_string, canonical_headers({"host": host, **clean}, names), ";".join(names),
        sigv4.UNSIGNED_PAYLOAD)
    url = f"{parts.scheme}://{parts.netloc}{path}?{query_string}&X-Amz-Signature={SIGNATURE_V4_PLACEHOLDER}"
    return url, canonical, stamp, date


def sign_v4(secret_key: str, shaped: Mapping[str, Any]) -> str:
    """What the page does, in Python: the signed URL for a shaped SigV4 request (the
    service itself uses it with the server's own credentials)."""
    text = sigv4.string_to_sign(shaped["amz_date"], sigv4.credential_scope(shaped["scope_date"], shaped["region"]),
                                shaped["canonical_request"])
    signature = sigv4.sign(sigv4.signing_key(secret_key, shaped["scope_date"], shaped["region"]), text)
    url = shaped["url"]
    head, _, _ = url.rpartition("X-Amz-Signature=")
    return head + "X-Amz-Signature=" + signature


def policy_fields_signature(secret_key: str, policy_b64: str, version: str, date: str = "", region: str = "") -> str:
    if version == "v4":
        return sigv4.sign(sigv4.signing_key(secret_key, date, region), policy_b64)
    return base64.b64encode(hmac.digest(secret_key.encode(), policy_b64.encode(), "sha1")).decode()


def table() -> list[dict[str, Any]]:
    """The SSE x signature-version table as the page shows it."""
    return [
        {"mode": mode, "label": rule.label, "v4": True, "v2": rule.sigv2,
         "v2_refusal": rule.sigv2_refusal or None}
        for mode, rule in SSE_TABLE.items()
    ]


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
