"""Explain a pre-signed URL: what it says, what must be sent with it, and why S3
refuses it.

Everything about the URL is decoded without a key. With the secret key, the
signature is checked by the core's own verifier (``core.verify.verify_request``,
the code the server runs), and when it does not match, single changes to the
request (method, path encoding, query, one header, scope) are tried until one
makes it match: that change is the cause. An S3 error document can be compared
with the canonical request this URL implies.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping
from urllib.parse import unquote, urlsplit

from s3presign.core import sigv4
from s3presign.core.canonical import (
    SSEC_KEY_HEADERS,
    encode_key,
    host_header,
    recanonical_path,
)
from s3presign.core.credentials import Credentials
from s3presign.core.errors import PresignError
from s3presign.core.presign import METHODS
from s3presign.core.s3errors import ERRORS, S3Error
from s3presign.core.sse import (
    H_BUCKET_KEY,
    H_C_ALGORITHM,
    H_C_KEY,
    H_C_KEY_MD5,
    H_KMS_CONTEXT,
    H_KMS_KEY,
    H_SSE,
    SSE_C_ALGORITHM,
    SSE_TABLE,
)
from s3presign.core.numbers import ascii_uint
from s3presign.core.verify import (
    MAX_SKEW_SECONDS,
    V2Presigned,
    V4Presigned,
    first_params,
    parse_presigned,
    v2_string_to_sign,
    v4_canonical_request,
    v4_string_to_sign,
    verify_request,
)

SEVEN_DAYS = sigv4.MAX_EXPIRES
_V4_AUTH = frozenset(
    {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
     "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Content-Sha256"}
)
_V2_AUTH = frozenset({"AWSAccessKeyId", "Signature", "Expires", "x-amz-security-token"})
_AWS_HOST = re.compile(
    r"^(?:(?P<bucket>.+)\.)?s3(?:-accelerate)?(?:[.-](?:dualstack\.)?(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d|external-1))?"
    r"(?:\.dualstack)?\.amazonaws\.com(?:\.cn)?$"
)
_SSE_VALUES = {"AES256": "s3", "aws:kms": "kms", "aws:kms:dsse": "dsse"}
# Values worth trying for a signed header whose value is unknown or changed.
CANDIDATES: dict[str, tuple[str, ...]] = {
    H_SSE: ("aws:kms", "AES256", "aws:kms:dsse"),
    H_C_ALGORITHM: (SSE_C_ALGORITHM,),
    H_BUCKET_KEY: ("true", "false"),
    "content-type": (
        "application/octet-stream", "binary/octet-stream", "text/plain", "text/plain; charset=utf-8",
        "application/json", "text/csv", "text/html", "application/xml", "application/pdf", "image/png",
        "image/jpeg", "application/zip", "application/gzip", "application/x-www-form-urlencoded",
    ),
    "x-amz-acl": ("private", "public-read", "bucket-owner-full-control", "authenticated-read"),
    "x-amz-storage-class": ("STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER", "ONEZONE_IA"),
}
_COMMON_EXPIRES = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
AWS_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "ap-south-1",
    "ap-south-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-4", "ap-east-1", "sa-east-1", "me-south-1", "me-central-1",
    "af-south-1", "il-central-1", "us-gov-west-1", "us-gov-east-1", "cn-north-1", "cn-northwest-1",
)


# --- the URL, decoded ------------------------------------------------------------


@dataclass
class SignedURL:
    """Everything a pre-signed URL says without its key."""

    url: str
    scheme: str
    netloc: str
    hostname: str
    raw_path: str
    raw_query: str
    params: dict[str, str]
    version: str  # "v4" | "v2"
    access_key: str
    signature: str
    bucket: str | None
    key: str | None
    addressing: str  # "virtual" | "path"
    aws: bool  # an Amazon S3 endpoint
    aws_region: str | None  # the region an Amazon endpoint's host names
    region: str | None = None  # v4: the credential scope's
    scope_date: str | None = None
    service: str | None = None
    stamp: str | None = None  # v4: X-Amz-Date
    signed_at: float | None = None
    max_age: int | None = None  # v4: X-Amz-Expires
    expires_at: float | None = None
    signed_headers: tuple[str, ...] | None = None  # None: SigV2 does not list them
    session_token: str | None = None
    problems: list[str] = field(default_factory=list)  # malformed parts

    @property
    def host(self) -> str:
        return host_header(self.scheme, self.netloc)

    @property
    def virtual_bucket(self) -> str | None:
        return self.bucket if self.addressing == "virtual" else None


def _locate(hostname: str, raw_path: str, endpoint_host: str | None) -> tuple[str | None, str | None, str, bool, str | None]:
    """(bucket, key, addressing, aws, aws_region) from the host and path."""
    path = raw_path[1:] if raw_path.startswith("/") else raw_path
    match = _AWS_HOST.match(hostname)
    bucket: str | None = None
    if match:
        region = match.group("region")
        aws_region = "us-east-1" if region in (None, "external-1") else region
        bucket = match.group("bucket")
        aws = True
    else:
        aws, aws_region = False, None
        if endpoint_host and hostname.endswith("." + endpoint_host):
            bucket = hostname[: -len(endpoint_host) - 1]
        elif not endpoint_host and hostname.endswith(".localhost"):
            bucket = hostname[: -len(".localhost")]
    if bucket is not None:
        return bucket, unquote(path) or None, "virtual", aws, aws_region
    raw_bucket, _, raw_key = path.partition("/")
    return unquote(raw_bucket) or None, unquote(raw_key) or None, "path", aws, aws_region


def parse_signed_url(url: str, *, endpoint_url: str | None = None) -> SignedURL:
    """Decode a pre-signed URL (SigV4 or SigV2); PresignError if it is not one."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PresignError(f"{url[:80]!r} is not an http(s) URL; give the whole pre-signed URL, in quotes")
    params = first_params(parts.query)
    endpoint_host = urlsplit(endpoint_url).hostname if endpoint_url else None
    bucket, key, addressing, aws, aws_region = _locate(parts.hostname, parts.path or "/", endpoint_host)
    common = dict(
        url=url, scheme=parts.scheme, netloc=parts.netloc, hostname=parts.hostname, raw_path=parts.path or "/",
        raw_query=parts.query, params=params, bucket=bucket, key=key, addressing=addressing, aws=aws,
        aws_region=aws_region,
    )
    if "X-Amz-Signature" in params or "X-Amz-Credential" in params or "X-Amz-Algorithm" in params:
        return _parse_v4(common, params)
    if "Signature" in params or "AWSAccessKeyId" in params:
        return _parse_v2(common, params)
    raise PresignError(
        "this URL is not pre-signed: it has neither X-Amz-Signature (SigV4) nor Signature (SigV2) in its query"
    )


