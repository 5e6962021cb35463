"""Authenticate an incoming request exactly as Amazon S3 does.

The canonical request and string to sign are rebuilt with the same functions
the presigner uses (canonical.py, sigv4.py, sigv2.py); failures raise
S3Error with S3's code, message and diagnostic elements.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from . import policy as _policy
from . import sigv2, sigv4
from .canonical import (
    SSEC_KEY_HEADERS,
    canonical_headers,
    recanonical_path,
    recanonical_query,
)
from .credentials import Credentials
from .numbers import ascii_uint
from .s3errors import S3Error

MAX_SKEW_SECONDS = 900
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PAYLOAD_TOKENS = frozenset(
    {
        sigv4.UNSIGNED_PAYLOAD,
        sigv4.STREAMING_PAYLOAD,
        sigv4.STREAMING_PAYLOAD_TRAILER,
        sigv4.STREAMING_UNSIGNED_TRAILER,
    }
)
_V4_QUERY_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)
_V4_REQUIRED = tuple(p for p in _V4_QUERY_PARAMS if p != "X-Amz-SignedHeaders")  # non-empty ones
_V2_QUERY_PARAMS = ("AWSAccessKeyId", "Signature", "Expires", "x-amz-security-token")
_V4_AUTH_QUERY = frozenset(_V4_QUERY_PARAMS) | {"X-Amz-Security-Token", "X-Amz-Content-Sha256"}
_V2_AUTH_QUERY = frozenset(_V2_QUERY_PARAMS)
_REDACTED = "<redacted>"
Lookup = Callable[[str], "Credentials | None"]


def same(expected: str, provided: str) -> bool:
    """Constant-time equality of a computed signature and a client's text.

    On bytes, so that a client's non-ASCII bytes are a mismatch, never a TypeError."""
    return hmac.compare_digest(expected.encode("utf-8", "replace"), provided.encode("utf-8", "replace"))


def redact_ssec(text: str) -> str:
    """``text`` with the value of every SSE-C key (and key MD5) header line replaced:
    an error body must never echo key material the client signed."""
    if "customer-key" not in text:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        name, sep, _ = line.partition(":")
        if sep and name.strip().lower() in SSEC_KEY_HEADERS:
            lines[i] = f"{name}:{_REDACTED}"
    return "\n".join(lines)


class ChunkVerifier:
    """Checks the chained signatures of an aws-chunked body (seeded by the request's)."""

    __slots__ = ("_key", "_stamp", "_scope", "previous")

    def __init__(self, key: bytes, stamp: str, scope: str, seed_signature: str) -> None:
        self._key = key
        self._stamp = stamp
        self._scope = scope
        self.previous = seed_signature

    def verify_chunk(self, chunk_sha256_hex: str, signature: str) -> bool:
        text = sigv4.chunk_string_to_sign(self._stamp, self._scope, self.previous, chunk_sha256_hex)
        ok = same(sigv4.sign(self._key, text), signature)
        if ok:
            self.previous = signature
        return ok

    def verify_trailer(self, trailer_text: str, signature: str) -> bool:
        text = sigv4.trailer_string_to_sign(self._stamp, self._scope, self.previous, trailer_text)
        return same(sigv4.sign(self._key, text), signature)


class AuthResult:
    __slots__ = (
        "access_key",
        "signature_version",
        "presigned",
        "content_sha256",
        "signed_headers",
        "chunk_verifier",
        "credentials",
    )

    def __init__(
        self,
        credentials: Credentials,
        signature_version: str,
        presigned: bool,
        content_sha256: str | None = None,
        signed_headers: frozenset[str] = frozenset(),
        chunk_verifier: ChunkVerifier | None = None,
    ) -> None:
        self.credentials = credentials
        self.access_key = credentials.access_key
        self.signature_version = signature_version
        self.presigned = presigned
        self.content_sha256 = content_sha256
        self.signed_headers = signed_headers
        self.chunk_verifier = chunk_verifier

    def __repr__(self) -> str:
        kind = "presigned" if self.presigned else "header"
        return f"AuthResult({self.access_key!r}, {self.signature_version}, {kind})"


def _bytes_hex(text: str) -> str:
    return " ".join(f"{b:02x}" for b in text.encode())


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def first_params(raw_query: str) -> dict[str, str]:
    """First value of each raw (still encoded) parameter, names decoded."""
    out: dict[str, str] = {}
    for part in raw_query.split("&") if raw_query else ():
        if part:
            name, _, value = part.partition("=")
            if "%" in name:
                name = _decoded(name)
            if name not in out:
                out[name] = _decoded(value) if "%" in value else value
    return out


_DECODED: dict[str, str] = {}


def _decoded(text: str) -> str:
    """unquote(text), remembered for short texts: a client's X-Amz-Credential (and its
    other escaped values) repeats from one request to the next."""
    hit = _DECODED.get(text)
    if hit is None:
        hit = unquote(text)
        if len(text) <= 200:
            if len(_DECODED) >= 512:
                _DECODED.clear()
            _DECODED[text] = hit
    return hit


def unquote(text: str) -> str:
    """urllib.parse.unquote, bound on first use (the presigner never decodes)."""
    global unquote
    from urllib.parse import unquote as bound

    unquote = bound
    return bound(text)


def _raw_pairs(raw_query: str) -> list[tuple[str, str | None]]:
    from urllib.parse import unquote

    pairs: list[tuple[str, str | None]] = []
    for part in raw_query.split("&") if raw_query else ():
        if part:
            name, eq, value = part.partition("=")
            pairs.append((unquote(name), value if eq else None))
    return pairs


def _refuse_duplicates(raw_query: str, names: frozenset[str], q: Mapping[str, str]) -> None:
    """An auth parameter given twice is refused: "first wins" would let a
    second, unsigned value change what the signature is read as. ``q``:
    first_params(raw_query)."""
    if len(q) == raw_query.count("&") + 1:
        return  # as many distinct names as parts: no name twice (the usual case)
    names = [part.partition("=")[0] for part in raw_query.split("&")]
    if len(set(names)) == len(names) and "%" not in "".join(names):
        return  # the usual case, decided at C speed: no name twice, none encoded
    from urllib.parse import unquote

    seen: set[str] = set()
    for part in raw_query.split("&"):
        name = part.partition("=")[0]
        if "%" in name:
            name = unquote(name)
        if name in names:
            if name in seen:
                raise S3Error("DuplicateAuthParameter", param=name)
            seen.add(name)


def _lookup(lookup: Lookup, access_key: str) -> Credentials:
    creds = lookup(access_key)
    if creds is None:
        raise S3Error("InvalidAccessKeyId", elements={"AWSAccessKeyId": access_key})
    return creds


def _check_token(creds: Credentials, token: str | None) -> None:
    if creds.session_token is None:
        if token:
            raise S3Error("InvalidToken", elements={"Token-0": token})
        return
    if not token:
        raise S3Error("MissingSecurityToken", elements={"AWSAccessKeyId": creds.access_key})
    if not same(creds.session_token, token):
        raise S3Error("InvalidToken", elements={"Token-0": token})


def _check_unsigned(headers: Mapping[str, str], signed: frozenset[str]) -> None:
    missing = [
        name
        for name in headers
        if name.startswith("x-amz-") and name not in signed and name not in SSEC_KEY_HEADERS
    ]
    if missing:
        raise S3Error("HeadersNotSigned", elements={"HeadersNotSigned": ", ".join(sorted(missing))})


def _parse_scope(credential: str, *, query: bool) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise S3Error("MalformedQueryCredential" if query else "MalformedHeaderCredential")
    access_key, date, region, service, _ = parts
    if not (len(date) == 8 and ascii_uint(date, 8) is not None):
        if query:
            raise S3Error("WrongQueryScopeDate", date=date)
        raise S3Error("MalformedHeaderCredential")
    return access_key, date, region, service


def _v4_mismatch(creds: Credentials, string_to_sign: str, provided: str, request: str) -> S3Error:
    shown = redact_ssec(request)
    return S3Error(
        "SignatureDoesNotMatch" if shown == request else "SignatureDoesNotMatchRedacted",
        elements={
            "AWSAccessKeyId": creds.access_key,
            "StringToSign": string_to_sign,
            "SignatureProvided": provided,
            "StringToSignBytes": _bytes_hex(string_to_sign),
            "CanonicalRequest": shown,
            "CanonicalRequestBytes": _bytes_hex(shown),
        },
    )