def _parse_v4(common: dict[str, Any], q: dict[str, str]) -> SignedURL:
    problems = [f"{name} is missing" for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                                                   "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature")
                if name not in q]
    scope = q.get("X-Amz-Credential", "").split("/")
    access_key, date, region, service = (scope + ["", "", "", ""])[:4] if len(scope) == 5 else (scope[0], None, None, None)
    if len(scope) != 5 and "X-Amz-Credential" in q:
        problems.append("X-Amz-Credential is not ACCESS-KEY/DATE/REGION/s3/aws4_request")
    stamp = q.get("X-Amz-Date")
    signed_at = None
    if stamp:
        try:
            signed_at = float(sigv4.parse_amz_date(stamp))
        except ValueError:
            problems.append(f"X-Amz-Date {stamp!r} is not YYYYMMDDTHHMMSSZ")
    raw_age = q.get("X-Amz-Expires", "")
    max_age = ascii_uint(raw_age)
    if raw_age and max_age is None:
        problems.append(f"X-Amz-Expires {raw_age!r} is not a whole number of seconds")
    names = q.get("X-Amz-SignedHeaders")
    return SignedURL(
        **common, version="v4", access_key=access_key, signature=q.get("X-Amz-Signature", ""),
        region=region or None, scope_date=date or None, service=service or None, stamp=stamp,
        signed_at=signed_at, max_age=max_age,
        expires_at=signed_at + max_age if signed_at is not None and max_age is not None else None,
        signed_headers=tuple(names.split(";")) if names else (), session_token=q.get("X-Amz-Security-Token"),
        problems=problems,
    )


def _parse_v2(common: dict[str, Any], q: dict[str, str]) -> SignedURL:
    problems = [f"{name} is missing" for name in ("AWSAccessKeyId", "Signature", "Expires") if name not in q]
    raw = q.get("Expires", "")
    parsed = ascii_uint(raw, 11)
    expires_at = float(parsed) if parsed is not None else None
    if raw and expires_at is None:
        problems.append(f"Expires {raw!r} is not a Unix time")
    return SignedURL(
        **common, version="v2", access_key=q.get("AWSAccessKeyId", ""), signature=q.get("Signature", ""),
        region=common["aws_region"], expires_at=expires_at, session_token=q.get("x-amz-security-token"),
        problems=problems,
    )


# --- `s3presign url --output json` ----------------------------------------------------


def load_presigned_json(path: str) -> tuple[str, str, dict[str, str], tuple[str, ...]]:
    """(method, url, headers, required header names) from `s3presign url --output json`."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise PresignError(f"cannot read --from-json {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise PresignError(f"--from-json {path} is not JSON ({exc}); give the output of `s3presign url ... --output json`") from None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) or not isinstance(data.get("method"), str):
        raise PresignError(f"--from-json {path} has no \"method\" and \"url\"; give the output of `s3presign url ... --output json`")
    headers = data.get("headers") or {}
    required = data.get("required_headers") or []
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise PresignError(f"--from-json {path}: \"headers\" must map header names to string values")
    if not isinstance(required, list) or not all(isinstance(n, str) for n in required):
        raise PresignError(f"--from-json {path}: \"required_headers\" must be a list of header names")
    return data["method"].upper(), data["url"], {k.lower(): v for k, v in headers.items()}, tuple(n.lower() for n in required)


# --- the canonical forms this URL implies (no key needed) -------------------------


def _typed(u: SignedURL, headers: Mapping[str, str]) -> V4Presigned | V2Presigned | None:
    """The verifier's own typed auth values for this URL (None if S3 would refuse
    its syntax; the report then says why, from its lenient parse)."""
    try:
        return parse_presigned(u.raw_query, headers)
    except S3Error:
        return None


def canonical_request(u: SignedURL, method: str, headers: Mapping[str, str]) -> str | None:
    """SigV4: the canonical request S3 builds for this URL sent with these headers
    (the verifier's own function)."""
    if u.version != "v4" or u.signed_headers is None:
        return None
    sent = {"host": u.host, **headers}
    auth = _typed(u, headers)
    if isinstance(auth, V4Presigned):
        return auth.canonical_request(method, u.raw_path, u.raw_query, sent)
    return v4_canonical_request(
        method, u.raw_path, u.raw_query, sent, ";".join(u.signed_headers),
        u.params.get("X-Amz-Content-Sha256", sigv4.UNSIGNED_PAYLOAD), presigned=True,
    )


def string_to_sign(u: SignedURL, method: str, headers: Mapping[str, str]) -> str | None:
    """The string to sign S3 computes for this URL sent with these headers (the
    verifier's own functions, so the two cannot drift)."""
    auth = _typed(u, headers)
    if u.version == "v4":
        request = canonical_request(u, method, headers)
        if isinstance(auth, V4Presigned) and request is not None:
            return auth.string_to_sign(request)
        if request is None or not u.stamp or not u.scope_date or not u.region:
            return None
        return v4_string_to_sign(u.stamp, u.scope_date, u.region, request)
    if isinstance(auth, V2Presigned):
        return auth.string_to_sign(method, u.raw_path, u.raw_query, headers, u.virtual_bucket)
    token = u.session_token or headers.get("x-amz-security-token")
    return v2_string_to_sign(
        method, u.raw_path, u.raw_query, headers, u.params.get("Expires", ""), u.virtual_bucket,
        {"x-amz-security-token": token} if token else None,
    )


# --- the report ----------------------------------------------------------------------


@dataclass
class Finding:
    level: str  # "error" (S3 will refuse) | "warning" | "ok"
    code: str
    message: str
    fix: str = ""
    subject: str = ""  # the header (etc.) it is about; a later finding on it replaces this one

    def to_dict(self) -> dict[str, str]:
        data = {"level": self.level, "code": self.code, "message": self.message}
        if self.fix:
            data["fix"] = self.fix
        return data


@dataclass
class HeaderToSend:
    name: str
    value: str | None  # None: not known from the URL
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "why": self.why}