def v4_canonical_request(
    method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], signed_names: str,
    payload: str, *, presigned: bool,
) -> str:
    """The SigV4 canonical request S3 builds from a received request: the one
    function behind the verifier and ``inspect``."""
    return sigv4.canonical_request(
        method,
        recanonical_path(raw_path),
        recanonical_query(raw_query, drop="X-Amz-Signature" if presigned else None),
        canonical_headers(headers, signed_names.split(";")),
        signed_names,
        payload,
    )


def v4_string_to_sign(stamp: str, date: str, region: str, canonical_request_text: str) -> str:
    return sigv4.string_to_sign(stamp, sigv4.credential_scope(date, region), canonical_request_text)


def _v4_signature(
    creds: Credentials, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
    signed_names: str, payload: str, stamp: str, date: str, region: str, presigned: bool,
) -> tuple[str, str, str, bytes]:
    request = v4_canonical_request(method, raw_path, raw_query, headers, signed_names, payload, presigned=presigned)
    text = v4_string_to_sign(stamp, date, region, request)
    key = sigv4.signing_key(creds.secret_key, date, region)
    return sigv4.sign(key, text), text, request, key


def _signed_names(signed_names: str) -> frozenset[str]:
    """The SignedHeaders list; S3 requires ``host`` in it (header and query auth)."""
    signed = frozenset(signed_names.split(";")) if signed_names else frozenset()
    if "host" not in signed:
        raise S3Error("HeadersNotSigned", elements={"HeadersNotSigned": "host"})
    return signed


def parse_v4_expires(raw: str) -> int:
    """X-Amz-Expires as S3 reads it (ASCII digits, at most seven days)."""
    if raw.startswith("-") and ascii_uint(raw[1:]) is not None:
        raise S3Error("ExpiresNotPositive")
    expires = ascii_uint(raw)
    if expires is None:
        raise S3Error("ExpiresNotNumber")
    if expires > sigv4.MAX_EXPIRES:
        raise S3Error("ExpiresTooLarge")
    return expires


@dataclass(slots=True)  # not frozen: a frozen __init__ costs microseconds per request
class V4Presigned:
    """A SigV4 pre-signed request's auth parameters, parsed and typed (S3's syntax
    checks passed); :func:`verify_request` checks it, ``inspect`` explains it."""

    access_key: str
    date: str  # the credential scope's YYYYMMDD
    region: str
    service: str
    stamp: str  # X-Amz-Date
    signed_at: int
    expires: int
    signed_names: str
    signature: str
    token: str | None
    payload: str

    def canonical_request(self, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str]) -> str:
        return v4_canonical_request(method, raw_path, raw_query, headers, self.signed_names, self.payload, presigned=True)

    def string_to_sign(self, canonical_request_text: str) -> str:
        return v4_string_to_sign(self.stamp, self.date, self.region, canonical_request_text)


@dataclass(slots=True)
class V2Presigned:
    """A SigV2 pre-signed request's auth parameters, parsed and typed."""

    access_key: str
    signature: str
    expires_text: str  # exactly as sent: it is the string to sign's date line
    expires: int
    token: str | None

    def string_to_sign(self, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
                       virtual_bucket: str | None, include_ssec_keys: bool = False) -> str:
        extra = {"x-amz-security-token": self.token} if self.token else None
        return v2_string_to_sign(method, raw_path, raw_query, headers, self.expires_text, virtual_bucket,
                                 extra, include_ssec_keys)


def parse_v4_presigned(q: Mapping[str, str]) -> V4Presigned:
    """The typed auth values of a SigV4 query, or S3's error for a malformed one."""
    for p in _V4_REQUIRED:
        if not q.get(p):
            raise S3Error("MissingV4QueryParameters")
    if "X-Amz-SignedHeaders" not in q:
        raise S3Error("MissingV4QueryParameters")
    if q["X-Amz-Algorithm"] != sigv4.ALGORITHM:
        raise S3Error("UnsupportedQueryAlgorithm")
    access_key, date, scope_region, service = _parse_scope(q["X-Amz-Credential"], query=True)
    stamp = q["X-Amz-Date"]
    try:
        signed_at = sigv4.parse_amz_date(stamp)
    except ValueError:
        raise S3Error("InvalidQueryDate") from None
    expires = parse_v4_expires(q["X-Amz-Expires"])
    return V4Presigned(
        access_key, date, scope_region, service, stamp, signed_at, expires, q["X-Amz-SignedHeaders"],
        q["X-Amz-Signature"], q.get("X-Amz-Security-Token"), q.get("X-Amz-Content-Sha256", sigv4.UNSIGNED_PAYLOAD),
    )


def parse_v2_presigned(q: Mapping[str, str], headers: Mapping[str, str]) -> V2Presigned:
    """The typed auth values of a SigV2 query, or S3's error for a malformed one."""
    if not q.get("AWSAccessKeyId") or not q.get("Signature") or not q.get("Expires"):
        raise S3Error("MissingV2QueryParameters")
    raw_expires = q["Expires"]
    expires = ascii_uint(raw_expires, 11)  # Unix seconds: 11 digits reach year 5138
    if expires is None:
        raise S3Error("MissingV2QueryParameters")
    token = q.get("x-amz-security-token") or headers.get("x-amz-security-token")
    return V2Presigned(q["AWSAccessKeyId"], q["Signature"], raw_expires, expires, token)


def parse_presigned(raw_query: str, headers: Mapping[str, str]) -> V4Presigned | V2Presigned | None:
    """The one step from a pre-signed request's query to typed auth values (None:
    not pre-signed). Duplicate auth parameters are refused here."""
    q = first_params(raw_query) if raw_query else {}
    if "X-Amz-Algorithm" in q or "X-Amz-Credential" in q or "X-Amz-Signature" in q:
        _refuse_duplicates(raw_query, _V4_AUTH_QUERY, q)
        return parse_v4_presigned(q)
    if "Signature" in q or "AWSAccessKeyId" in q:
        _refuse_duplicates(raw_query, _V2_AUTH_QUERY, q)
        return parse_v2_presigned(q, headers)
    return None


def _verify_v4_query(
    method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], q: Mapping[str, str],
    lookup: Lookup, region: str, now: float,
) -> AuthResult:
    auth = parse_v4_presigned(q)
    access_key, date, stamp, signed_at, expires = auth.access_key, auth.date, auth.stamp, auth.signed_at, auth.expires
    if auth.region != region:
        raise S3Error("WrongQueryRegion", elements={"Region": region}, region=auth.region, expected=region)
    if auth.service != "s3":
        raise S3Error("WrongQueryService", service=auth.service)
    creds = _lookup(lookup, access_key)
    if now < signed_at - MAX_SKEW_SECONDS:
        raise S3Error("RequestNotYetValid", elements={"X-Amz-Date": stamp, "ServerTime": _iso(now)})
    if now > signed_at + expires:
        raise S3Error(
            "RequestExpired",
            elements={"X-Amz-Expires": str(expires), "Expires": _iso(signed_at + expires), "ServerTime": _iso(now)},
        )
    if date != stamp[:8]:
        raise S3Error("SignatureDoesNotMatch", elements={"AWSAccessKeyId": access_key})
    _check_token(creds, auth.token)
    signed = _signed_names(auth.signed_names)
    _check_unsigned(headers, signed)
    request = auth.canonical_request(method, raw_path, raw_query, headers)
    text = auth.string_to_sign(request)
    expected = sigv4.sign(sigv4.signing_key(creds.secret_key, date, region), text)
    if not same(expected, auth.signature):
        raise _v4_mismatch(creds, text, auth.signature, request)
    return AuthResult(creds, "v4", True, None, signed)


def _parse_v4_header(value: str) -> dict[str, str]:
    body = value[len(sigv4.ALGORITHM):].strip()
    parts: dict[str, str] = {}
    for piece in body.split(","):
        # each piece is  name = value  (name ASCII letters, white space around either)
        name, eq, text = piece.partition("=")
        name = name.strip()
        if not eq or not (name.isascii() and name.isalpha()):
            raise S3Error("MalformedAuthorizationHeader", detail="the authorization component is malformed.")
        if name in parts:
            raise S3Error("MalformedAuthorizationHeader", detail=f"the authorization header has '{name}' twice.")
        parts[name] = text.strip()
    for required in ("Credential", "SignedHeaders", "Signature"):
        if not parts.get(required):
            raise S3Error(
                "MalformedAuthorizationHeader",
                detail=f"the authorization header requires '{required}' parameter.",
            )
    return parts