@dataclass
class Report:
    url: SignedURL
    method: str
    method_known: bool
    now: float
    headers: dict[str, str]
    sse_mode: str | None
    sse_description: str
    send: list[HeaderToSend]
    findings: list[Finding] = field(default_factory=list)
    signature_checked: bool = False
    signature_matches: bool | None = None
    canonical_request: str | None = None
    string_to_sign: str | None = None
    error: dict[str, str] | None = None

    @property
    def will_fail(self) -> bool:
        return any(f.level == "error" for f in self.findings)

    def add(self, level: str, code: str, message: str, fix: str = "", subject: str = "") -> None:
        if subject:
            self.findings = [f for f in self.findings if not (f.code == code and f.subject == subject)]
        if not any(f.code == code and f.message == message for f in self.findings):
            self.findings.append(Finding(level, code, message, fix, subject))

    def ordered(self) -> list[Finding]:
        """Errors first, then warnings, then what is fine."""
        rank = {"error": 0, "warning": 1}
        return sorted(self.findings, key=lambda f: rank.get(f.level, 2))

    def causes(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    def to_dict(self) -> dict[str, Any]:
        u = self.url
        return {
            "url": u.url,
            "signature_version": u.version,
            "method": self.method if self.method_known else None,
            "scheme": u.scheme,
            "host": u.host,
            "addressing_style": u.addressing,
            "bucket": u.bucket,
            "key": u.key,
            "region": u.region,
            "endpoint_region": u.aws_region,
            "access_key": u.access_key,
            "signed_at": _iso(u.signed_at),
            "expires_at": _iso(u.expires_at),
            "expires_in_seconds": None if u.expires_at is None else int(u.expires_at - self.now),
            "signed_headers": None if u.signed_headers is None else list(u.signed_headers),
            "sse": {"mode": self.sse_mode, "description": self.sse_description},
            "headers_to_send": [h.to_dict() for h in self.send],
            "findings": [f.to_dict() for f in self.ordered()],
            "will_fail": self.will_fail,
            "signature": {
                "checked": self.signature_checked,
                "matches": self.signature_matches,
                "canonical_request": self.canonical_request,
                "string_to_sign": self.string_to_sign,
            },
            "error": self.error,
        }


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def relative(seconds: float) -> str:
    """'in 5 min 3 s' / '2 h 1 min ago'."""
    ahead = seconds >= 0
    s = int(abs(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
             f"{s} s" if s and not days else ""]
    text = " ".join(p for p in parts if p)[:40] or "0 s"
    return f"in {text}" if ahead else f"{text} ago"


# --- what the URL asks of whoever uses it -------------------------------------------------


def _sse_in_query(u: SignedURL) -> dict[str, str]:
    return {n.lower(): v for n, v in u.params.items() if n.lower().startswith("x-amz-server-side-encryption")}


def _sse_mode(u: SignedURL, headers: Mapping[str, str]) -> tuple[str | None, str]:
    signed = set(u.signed_headers or ())
    visible = {**_sse_in_query(u), **headers}
    names = signed | set(visible)
    if H_C_ALGORITHM in names:
        if H_C_KEY in signed:
            return "c-key", SSE_TABLE["c-key"].label
        return "c", SSE_TABLE["c"].label
    value = visible.get(H_SSE)
    if value is not None:
        mode = _SSE_VALUES.get(value)
        return mode, SSE_TABLE[mode].label if mode else f"unknown x-amz-server-side-encryption value {value!r}"
    if H_SSE in signed:
        if signed & {H_KMS_KEY, H_KMS_CONTEXT}:
            return None, "SSE-KMS or DSSE-KMS (x-amz-server-side-encryption is signed; its value is not in the URL)"
        return None, "SSE-S3, SSE-KMS or DSSE-KMS (x-amz-server-side-encryption is signed; its value is not in the URL)"
    if u.version == "v2":
        return None, "not visible: a SigV2 URL does not say which headers it signed"
    return "none", "none requested (reads: the object's own)"


def _headers_to_send(u: SignedURL, headers: Mapping[str, str]) -> list[HeaderToSend]:
    out: list[HeaderToSend] = []
    for name in u.signed_headers or ():
        if name == "host":
            continue
        value = headers.get(name)
        if value is None and name == H_C_ALGORITHM:
            value = SSE_C_ALGORITHM
        why = "signed: exactly this value" if value is not None else "signed: the value it was signed with"
        if name in (H_C_KEY, H_C_KEY_MD5):
            why = "signed: your SSE-C key, fixed at signing"
        out.append(HeaderToSend(name, value, why))
    if u.version == "v4" and H_C_ALGORITHM in (u.signed_headers or ()) and H_C_KEY not in (u.signed_headers or ()):
        out += [HeaderToSend(H_C_KEY, headers.get(H_C_KEY), "not signed: your SSE-C key (base64)"),
                HeaderToSend(H_C_KEY_MD5, headers.get(H_C_KEY_MD5), "not signed: base64 MD5 of your key")]
    if u.version == "v2":
        for name, value in headers.items():
            if name.startswith("x-amz-") or name in ("content-type", "content-md5"):
                out.append(HeaderToSend(name, value, "covered by the SigV2 signature"))
    return out


# --- checks that need no key ----------------------------------------------------------


def _static_checks(r: Report, region: str | None, endpoint_url: str | None, addressing_style: str | None) -> None:
    u, now = r.url, r.now
    for problem in u.problems:
        r.add("error", "malformed", f"the URL is malformed: {problem}", "use the URL exactly as it was generated")
    if u.expires_at is not None:
        left = u.expires_at - now
        if left < 0:
            r.add("error", "expired", f"the URL expired {relative(left)}, at {_iso(u.expires_at)}",
                  "ask for a new URL (s3presign url ...)")
    if u.signed_at is not None and u.signed_at - now > MAX_SKEW_SECONDS:
        r.add("error", "not-yet-valid", f"the URL was signed {relative(u.signed_at - now)} (X-Amz-Date "
              f"{u.stamp}); S3 refuses it until then", "check the signer's clock")
    if u.version == "v4" and u.max_age is not None and u.max_age > SEVEN_DAYS:
        r.add("error", "expiry-too-long", f"X-Amz-Expires is {u.max_age} s; SigV4 URLs may last at most 604800 s "
              "(7 days), S3 answers AuthorizationQueryParametersError", "sign again with --expires-in 604800 or less")
    if u.version == "v2" and u.expires_at is not None and u.expires_at - now > SEVEN_DAYS:
        r.add("warning", "expiry-too-long", f"the URL lasts {relative(u.expires_at - now)[3:]}, more than 7 days; "
              "S3 stops honouring it when the signing credentials expire, and SigV2 is not accepted in regions "
              "launched after 2014", "prefer SigV4 with at most 7 days")
    if u.version == "v4":
        if u.stamp and u.scope_date and u.stamp[:8] != u.scope_date:
            r.add("error", "date-scope", f"the date in X-Amz-Credential ({u.scope_date}) is not the date of "
                  f"X-Amz-Date ({u.stamp}); S3 answers SignatureDoesNotMatch", "use the URL exactly as it was generated")
        if u.service and u.service != "s3":
            r.add("error", "date-scope", f"the credential scope names the service {u.service!r}, not s3",
                  "sign for the s3 service")
    mode = r.sse_mode
    if u.version == "v2" and mode in ("kms", "dsse"):
        r.add("error", "sigv2-kms", f"a SigV2 request with {SSE_TABLE[mode].label}: S3 answers InvalidArgument "
              f"\"{ERRORS['KmsRequiresSigV4'].message}\"", "sign with Signature Version 4 (--signature-version v4)")
    if mode in ("c", "c-key") and u.scheme == "http":
        r.add("error", "ssec-over-http", f"SSE-C over plain http: S3 answers InvalidRequest \"{ERRORS['SseCRequiresHttps'].message}\"",
              "use an https endpoint")
    query_sse = _sse_in_query(u)
    if query_sse:
        names = ", ".join(sorted(query_sse))
        r.add("warning", "sse-in-query", f"SSE parameters are in the query string ({names}); S3 applies SSE only "
              "from headers, so these are ignored (the object gets the bucket's default encryption)",
              "sign them as headers (s3presign url --sse ...) and send them as headers")
    _region_checks(r, region)
    _addressing_checks(r, endpoint_url, addressing_style)
    _header_checks(r)


def _region_checks(r: Report, region: str | None) -> None:
    u = r.url
    if u.version != "v4" or not u.region:
        return
    fix = "sign again for the endpoint's region (--region {})"
    if region and region != u.region:
        r.add("error", "wrong-region", f"the URL is signed for region {u.region} but the endpoint is in {region}; "
              f"S3 answers AuthorizationQueryParametersError (the region '{u.region}' is wrong; expecting "
              f"'{region}')", fix.format(region))
    elif u.aws and u.aws_region and u.aws_region != u.region:
        if u.hostname == "s3.amazonaws.com" or u.hostname.endswith(".s3.amazonaws.com"):
            r.add("warning", "wrong-region", f"the URL is signed for {u.region} but uses the global endpoint "
                  f"{u.hostname}; it works only if the bucket is in {u.region}",
                  f"use the regional endpoint s3.{u.region}.amazonaws.com")
        else:
            r.add("error", "wrong-region", f"the URL is signed for region {u.region} but its endpoint "
                  f"{u.hostname} is in {u.aws_region}; S3 answers AuthorizationQueryParametersError",
                  fix.format(u.aws_region))


def _addressing_checks(r: Report, endpoint_url: str | None, addressing_style: str | None) -> None:
    u = r.url
    if u.bucket is None:
        r.add("warning", "addressing", "the URL names no bucket (neither in the host nor in the path)")
        return
    if u.addressing == "virtual" and "." in u.bucket and u.scheme == "https" and u.aws:
        r.add("error", "addressing", f"the bucket {u.bucket!r} has dots, so its virtual-hosted name "
              f"{u.hostname} does not match S3's TLS certificate (*.{u.hostname.split('.', u.bucket.count('.') + 1)[-1]})",
              "sign with --addressing-style path")
    elif u.addressing == "path" and u.aws:
        r.add("warning", "addressing", "a path-style URL on Amazon S3: AWS is retiring path-style requests, "
              "and buckets outside us-east-1 answer PermanentRedirect on the global endpoint",
              "sign with --addressing-style virtual (or auto)")
    if addressing_style in ("virtual", "path") and addressing_style != u.addressing:
        r.add("warning", "addressing", f"the URL is {u.addressing}-style but --addressing-style {addressing_style} "
              "was asked for", "sign again with the addressing style the endpoint serves")
    if endpoint_url:
        ep = urlsplit(endpoint_url)
        ep_host = host_header(ep.scheme, ep.netloc) if ep.netloc else ""
        if u.host != ep_host and not u.host.endswith("." + ep_host):
            r.add("error", "addressing", f"the URL's host {u.host} is not the endpoint {ep_host} (path-style) nor "
                  f"BUCKET.{ep_host} (virtual-hosted)", "sign with --endpoint-url for the endpoint you use")
        elif ep.scheme and ep.scheme != u.scheme:
            r.add("warning", "addressing", f"the URL uses {u.scheme} but the endpoint is {ep.scheme}")


def _header_checks(r: Report) -> None:
    u = r.url
    if u.version != "v4" or u.signed_headers is None:
        return
    signed = set(u.signed_headers)
    for h in r.send:
        if h.name in signed and h.name not in r.headers and h.name != H_C_ALGORITHM:
            value = f" with the value it was signed with ({_guess(h.name)})" if _guess(h.name) else ""
            r.add("error", "header-not-sent", f"the URL signed {h.name}, which the request does not send; "
                  f"S3 answers SignatureDoesNotMatch", f"send it as a header{value}", subject=h.name)
        elif h.name == H_C_ALGORITHM and h.name not in r.headers:
            r.add("error", "header-not-sent", f"the URL signed {H_C_ALGORITHM}, which the request does not send",
                  f"send {H_C_ALGORITHM}: AES256 and your key's two headers (--sse-c-key-file)", subject=h.name)
        elif h.name in (H_C_KEY, H_C_KEY_MD5) and h.name not in r.headers:
            r.add("error", "header-not-sent", f"the object is SSE-C: the request must send {h.name}",
                  "give your 32-byte key (--sse-c-key-file)", subject=h.name)
    unsigned = sorted(n for n in r.headers if n.startswith("x-amz-") and n not in signed and n not in SSEC_KEY_HEADERS)
    if unsigned:
        r.add("error", "header-not-signed", f"the request sends {', '.join(unsigned)}, which the URL did not sign; "
              f"S3 answers AccessDenied \"{ERRORS['HeadersNotSigned'].message}\"",
              "do not send it, or sign a URL that includes it")


def _guess(name: str) -> str:
    values = CANDIDATES.get(name)
    if name == H_SSE:
        return "AES256, aws:kms or aws:kms:dsse"
    return " or ".join(values) if values and len(values) <= 2 else ""


# --- the signature, with the secret ----------------------------------------------------------


class _Check:
    """verify_request on variants of one request, for one secret key."""

    def __init__(self, u: SignedURL, secret_key: str) -> None:
        self.u = u
        self.creds = Credentials(u.access_key or "unknown", secret_key, u.session_token)
        if u.version == "v4":
            self.now = u.signed_at if u.signed_at is not None else time.time()
        else:
            self.now = u.expires_at if u.expires_at is not None else time.time()

    def run(self, method: str, headers: Mapping[str, str], *, raw_path: str | None = None,
            raw_query: str | None = None, region: str | None = None) -> S3Error | None:
        u = self.u
        creds = self.creds
        try:
            verify_request(
                method, u.raw_path if raw_path is None else raw_path, u.raw_query if raw_query is None else raw_query,
                {"host": u.host, **headers}, lookup=lambda ak: creds if ak == creds.access_key else None,
                region=region or u.region or "us-east-1", now=self.now, virtual_bucket=u.virtual_bucket,
            )
        except S3Error as err:
            return err
        return None


def _replace_param(raw_query: str, name: str, value: str | None) -> str:
    """The query with one parameter's value replaced (None: dropped)."""
    out = []
    for part in raw_query.split("&"):
        pname = unquote(part.partition("=")[0])
        if pname == name:
            if value is not None:
                out.append(f"{part.partition('=')[0]}={value}")
        else:
            out.append(part)
    return "&".join(out)


def _path_variants(raw_path: str) -> Iterator[tuple[str, str]]:
    """(raw path, how the signer saw the key differently) for the usual encoding slips."""
    decoded = unquote(raw_path)
    seen = {recanonical_path(raw_path)}
    variants = [
        (decoded.replace("+", " "), "a '+' in a URL path is a literal plus to S3, but the signer meant a space; encode spaces as %20"),
        (unquote(decoded), "the path in the URL is encoded twice (e.g. %2520 for a space)"),
        (encode_key(decoded), "the signer encoded the path twice (SigV4 does that for services other than S3); S3 encodes it once"),
        (decoded.replace(" ", "+"), "the signer had a literal '+' where the URL has a space"),
        (unicodedata.normalize("NFC", decoded), "the key's Unicode form differs (NFD in the URL, NFC when signed)"),
        (unicodedata.normalize("NFD", decoded), "the key's Unicode form differs (NFC in the URL, NFD when signed)"),
        (re.sub("/{2,}", "/", decoded), "the URL has repeated slashes the signer did not have"),
        (decoded.rstrip("/") if decoded.endswith("/") and len(decoded) > 1 else decoded + "/",
         "a trailing slash differs between the URL and what was signed"),
    ]
    for key, why in variants:
        raw = encode_key(key)
        canonical = recanonical_path(raw)
        if canonical not in seen:
            seen.add(canonical)
            yield raw, why


def _signature_checks(r: Report, secret_key: str, access_key: str | None) -> None:
    u = r.url
    if not u.access_key or not u.signature:
        return
    if access_key and access_key != u.access_key:
        r.add("error", "wrong-access-key", f"the URL was signed by access key {u.access_key}, but your credentials "
              f"are for {access_key}", f"use the secret key of {u.access_key}")
    check = _Check(u, secret_key)
    signed = set(u.signed_headers or ())
    headers = dict(r.headers)
    if u.version == "v4":  # reported already; the signature is judged without them
        headers = {n: v for n, v in headers.items() if not (n.startswith("x-amz-") and n not in signed and n not in SSEC_KEY_HEADERS)}
    r.signature_checked = True
    methods = [r.method] if r.method_known else ["GET", "PUT", "HEAD", "DELETE", "POST"]
    for method in methods:
        err = check.run(method, headers)
        if err is None:
            r.signature_matches = True
            if not r.method_known:
                r.method, r.method_known = method, True
            r.add("ok", "signature", f"the signature matches: signed by {u.access_key} for {method}"
                  + (f" with {', '.join(sorted(signed - {'host'}))}" if signed - {"host"} else ""))
            return
        if err.code != "SignatureDoesNotMatch":
            r.add("error", "refused", f"S3's verifier refuses the request before the signature: {err.code}: {err.message}")
            r.signature_matches = False
            return
    r.signature_matches = False
    missing = [n for n in u.signed_headers or () if n != "host" and n not in headers]
    unknown = [n for n in missing if n not in CANDIDATES]
    if unknown:
        r.signature_matches = None
        r.add("warning", "signature-unjudged", "the signature cannot be checked without the signed values of "
              f"{', '.join(unknown)}", "pass them with --header NAME:VALUE (or --from-json)")
        return
    known = r.method_known
    for method in methods:
        r.method = method
        if missing:  # v4: fill in the signed headers the request leaves out, where their values can be guessed
            for combo in itertools.product(*(CANDIDATES[n] for n in missing)):
                if check.run(method, {**headers, **dict(zip(missing, combo))}) is None:
                    r.method_known = True
                    for name, value in zip(missing, combo):
                        _record_cause(r, ("header-not-sent", f"the URL signed {name}: {value}, which the request "
                                          "does not send; S3 answers SignatureDoesNotMatch",
                                          f"send it as a header with value {value}", name, value))
                    return
        cause = _find_cause(r, check, headers)
        if cause is not None:
            r.method_known = True
            _record_cause(r, cause)
            return
    r.method, r.method_known = methods[0], known
    unknown = sorted(n for n in headers if n in signed and n not in CANDIDATES) if u.version == "v4" else []
    also = (f"; or a signed header's value differs from what was signed ({', '.join(unknown)})" if unknown else "")
    r.add("error", "wrong-secret", "the signature does not match, and no single change to the method, path, query, "
          f"headers or scope explains it: the secret key is most likely not the one that signed this URL "
          f"(signed by access key {u.access_key}){also}", f"use the secret key of {u.access_key}")


def _record_cause(r: Report, cause: tuple[str, str, str, str, str | None]) -> None:
    code, message, fix, subject, value = cause
    r.add("error", code, message, fix, subject)
    if subject == H_SSE and value in _SSE_VALUES:
        r.sse_mode = _SSE_VALUES[value]
        r.sse_description = SSE_TABLE[r.sse_mode].label + " (value found with the secret key)"
    for h in r.send:
        if h.name == subject and value is not None:
            h.value, h.why = value, "signed: exactly this value (found with the secret key)"


def _find_cause(r: Report, check: _Check, headers: dict[str, str]) -> tuple[str, str, str, str, str | None] | None:
    """The first single change to the request that makes the signature match."""
    u, method = r.url, r.method
    methods = [m for m in ("GET", "PUT", "HEAD", "DELETE", "POST") if m != method] if r.method_known else []
    for other in methods:
        if check.run(other, headers) is None:
            return ("method", f"the URL was signed for {other}, not {method}; S3 answers SignatureDoesNotMatch",
                    f"send it as {other}, or sign a URL for {method}", "", None)
    signed = set(u.signed_headers or ())
    # SigV2 does not list what it signed: try the usual headers (v4's are handled before)
    missing = [] if u.version == "v4" else [
        n for n in (H_SSE, H_C_ALGORITHM, "content-type", H_BUCKET_KEY, "x-amz-acl", "x-amz-storage-class") if n not in headers
    ]
    for name in missing:
        for value in CANDIDATES.get(name, ()):
            if check.run(method, {**headers, name: value}) is None:
                return ("header-not-sent", f"the URL signed {name}: {value}, which the request does not send; "
                        "S3 answers SignatureDoesNotMatch", f"send it as a header with value {value}", name, value)
    # a header's value changed, or sent though not signed (v2)
    for name, current in headers.items():
        if name in SSEC_KEY_HEADERS or (u.version == "v4" and name not in signed):
            continue
        for value in CANDIDATES.get(name, ()):
            if value != current and check.run(method, {**headers, name: value}) is None:
                return ("header-value", f"{name} is sent as {current!r} but the URL signed {value!r}; S3 answers "
                        "SignatureDoesNotMatch", f"send {name}: {value}", name, value)
        if u.version == "v2" and (name.startswith("x-amz-") or name in ("content-type", "content-md5")):
            rest = {n: v for n, v in headers.items() if n != name}
            if check.run(method, rest) is None:
                return ("header-not-signed", f"the request sends {name}, which the SigV2 URL did not sign; S3 answers "
                        "SignatureDoesNotMatch", f"do not send {name}", name, None)
    for raw_path, why in _path_variants(u.raw_path):
        if check.run(method, headers, raw_path=raw_path) is None:
            return ("path-encoding", f"the path is encoded differently from what was signed: S3 reads "
                    f"{recanonical_path(u.raw_path)} but the URL was signed for {raw_path} ({why})",
                    f"use the path {raw_path}", "", None)
    auth = _V4_AUTH if u.version == "v4" else _V2_AUTH
    for name in [n for n in u.params if n not in auth]:
        if check.run(method, headers, raw_query=_replace_param(u.raw_query, name, None)) is None:
            return ("query", f"the query parameter {name} was added after signing; S3 answers SignatureDoesNotMatch",
                    f"drop {name} from the URL", "", None)
    if "+" in u.raw_query:
        if check.run(method, headers, raw_query=u.raw_query.replace("+", "%20")) is None:
            return ("query", "a '+' in the query is a literal plus to S3, but the signer meant a space",
                    "encode spaces in the query as %20", "", None)
    if u.version == "v4":
        for seconds in _COMMON_EXPIRES:
            if seconds != u.max_age and check.run(
                method, headers, raw_query=_replace_param(u.raw_query, "X-Amz-Expires", str(seconds))
            ) is None:
                return ("query", f"X-Amz-Expires was changed from {seconds} to {u.max_age} after signing",
                        "use the URL exactly as it was generated", "", None)
        if u.region and u.scope_date:
            credential = u.params.get("X-Amz-Credential", "")
            for region in AWS_REGIONS:
                if region == u.region:
                    continue
                changed = credential.replace(f"/{u.region}/", f"/{region}/")
                query = _replace_param(u.raw_query, "X-Amz-Credential", changed.replace("/", "%2F"))
                if check.run(method, headers, raw_query=query, region=region) is None:
                    return ("date-scope", f"the URL was signed for region {region}, but X-Amz-Credential now names "
                            f"{u.region}", "use the URL exactly as it was generated", "", None)
    return None


# --- an S3 error document ----------------------------------------------------------


def parse_error_xml(data: bytes | str) -> dict[str, str]:
    """S3's <Error> document as {element: text}; PresignError if it is not one."""
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(data.encode() if isinstance(data, str) else data)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise PresignError("the error document is not XML; save S3's whole response body (curl -o err.xml)") from None
    if root.tag.rpartition("}")[2] != "Error":
        raise PresignError(f"the document is a <{root.tag}>, not S3's <Error>")
    return {child.tag.rpartition("}")[2]: child.text or "" for child in root}


def error_name(error: Mapping[str, str]) -> str | None:
    """The name in core.s3errors.ERRORS of an error document's code and message."""
    code, message = error.get("Code", ""), error.get("Message", "")
    for name, spec in ERRORS.items():
        if spec.code != code:
            continue
        pattern = re.escape(spec.message)
        pattern = re.sub(r"\\\{[a-z_]+\\\}", ".*", pattern)
        if re.fullmatch(pattern, message, flags=re.S):
            return name
    return None


_ERROR_CAUSES: dict[str, tuple[str, str, str]] = {
    "RequestExpired": ("expired", "S3 says the URL has expired", "ask for a new URL"),
    "RequestNotYetValid": ("not-yet-valid", "S3 says the URL is not valid yet (the signer's clock is ahead)",
                           "check the signer's clock"),
    "HeadersNotSigned": ("header-not-signed", "the request sent x-amz-* headers the URL did not sign",
                         "do not send them, or sign a URL that includes them"),
    "KmsRequiresSigV4": ("sigv2-kms", "SSE-KMS (writing, or reading a KMS-encrypted object) needs SigV4, and "
                         "this request is SigV2", "sign with --signature-version v4"),
    "SseCRequiresHttps": ("ssec-over-http", "SSE-C keys are accepted only over https", "use an https endpoint"),
    "SseCObjectNeedsKey": ("ssec-key", "the object is SSE-C encrypted: the request must send its key",
                           "give the key with --sse-c-key-file"),
    "SseCWrongKey": ("ssec-key", "the SSE-C key sent is not the object's key", "use the key the object was written with"),
    "SseCKeyMd5Mismatch": ("ssec-key", "the key-MD5 header does not match the key", "send the base64 MD5 of the key"),
    "SseCKeyMissing": ("ssec-key", "the request names SSE-C but sends no key", "give the key with --sse-c-key-file"),
    "SseCNotForThisObject": ("ssec-key", "SSE-C headers were sent for an object that is not SSE-C",
                             "do not send SSE-C headers for this object"),
    "WrongQueryRegion": ("wrong-region", "the URL is signed for another region than the endpoint's",
                         "sign for the endpoint's region (--region)"),
    "InvalidAccessKeyId": ("wrong-access-key", "the endpoint does not know the access key that signed the URL",
                           "sign with credentials of this endpoint"),
    "ExpiresTooLarge": ("expiry-too-long", "X-Amz-Expires is over 7 days", "sign with --expires-in 604800 or less"),
    "NoSuchKey": ("no-such-key", "there is no object under this key", "check the key (inspect shows the decoded key)"),
    "NoSuchBucket": ("no-such-bucket", "there is no such bucket", "check the bucket and the addressing style"),
    "KmsDisabled": ("kms-key", "the KMS key is disabled", "enable the key or use another"),
    "KmsKeyDoesNotExist": ("kms-key", "the KMS key does not exist in the endpoint's region", "check the key id and region"),
    "KmsAliasNotFound": ("kms-key", "the KMS alias does not exist", "check the alias"),
    "KmsNotFound": ("kms-key", "the KMS key id is not valid", "check the key id"),
}

_CR_PARTS = ("method", "path", "query")


def _compare_error(r: Report, error: dict[str, str]) -> None:
    u = r.url
    r.error = error
    name = error_name(error)
    code = error.get("Code", "")
    if name in _ERROR_CAUSES:
        cause, message, fix = _ERROR_CAUSES[name]
        if name == "WrongQueryRegion" and error.get("Region"):
            message = f"the URL is signed for {u.region} but the endpoint is in {error['Region']}"
            fix = f"sign for {error['Region']} (--region {error['Region']})"
        elif name == "HeadersNotSigned" and error.get("HeadersNotSigned"):
            message = f"the request sent {error['HeadersNotSigned']}, which the URL did not sign"
        if not any(f.code == cause for f in r.findings):  # the URL alone already explained it
            r.add("error", cause, f"{code}: {message}", fix)
        return
    if code != "SignatureDoesNotMatch":
        if code:
            r.add("error", "s3-error", f"S3 answered {code}: {error.get('Message', '')}")
        return
    theirs = error.get("CanonicalRequest")
    ours = canonical_request(u, r.method, r.headers)
    differs: list[str] = []
    if theirs is not None and ours is not None:
        differs = _diff_canonical(theirs.replace("\r\n", "\n"), ours)
    theirs_sts = error.get("StringToSign")
    ours_sts = string_to_sign(u, r.method, r.headers)
    if theirs_sts is not None and ours_sts is not None and theirs_sts.replace("\r\n", "\n") != ours_sts:
        if u.version == "v2":
            differs += _diff_v2(theirs_sts.replace("\r\n", "\n"), ours_sts)
        elif not differs:
            t_lines, o_lines = theirs_sts.split("\n"), ours_sts.split("\n")
            if t_lines[1:3] != o_lines[1:3]:
                differs.append(f"date/scope: S3 used {' '.join(t_lines[1:3])}, the URL says {' '.join(o_lines[1:3])}")
    if differs:
        for line in differs:
            r.add("error", "canonical-diff", f"S3's canonical request differs from the URL's: {line}",
                  "send the request exactly as the URL and its headers say")
    elif (theirs is not None or theirs_sts is not None) and not r.signature_checked:
        signed = sorted(set(u.signed_headers or ()) - {"host"})
        if signed or u.version == "v2":
            also = f"a value of {', '.join(signed)} differs from the one signed, " if signed else \
                "the SigV2 URL signed headers that were not sent, "
            r.add("error", "signature-mismatch", "S3 received exactly the request this URL and these headers "
                  f"describe, and the signature does not match it: {also}the URL was changed after signing, or "
                  f"it was signed with another secret key than S3's for {u.access_key}",
                  "run inspect with --secret-key (or credentials) to tell which")
        else:
            r.add("error", "wrong-secret", "S3 received exactly the request this URL describes (it signs no "
                  "headers but Host), so unless the URL was changed after signing, it was signed with another "
                  f"secret key than S3's for {u.access_key}", f"sign with the secret key of {u.access_key}")


def _diff_canonical(theirs: str, ours: str) -> list[str]:
    t, o = theirs.split("\n"), ours.split("\n")
    out = []
    for i, part in enumerate(_CR_PARTS):
        if i < len(t) and i < len(o) and t[i] != o[i]:
            out.append(f"{part}: S3 has {t[i]!r}, the URL implies {o[i]!r}")
    t_headers = dict(line.split(":", 1) for line in t[3:] if ":" in line and line)
    o_headers = dict(line.split(":", 1) for line in o[3:] if ":" in line and line)
    for hname in sorted(set(t_headers) | set(o_headers)):
        tv, ov = t_headers.get(hname), o_headers.get(hname)
        if tv != ov:
            out.append(f"header {hname}: S3 received {tv!r}, the URL signed {ov!r}")
    if t[-2:] != o[-2:] and not out:
        out.append(f"signed headers/payload: S3 has {t[-2:]}, the URL implies {o[-2:]}")
    return out


def _diff_v2(theirs: str, ours: str) -> list[str]:
    t, o = theirs.split("\n"), ours.split("\n")
    labels = ["method", "Content-MD5", "Content-Type", "Expires"]
    out = [f"{label}: S3 has {t[i]!r}, the URL implies {o[i]!r}"
           for i, label in enumerate(labels) if i < len(t) and i < len(o) and t[i] != o[i]]
    if t[4:] != o[4:]:
        out.append(f"x-amz headers and resource: S3 has {t[4:]!r}, the URL implies {o[4:]!r}")
    return out


# --- the entry point -------------------------------------------------------------------------


def inspect_url(
    url: str,
    *,
    method: str | None = None,
    headers: Mapping[str, str] | None = None,
    secret_key: str | None = None,
    access_key: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    addressing_style: str | None = None,
    error: Mapping[str, str] | None = None,
    now: float | None = None,
) -> Report:
    """Decode ``url``, check it against S3's rules and (with ``secret_key``) its signature.

    ``headers`` are the headers the request sends (besides Host); ``region`` is
    the endpoint's region if known; ``error`` an S3 error document (parse_error_xml).
    """
    u = parse_signed_url(url, endpoint_url=endpoint_url)
    if method is not None and method.upper() not in METHODS:
        raise PresignError(f"--method {method!r}: use GET, PUT, HEAD, DELETE or POST")
    sent = {n.strip().lower(): v.strip() for n, v in (headers or {}).items()}
    mode, description = _sse_mode(u, sent)
    report = Report(
        url=u, method=(method or "GET").upper(), method_known=method is not None,
        now=time.time() if now is None else now, headers=sent, sse_mode=mode, sse_description=description,
        send=_headers_to_send(u, sent),
    )
    _static_checks(report, region, endpoint_url, addressing_style)
    _advisory_checks(report)
    if secret_key:
        _signature_checks(report, secret_key, access_key)
    if error is not None:
        _compare_error(report, dict(error))
    report.canonical_request = canonical_request(u, report.method, sent)
    report.string_to_sign = string_to_sign(u, report.method, sent)
    return report


# --- advice: what S3 does to a URL that is well-formed ------------------------------------

EMPTY_CRC32 = "AAAAAA=="  # base64 of the CRC32 of zero bytes
STS_MAX_SESSION = 43200  # 12 h: the longest an assumed-role session lasts


def _advisory_checks(r: Report) -> None:
    """Rules about how a valid URL still fails: each in its own function."""
    _js_sdk_empty_checksum(r)
    _ssec_write_blocked(r)
    _temporary_credentials(r)


def _js_sdk_empty_checksum(r: Report) -> None:
    from s3presign.client.advice import JS_SDK_EMPTY_CHECKSUM

    u = r.url
    lower = {k.lower(): v for k, v in u.params.items()}
    value = lower.get("x-amz-checksum-crc32")
    if value is None and u.signed_headers and "x-amz-checksum-crc32" in u.signed_headers:
        value = r.headers.get("x-amz-checksum-crc32")
    if value == EMPTY_CRC32 and (r.method in ("PUT", "POST") or not r.method_known):
        r.add("warning", "js-sdk-empty-checksum", JS_SDK_EMPTY_CHECKSUM.format(value=value),
              "sign again without a checksum, or with the checksum of the real body (s3presign url --for-file)")


def _ssec_write_blocked(r: Report) -> None:
    from s3presign.client.advice import SSEC_BLOCKED_ON_NEW_BUCKETS

    if r.sse_mode in ("c", "c-key") and r.url.aws and (r.method in ("PUT", "POST") or not r.method_known):
        r.add("warning", "ssec-blocked", SSEC_BLOCKED_ON_NEW_BUCKETS,
              "aws s3api put-bucket-encryption with BlockedEncryptionTypes NONE, or use SSE-KMS")


def _temporary_credentials(r: Report) -> None:
    u = r.url
    if not u.session_token:
        return
    kind = "STS temporary credentials" if u.access_key.startswith("ASIA") else "temporary credentials"
    message = (f"signed with {kind} (a session token is in the URL): it stops working when they expire, "
               "whatever its expiry says")
    if u.max_age is not None and u.max_age > STS_MAX_SESSION:
        message += (f"; X-Amz-Expires {u.max_age} s is longer than any role session lasts (12 h), "
                    "so this URL dies early")
    r.add("warning", "session-token", message,
          "for a long-lived URL sign with long-term keys (an IAM user), or accept the credentials' lifetime")


def hints(report: Report, limit: int = 2) -> list[str]:
    """The first causes, as one line each (for `put`/`get` error messages)."""
    out: list[str] = []
    for f in report.causes():
        line = f"{f.message}" + (f"; {f.fix}" if f.fix else "")
        if line not in out:
            out.append(line)
        if len(out) == limit:
            break
    return out


# --- text rendering --------------------------------------------------------------


def render_text(r: Report) -> str:
    u = r.url
    lines = [f"Pre-signed URL: Signature Version {u.version[1]}"
             + (f", {r.method}" if r.method_known else " (method not in the URL; --method to say)")]

    def row(label: str, value: object) -> None:
        lines.append(f"  {label:<15}{value}")

    row("host", f"{u.host} ({u.scheme}, {u.addressing}-style{', Amazon S3' if u.aws else ''})")
    row("bucket", u.bucket or "-")
    row("key", u.key or "-")
    row("region", u.region or (f"{u.aws_region} (the endpoint's; SigV2 names none)" if u.aws_region else "- (SigV2 names none)"))
    row("access key", u.access_key or "-")
    if u.signed_at is not None:
        row("signed at", f"{_iso(u.signed_at)} ({relative(u.signed_at - r.now)})")
    if u.expires_at is not None:
        row("expires", f"{_iso(u.expires_at)} ({'expired ' + relative(u.expires_at - r.now) if u.expires_at < r.now else 'expires ' + relative(u.expires_at - r.now)})")
    if u.signed_headers is not None:
        row("signed headers", ";".join(u.signed_headers) or "-")
    row("SSE", r.sse_description)
    if r.send:
        lines.append("Headers to send:")
        for h in r.send:
            lines.append(f"  {h.name}: {h.value if h.value is not None else '<' + h.why.split(': ', 1)[-1] + '>'}")
    else:
        lines.append("Headers to send: none besides Host")
    if r.findings:
        lines.append("Findings:")
        for f in r.ordered():
            lines.append(f"  {f.level:<8}{f.code}: {f.message}")
            if f.fix:
                lines.append(f"  {'':<8}fix: {f.fix}")
    if r.signature_checked:
        verdict = "matches" if r.signature_matches else "does NOT match"
        lines.append(f"Signature: {verdict}")
    elif not r.error:
        lines.append("Signature: not checked (give --secret-key or credentials to check it)")
    if r.canonical_request is not None and (r.signature_matches is False or r.error is not None):
        lines.append("Canonical request (as S3 builds it from this URL and these headers):")
        lines += [f"  {line}" for line in r.canonical_request.split("\n")]
    if r.string_to_sign is not None and (r.signature_matches is False or r.error is not None):
        lines.append("String to sign:")
        lines += [f"  {line}" for line in r.string_to_sign.split("\n")]
    return "\n".join(lines)