def _http_epoch(text: str) -> float | None:
    try:  # the email parser has raised on odd input in some Python versions
        parsed = email.utils.parsedate_tz(text)
        return None if parsed is None else float(email.utils.mktime_tz(parsed))
    except (OverflowError, ValueError, IndexError, TypeError):
        return None


def _request_time(headers: Mapping[str, str]) -> tuple[str, float]:
    """(the date text, epoch) from x-amz-date, else Date. A header that is present
    but empty or unreadable, or a time before 1970, is S3's "valid Date" refusal."""
    if "x-amz-date" in headers:
        stamp = headers["x-amz-date"]
        try:
            epoch: float | None = float(sigv4.parse_amz_date(stamp))
        except ValueError:
            epoch = _http_epoch(stamp) if stamp else None
    else:
        stamp = headers.get("date", "")
        epoch = _http_epoch(stamp) if stamp else None
    if epoch is None or epoch < 0:
        raise S3Error("MissingDateHeader")
    return stamp, epoch


def _check_skew(stamp: str, signed_at: float, now: float) -> None:
    if abs(now - signed_at) > MAX_SKEW_SECONDS:
        raise S3Error(
            "RequestTimeTooSkewed",
            elements={
                "RequestTime": stamp,
                "ServerTime": _iso(now),
                "MaxAllowedSkewMilliseconds": str(MAX_SKEW_SECONDS * 1000),
            },
        )


def _verify_v4_header(
    method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
    lookup: Lookup, region: str, now: float,
) -> AuthResult:
    parts = _parse_v4_header(headers["authorization"])
    access_key, date, scope_region, service = _parse_scope(parts["Credential"], query=False)
    if scope_region != region:
        raise S3Error("WrongHeaderRegion", elements={"Region": region}, region=scope_region, expected=region)
    if service != "s3":
        raise S3Error("MalformedAuthorizationHeader", detail=f"incorrect service \"{service}\". This endpoint belongs to \"s3\".")
    creds = _lookup(lookup, access_key)
    stamp, signed_at = _request_time(headers)
    _check_skew(stamp, signed_at, now)
    payload = headers.get("x-amz-content-sha256")
    if payload is None:
        raise S3Error("MissingContentSHA256")
    if payload not in _PAYLOAD_TOKENS and not _HEX64.match(payload):
        raise S3Error("InvalidContentSHA256")
    _check_token(creds, headers.get("x-amz-security-token"))
    signed_names = parts["SignedHeaders"]
    signed = _signed_names(signed_names)
    _check_unsigned(headers, signed)
    if "x-amz-date" in headers:
        stamp = headers["x-amz-date"]
    else:  # SigV4 with a Date header still signs the ISO form of that time
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(signed_at))
    expected, text, request, key = _v4_signature(
        creds, method, raw_path, raw_query, headers, signed_names, payload, stamp, date, region, False
    )
    provided = parts["Signature"]
    if not same(expected, provided):
        raise _v4_mismatch(creds, text, provided, request)
    verifier = None
    if payload in (sigv4.STREAMING_PAYLOAD, sigv4.STREAMING_PAYLOAD_TRAILER):
        verifier = ChunkVerifier(key, stamp, sigv4.credential_scope(date, region), provided)
    return AuthResult(creds, "v4", False, payload, signed, verifier)


def _refuse_sigv4_only(raw_query: str) -> None:
    """SigV2 does not sign these sub-resources, so a SigV2 signature could be
    replayed onto their operations: S3 refuses them under SigV2."""
    for name, _ in _raw_pairs(raw_query):
        if name in sigv2.SIGV4_ONLY_SUBRESOURCES:
            raise S3Error("SigV4Required")


def _v2_check(
    creds: Credentials, provided: str, method: str, raw_path: str, raw_query: str,
    headers: Mapping[str, str], date_line: str, virtual_bucket: str | None,
    extra: Mapping[str, str] | None = None,
) -> None:
    """Accept the SigV2 string to sign without the SSE-C key headers (Amazon S3's
    rule, which lets a URL leave the key to its user) or with them (how botocore,
    MinIO and Ceph sign); either way the key itself is checked against its MD5."""
    text = v2_string_to_sign(method, raw_path, raw_query, headers, date_line, virtual_bucket, extra)
    if same(sigv2.sign(creds.secret_key, text), provided):
        return
    if any(name in SSEC_KEY_HEADERS for name in headers):
        alt = v2_string_to_sign(method, raw_path, raw_query, headers, date_line, virtual_bucket, extra, True)
        if same(sigv2.sign(creds.secret_key, alt), provided):
            return
    raise _v2_mismatch(creds, text, provided)


def v2_resource_path(raw_path: str, virtual_bucket: str | None) -> str:
    """The path part of SigV2's canonical resource for a received request."""
    path = recanonical_path(raw_path)
    if virtual_bucket:
        return f"/{virtual_bucket}{path}"
    if path.count("/") == 1 and len(path) > 1:
        path += "/"  # a bucket's SigV2 resource is "/bucket/" even for the path "/bucket"
    return path


def v2_string_to_sign(
    method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], date_line: str,
    virtual_bucket: str | None, extra: Mapping[str, str] | None = None, include_ssec_keys: bool = False,
) -> str:
    """The SigV2 string to sign S3 builds from a received request: the one function
    behind the verifier and ``inspect``. ``date_line`` is Expires (query auth),
    else Date ("" when x-amz-date is sent)."""
    amz = {n: v for n, v in headers.items() if n.startswith("x-amz-")}
    if extra:
        amz.update(extra)
    return sigv2.string_to_sign(
        method,
        headers.get("content-md5", ""),
        headers.get("content-type", ""),
        date_line,
        amz,
        sigv2.canonical_resource(v2_resource_path(raw_path, virtual_bucket), _raw_pairs(raw_query)),
        include_ssec_keys=include_ssec_keys,
    )


def _v2_mismatch(creds: Credentials, text: str, provided: str) -> S3Error:
    return S3Error(
        "SignatureDoesNotMatch",
        elements={
            "AWSAccessKeyId": creds.access_key,
            "StringToSign": text,
            "SignatureProvided": provided,
            "StringToSignBytes": _bytes_hex(text),
        },
    )


def _verify_v2_query(
    method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], q: Mapping[str, str],
    lookup: Lookup, now: float, virtual_bucket: str | None,
) -> AuthResult:
    if not q.get("AWSAccessKeyId") or not q.get("Signature") or not q.get("Expires"):
        raise S3Error("MissingV2QueryParameters")
    _refuse_sigv4_only(raw_query)
    creds = _lookup(lookup, q["AWSAccessKeyId"])
    auth = parse_v2_presigned(q, headers)
    if now > auth.expires:
        raise S3Error("RequestExpired", elements={"Expires": _iso(auth.expires), "ServerTime": _iso(now)})
    _check_token(creds, auth.token)
    text = auth.string_to_sign(method, raw_path, raw_query, headers, virtual_bucket)
    if same(sigv2.sign(creds.secret_key, text), auth.signature):
        return AuthResult(creds, "v2", True)
    if any(name in SSEC_KEY_HEADERS for name in headers):  # as _v2_check: with the SSE-C key headers too
        alt = auth.string_to_sign(method, raw_path, raw_query, headers, virtual_bucket, True)
        if same(sigv2.sign(creds.secret_key, alt), auth.signature):
            return AuthResult(creds, "v2", True)
    raise _v2_mismatch(creds, text, auth.signature)


def _verify_v2_header(
    method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
    lookup: Lookup, now: float, virtual_bucket: str | None,
) -> AuthResult:
    value = headers["authorization"][4:].strip()
    access_key, sep, provided = value.rpartition(":")
    if not sep or not access_key or not provided:
        raise S3Error("MalformedAuthorizationHeader", detail="the authorization header is not of the form 'AWS AccessKeyId:Signature'.")
    _refuse_sigv4_only(raw_query)
    creds = _lookup(lookup, access_key)
    stamp, signed_at = _request_time(headers)
    _check_skew(stamp, signed_at, now)
    _check_token(creds, headers.get("x-amz-security-token"))
    date_line = "" if "x-amz-date" in headers else headers.get("date", "")
    _v2_check(creds, provided, method, raw_path, raw_query, headers, date_line, virtual_bucket)
    return AuthResult(creds, "v2", False)


def verify_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    *,
    lookup: Lookup,
    region: str,
    now: float | None = None,
    virtual_bucket: str | None = None,
    params: Mapping[str, str] | None = None,
) -> AuthResult:
    """Authenticate one request; raise S3Error exactly as S3 would. ``params``:
    ``first_params(raw_query)`` if the caller already has it."""
    now = time.time() if now is None else now
    q = params if params is not None else first_params(raw_query) if raw_query else {}
    authorization = headers.get("authorization")
    v4_query = "X-Amz-Algorithm" in q or "X-Amz-Credential" in q or "X-Amz-Signature" in q
    v2_query = "Signature" in q or "AWSAccessKeyId" in q
    if v4_query:
        _refuse_duplicates(raw_query, _V4_AUTH_QUERY, q)
    elif v2_query:
        _refuse_duplicates(raw_query, _V2_AUTH_QUERY, q)
    if authorization and (v4_query or v2_query):
        raise S3Error("InvalidArgument", detail="Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
    if v4_query:
        return _verify_v4_query(method, raw_path, raw_query, headers, q, lookup, region, now)
    if v2_query:
        return _verify_v2_query(method, raw_path, raw_query, headers, q, lookup, now, virtual_bucket)
    if authorization:
        if authorization.startswith(sigv4.ALGORITHM + " "):
            return _verify_v4_header(method, raw_path, raw_query, headers, lookup, region, now)
        if authorization.startswith("AWS "):
            return _verify_v2_header(method, raw_path, raw_query, headers, lookup, now, virtual_bucket)
        raise S3Error("UnsupportedAuthorizationType")
    raise S3Error("AnonymousDenied")


def verify_post_form(
    form: Mapping[str, str],
    *,
    bucket: str,
    lookup: Lookup,
    region: str,
    now: float | None = None,
) -> tuple[AuthResult, dict[str, Any], tuple[int, int] | None]:
    """Authenticate a POST object form (lower-case field names) and check its policy.

    Returns (auth, policy document, content-length-range); the caller enforces
    the range while it streams the file."""
    now = time.time() if now is None else now
    if "policy" not in form:
        raise S3Error("PostMissingField", field="policy")
    if "x-amz-signature" in form or "x-amz-credential" in form:
        for field in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
            if not form.get(field):
                raise S3Error("PostMissingField", field=field)
        if form["x-amz-algorithm"] != sigv4.ALGORITHM:
            raise S3Error("InvalidArgument", detail="X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
        access_key, _date, scope_region, _service = _parse_scope(form["x-amz-credential"], query=True)
        if scope_region != region:
            raise S3Error("WrongQueryRegion", elements={"Region": region}, region=scope_region, expected=region)
        version = "v4"
    else:
        for field in ("awsaccesskeyid", "signature"):
            if not form.get(field):
                raise S3Error("PostMissingField", field=field)
        access_key, version = form["awsaccesskeyid"], "v2"
    creds = _lookup(lookup, access_key)
    _check_token(creds, form.get("x-amz-security-token"))
    if not _policy.post_signature_matches(form, creds.secret_key, region=region):
        raise S3Error("PostSignatureMismatch", elements={"AWSAccessKeyId": access_key, "StringToSign": form["policy"]})
    document = _policy.decode_policy(form["policy"])
    length_range = _policy.check_policy(document, form, bucket=bucket, content_length=None, now=now)
    return AuthResult(creds, version, True), document, length_range


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def epoch_of_http_date(text: str) -> float | None:
    """An RFC 7231 date as epoch seconds, or None if it does not parse."""
    try:
        parsed = email.utils.parsedate_tz(text)
        return None if parsed is None else float(calendar.timegm(parsed[:9]) - (parsed[9] or 0))
    except (OverflowError, ValueError, IndexError, TypeError):
        return None
