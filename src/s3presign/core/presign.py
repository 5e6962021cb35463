"""The presigner: URLs that say exactly which headers to send with them."""

from __future__ import annotations

import time

from . import sigv4
from .canonical import (
    UNSIGNABLE_HEADERS,
    canonical_headers,
    canonical_query,
    encode_key,
    encode_value,
    host_header,
)
from .credentials import Credentials
from .errors import PresignError
from .sse import SSE, customer_key_headers

# Neither typing nor datetime is imported at run time: `import s3presign` plus one
# presign() is the whole start-up of a Lambda that only signs.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime as _dt
    from typing import Any, Mapping, Sequence

METHODS = frozenset({"GET", "PUT", "HEAD", "DELETE", "POST"})
ADDRESSING_STYLES = ("auto", "virtual", "path")
SIGNATURE_VERSIONS = {"v4": "v4", "s3v4": "v4", "v2": "v2", "s3": "v2"}
RESPONSE_OVERRIDES = (
    "content-type",
    "content-language",
    "expires",
    "cache-control",
    "content-disposition",
    "content-encoding",
)
MAX_KEY_BYTES = 1024

_BUCKET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_REGION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_HEADER_CHARS = frozenset("!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyz-")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket_name(bucket: str) -> None:
    """S3's naming rules for general purpose buckets."""
    problem = None
    if not isinstance(bucket, str) or not bucket:
        problem = "is empty"
    elif not 3 <= len(bucket) <= 63:
        problem = f"is {len(bucket)} characters long; S3 allows 3 to 63"
    elif not (set(bucket) <= _BUCKET_CHARS and bucket[0] in _ALNUM and bucket[-1] in _ALNUM):
        problem = (
            "may contain only lower-case letters, digits, dots and hyphens, and must "
            "begin and end with a letter or digit"
        )
    elif ".." in bucket or ".-" in bucket or "-." in bucket:
        problem = "must not contain two adjacent dots or a dot next to a hyphen"
    elif bucket.count(".") == 3 and bucket.replace(".", "").isdigit():
        problem = "must not be formatted as an IP address"
    elif bucket.startswith(_BUCKET_PREFIXES) or bucket.endswith(_BUCKET_SUFFIXES):
        problem = "uses a prefix or suffix that S3 reserves (xn--, sthree-, -s3alias, --ol-s3, ...)"
    if problem:
        raise PresignError(f"invalid bucket name {bucket!r}: it {problem}; choose a name that follows S3's bucket naming rules")


def _operation(method: str, query: Mapping[str, str], headers: Mapping[str, str], bucket_level: bool = False) -> str:
    """The S3 operation a method and its sub-resources name (what SSE means depends on it)."""
    if bucket_level:
        if method == "HEAD":
            return "HeadBucket"
        if "location" in query:
            return "GetBucketLocation"
        return "ListObjectsV2" if method == "GET" else "Other"
    if method in ("GET", "HEAD"):
        if method == "GET" and "uploadId" in query:
            return "ListParts"
        return "GetObject" if method == "GET" else "HeadObject"
    if method == "PUT":
        if "uploadId" in query or "partNumber" in query:
            return "UploadPart"
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        return "Other"
    if "uploadId" in query:
        return "AbortMultipartUpload"
    return "DeleteObject"


def _epoch(now: float | _dt.datetime | None) -> float:
    if now is None:
        return time.time()
    if type(now) is float:
        return now
    if hasattr(now, "timestamp") and hasattr(now, "tzinfo"):  # a datetime
        if now.tzinfo is None:
            raise PresignError("now= must be timezone-aware (e.g. datetime.now(timezone.utc))")
        return now.timestamp()
    if isinstance(now, (int, float)) and not isinstance(now, bool):
        return float(now)
    raise PresignError("now= must be a timezone-aware datetime or epoch seconds")


# Units an expiry may be written in (`mc share --expire 7d`, `15m`, `1h30m`).
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """Seconds in '900', '90s', '15m', '12h', '7d' or a sum such as '1h30m'."""
    t = text.strip().lower() if isinstance(text, str) else ""
    if t.isascii() and t.lstrip("-").isdigit() and t.count("-") <= 1 and not t.endswith("-"):
        return int(t)
    total, digits, ok = 0, "", bool(t)
    for ch in t:
        if ch.isascii() and ch.isdigit():
            digits += ch
        elif ch in DURATION_UNITS and digits:
            total += int(digits) * DURATION_UNITS[ch]
            digits = ""
        else:
            ok = False
            break
    if not ok or digits:
        raise PresignError(
            f"expiry {text!r} is not a duration; write seconds (900) or a number with a unit: "
            "90s, 15m, 12h, 7d (--expires-in / expires_in=)"
        )
    return total


def _check_expires(expires_in: Any, signature_version: str) -> int:
    if type(expires_in) is int and 1 <= expires_in and (expires_in <= sigv4.MAX_EXPIRES or signature_version != "v4"):
        return expires_in  # the usual case, checked without building any message
    given = expires_in
    if isinstance(expires_in, str):
        expires_in = parse_duration(expires_in)
    elif not isinstance(expires_in, int) and type(expires_in).__name__ == "timedelta":
        seconds = expires_in.total_seconds()
        if seconds != int(seconds):
            raise PresignError("expires_in must be a whole number of seconds")
        expires_in = int(seconds)
    if not isinstance(expires_in, int) or isinstance(expires_in, bool):
        raise PresignError(f"expires_in must be whole seconds (int, timedelta or '15m'), got {expires_in!r}")
    shown = f"{given!r} ({expires_in} seconds)" if given is not expires_in else str(expires_in)
    if signature_version == "v4" and not 1 <= expires_in <= sigv4.MAX_EXPIRES:
        raise PresignError(
            f"expiry {shown}: Signature Version 4 URLs are valid for 1 to 604800 "
            "seconds (7d); choose a value in that range (--expires-in / expires_in=)"
        )
    if expires_in < 1:
        raise PresignError(f"expiry {shown}: a pre-signed URL must be valid for at least 1 second")
    return expires_in


_SIGV2: list = []


def _sigv2():  # -> the sigv2 module, imported on the first SigV2 URL (most never sign one)
    if not _SIGV2:
        from . import sigv2

        _SIGV2.append(sigv2)
    return _SIGV2[0]


def _utc(epoch: float) -> "_dt.datetime":
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)


class PresignedRequest:
    """A pre-signed request: the URL and exactly the headers to send with it.

    ``headers`` holds every signed header with the exact signed value;
    ``required_headers`` names headers the consumer adds themselves (the SSE-C
    key and its MD5 when the key is supplied at use time).
    """

    __slots__ = ("method", "url", "headers", "required_headers", "signature_version", "_expires")

    def __init__(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        required_headers: tuple[str, ...],
        signature_version: str,
        expires_epoch: float,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.required_headers = required_headers
        self.signature_version = signature_version
        self._expires = expires_epoch

    @property
    def expires_at(self) -> "_dt.datetime":
        return _utc(self._expires)

    def headers_with_key(self, customer_key: bytes) -> dict[str, str]:
        """All headers to send, with the SSE-C key headers for ``customer_key`` added."""
        out = dict(self.headers)
        if self.required_headers:
            out.update(customer_key_headers(customer_key))
        return out

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._expires)),
            "signature_version": self.signature_version,
        }
        if self.required_headers:
            data["required_headers"] = list(self.required_headers)
        return data

    def to_curl(self, file: str | None = None, *, ca_bundle: str | None = None, key_file: str | None = None) -> str:
        """A shell command that uses the URL. ``ca_bundle`` adds --cacert (a custom CA);
        for an SSE-C key left to the user, the command is preceded by the lines that
        compute the key's base64 and MD5 from ``key_file`` (32 raw bytes)."""
        import shlex

        lines = []
        if self.required_headers:
            path = shlex.quote(key_file or "key.bin")
            lines += [
                f"# SSE-C: {key_file or 'key.bin'} holds the 32-byte key (new key: head -c 32 /dev/urandom > key.bin)",
                f"SSE_C_KEY_B64=$(base64 < {path} | tr -d '\\n')",
                f"SSE_C_KEY_MD5_B64=$(openssl dgst -md5 -binary < {path} | base64)",
            ]
        parts = ["curl", "--fail-with-body"]
        if ca_bundle:
            parts += ["--cacert", shlex.quote(ca_bundle)]
        if self.method == "HEAD":
            parts.append("--head")
        elif self.method != "GET":
            parts += ["-X", self.method]
        for name, value in self.headers.items():
            if name == "content-length":
                continue  # curl sends the file's own length; another length breaks the signature
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        for name in self.required_headers:
            var = "SSE_C_KEY_MD5_B64" if name.endswith("md5") else "SSE_C_KEY_B64"
            parts += ["-H", f'"{name}: ${var}"']
        if self.method == "PUT":
            parts += ["--upload-file", shlex.quote(file or "FILE")]
        elif self.method == "GET":
            parts += ["-o", shlex.quote(file or "FILE")]
        parts.append(shlex.quote(self.url))
        lines.append(" ".join(parts))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"PresignedRequest({self.method} {self.url[:60]}..., headers={sorted(self.headers)})"


class PresignedPost:
    """A browser form upload: POST ``fields`` (then the file) to ``url``."""

    __slots__ = ("url", "fields", "required_fields", "expires_epoch")

    def __init__(self, url: str, fields: dict[str, str], required_fields: tuple[str, ...], expires_epoch: float) -> None:
        self.url = url
        self.fields = fields
        self.required_fields = required_fields
        self.expires_epoch = expires_epoch

    @property
    def expires_at(self) -> "_dt.datetime":
        return _utc(self.expires_epoch)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"url": self.url, "fields": dict(self.fields)}
        if self.required_fields:
            data["required_fields"] = list(self.required_fields)
        return data

    def to_html(self) -> str:
        from html import escape

        inputs = "\n".join(
            f'    <input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in self.fields.items()
        )
        extra = "\n".join(f'    <label>{escape(n)} <input type="text" name="{escape(n)}"></label>' for n in self.required_fields)
        return (
            f'<form action="{escape(self.url)}" method="post" enctype="multipart/form-data">\n'
            f"{inputs}\n{extra + chr(10) if extra else ''}"
            '    <input type="file" name="file">\n    <input type="submit" value="Upload">\n</form>\n'
        )


def aws_endpoint(region: str) -> str:
    if region == "us-east-1":
        return "s3.amazonaws.com"
    if region.startswith("cn-"):
        return f"s3.{region}.amazonaws.com.cn"
    return f"s3.{region}.amazonaws.com"


class Presigner:
    """Signs S3 requests for one set of credentials, region and endpoint."""

    def __init__(
        self,
        credentials: Credentials,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        addressing_style: str = "auto",
        signature_version: str = "v4",
        cap_expiry: bool = True,
    ) -> None:
        """``cap_expiry``: with temporary credentials, sign X-Amz-Expires no longer than
        they last (a URL cannot outlive its credentials); False keeps the requested
        value (``.expires_at`` still tells when the URL really stops working)."""
        if not isinstance(credentials, Credentials):
            raise PresignError("credentials must be a s3presign.Credentials")
        if (
            not isinstance(region, str)
            or not region
            or not set(region) <= _REGION_CHARS
            or region[0] == "-"
            or region[-1] == "-"
            or "--" in region
        ):
            raise PresignError(f"invalid region {region!r}; use a region name such as 'us-east-1'")
        if addressing_style not in ADDRESSING_STYLES:
            raise PresignError(f"addressing_style must be one of auto, virtual, path; got {addressing_style!r}")
        version = SIGNATURE_VERSIONS.get(signature_version)
        if version is None:
            raise PresignError(f"signature_version must be 'v4' or 'v2'; got {signature_version!r}")
        self.credentials = credentials
        self.cap_expiry = cap_expiry
        self._cred_expiry = credentials.expiration
        self.region = region
        self.addressing_style = addressing_style
        self.signature_version = version
        if endpoint_url is None:
            self._scheme, self._netloc, self._base = "https", aws_endpoint(region), ""
            self._custom = False
        else:
            from urllib.parse import urlsplit

            parts = urlsplit(endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise PresignError(
                    f"invalid endpoint_url {endpoint_url!r}; use a URL such as http://127.0.0.1:9000"
                )
            if parts.query or parts.fragment:
                raise PresignError("endpoint_url must not have a query or fragment")
            self._scheme, self._netloc, self._base = parts.scheme, parts.netloc, parts.path.rstrip("/")
            self._custom = True
        self.endpoint_url = endpoint_url
        self._checked_buckets: dict[str, bool] = {}
        self._scopes: dict[str, tuple] = {}
        self._blocks: dict[tuple[str, int], tuple[dict[str, str], str, str]] = {}
        self._v2: tuple | None = None  # made on the first SigV2 URL
        self._v2_blocks: dict[int, tuple[dict[str, str], tuple[str, str]]] = {}
        self._akid_prefix = encode_value(credentials.access_key + "/")
        self._token_q = (
            ("X-Amz-Security-Token", encode_value(credentials.session_token))
            if credentials.session_token
            else None
        )

    def _scope(self, date: str) -> tuple:
        """(credential scope, encoded X-Amz-Credential value, signer) for a day, cached."""
        cached = self._scopes.get(date)
        if cached is None:
            scope = sigv4.credential_scope(date, self.region)
            sign = sigv4.signer(sigv4.signing_key(self.credentials.secret_key, date, self.region))
            cached = self._scopes[date] = (scope, self._akid_prefix + encode_value(scope), sign)
        return cached

    # --- where the request goes ---------------------------------------------
    def _virtual(self, bucket: str) -> bool:
        cached = self._checked_buckets.get(bucket)
        if cached is not None:
            return cached
        check_bucket_name(bucket)
        style = self.addressing_style
        if style == "virtual":
            if "." in bucket and self._scheme == "https":
                raise PresignError(
                    f"bucket {bucket!r} contains dots, so its virtual-hosted name "
                    f"{bucket}.{self._netloc} does not match the server's TLS certificate; "
                    "use addressing_style='path' (or 'auto')"
                )
            virtual = True
        elif style == "path":
            virtual = False
        else:  # auto: botocore's choice
            virtual = not self._custom and "." not in bucket
        self._checked_buckets[bucket] = virtual
        return virtual

    def _target(self, bucket: str, key: str | None) -> tuple[str, str, str]:
        """(netloc, path, SigV2 resource path); ``key=None`` addresses the bucket itself."""
        if key is None:
            if self._virtual(bucket):
                return f"{bucket}.{self._netloc}", f"{self._base}/", f"/{bucket}/"
            path = f"{self._base}/{bucket}"
            return self._netloc, path, f"/{bucket}/"  # SigV2 signs the bucket as "/bucket/" either way
        if not isinstance(key, str) or not key:
            raise PresignError("the object key is empty; name the object, e.g. s3://bucket/path/file.txt")
        # (a character is at most 4 bytes: a short key needs no encoding to be measured)
        if len(key) > MAX_KEY_BYTES // 4 and len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise PresignError("the object key is longer than 1024 bytes (UTF-8), S3's limit; shorten it")
        encoded = encode_key(key)
        if self._virtual(bucket):
            return f"{bucket}.{self._netloc}", f"{self._base}/{encoded}", f"/{bucket}/{encoded}"
        path = f"{self._base}/{bucket}/{encoded}"
        return self._netloc, path, path

    # --- presign --------------------------------------------------------------
    def presign(
        self,
        method: str,
        bucket: str,
        key: str | None,
        *,
        sse: SSE | None = None,
        expires_in: int | str | _dt.timedelta = 3600,
        headers: Mapping[str, str] | None = None,
        response_overrides: Mapping[str, str] | None = None,
        query: Mapping[str, str | int | None] | None = None,
        now: float | _dt.datetime | None = None,
        content_length: int | None = None,
        content_md5: str | bytes | None = None,
        checksum: tuple[str, str | bytes] | None = None,
    ) -> PresignedRequest:
        """Pre-sign one request. ``query`` carries sub-resources (uploads, uploadId,
        partNumber, versionId); ``response_overrides`` the response-* parameters.
        ``key=None`` signs a bucket-level request (see presign_list_objects).

        ``content_length``, ``content_md5`` and ``checksum=(algorithm, value)`` bind
        a PUT to one body: they are signed, and S3 refuses any other."""
        m = method.upper() if isinstance(method, str) else method
        if m not in METHODS:
            raise PresignError(f"method {method!r} cannot be pre-signed; use GET, PUT, HEAD, DELETE or POST")
        version = self.signature_version
        expires = _check_expires(expires_in, version)
        netloc, path, v2_path = self._target(bucket, key)
        signed = _clean_headers(headers) if headers else {}
        if content_length is not None or content_md5 is not None or checksum is not None:
            from .bounds import bound_headers

            signed.update(bound_headers(m, version, content_length, content_md5, checksum))
        pairs = _query_pairs(query, response_overrides) if (query or response_overrides) else []
        required: tuple[str, ...] = ()
        reusable = None  # headers that are the SSE's own (cached) dict: their canonical block is cached too
        if sse is not None:
            if not isinstance(sse, SSE):
                raise PresignError("sse must be an SSE value, e.g. SSE.kms() or SSE.customer()")
            sse_headers, required = sse.headers_for(
                _operation(m, dict(pairs) if pairs else {}, signed, key is None), version
            )
            if sse_headers:
                if signed:
                    signed = {**signed, **sse_headers}
                else:
                    reusable, signed = sse_headers, dict(sse_headers)
        t = _epoch(now)
        ends = None
        if self._cred_expiry is not None:  # temporary credentials: the URL dies with them
            expires, ends = self._fit_to_credentials(expires, t)
        if version == "v4":
            request = self._presign_v4(m, netloc, path, signed, required, pairs, expires, t, reusable)
        else:
            request = self._presign_v2(m, netloc, path, v2_path, signed, required, pairs, expires, t, reusable)
        if ends is not None and ends < request._expires:
            request._expires = ends
        return request

    def _fit_to_credentials(self, expires: int, t: float) -> tuple[int, float | None]:
        """(X-Amz-Expires to sign, when the URL really stops working or None)."""
        ends = self._cred_expiry
        assert ends is not None
        if ends >= t + expires:
            return expires, None
        if ends - t < 1:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ends))
            raise PresignError(
                f"the credentials from {self.credentials.source or 'the credential chain'} expired at {when}; "
                "refresh them (Credentials.resolve() again, or `aws sso login` / re-run the process) and sign again"
            )
        if self.cap_expiry:
            return int(ends - t), None
        return expires, ends

    def credentials_cut(self, expires_in: int | str | _dt.timedelta, now: float | _dt.datetime | None = None) -> int | None:
        """Seconds the credentials leave when they end before ``expires_in``, else None
        (what a caller warns about: the URL dies with the credentials)."""
        if self._cred_expiry is None:
            return None
        expires = _check_expires(expires_in, self.signature_version)
        left = self._cred_expiry - _epoch(now)
        return max(0, int(left)) if left < expires else None

    def _presign_v4(
        self,
        method: str,
        netloc: str,
        path: str,
        signed: dict[str, str],
        required: tuple[str, ...],
        pairs: list[tuple[str, str]],
        expires: int,
        t: float,
        reusable: dict[str, str] | None = None,
    ) -> PresignedRequest:
        stamp, date = sigv4.amz_date(int(t))
        scope, credential, sign = self._scope(date)
        host = host_header(self._scheme, netloc)
        if signed:
            cached = self._blocks.get((host, id(reusable))) if reusable is not None else None
            if cached is not None and cached[0] is reusable:
                signed_names, header_block = cached[1], cached[2]
            else:
                all_headers = {"host": host, **signed}
                names = sorted(all_headers)
                signed_names = ";".join(names)
                header_block = canonical_headers(all_headers, names)
                if reusable is not None:
                    if len(self._blocks) > 1024:
                        self._blocks.clear()
                    self._blocks[(host, id(reusable))] = (reusable, signed_names, header_block)
        else:
            signed_names, header_block = "host", "host:" + host
        auth = (
            f"X-Amz-Algorithm={sigv4.ALGORITHM}&X-Amz-Credential={credential}&X-Amz-Date={stamp}"
            f"&X-Amz-Expires={expires}&X-Amz-SignedHeaders={signed_names.replace(';', '%3B')}"
        )
        if pairs or self._token_q:
            query = [(encode_value(k), encode_value(v)) for k, v in pairs]
            query += [tuple(p.split("=", 1)) for p in auth.split("&")]  # type: ignore[misc]
            if self._token_q:
                query.append(self._token_q)
            query_string = "&".join([f"{k}={v}" for k, v in query])
            sorted_query = canonical_query(query)
        else:  # the auth parameters alone are already in canonical order
            query_string = sorted_query = auth
        request = sigv4.canonical_request(
            method, path, sorted_query, header_block, signed_names, sigv4.UNSIGNED_PAYLOAD
        )
        signature = sign(sigv4.string_to_sign(stamp, scope, request))
        url = f"{self._scheme}://{netloc}{path}?{query_string}&X-Amz-Signature={signature}"
        return PresignedRequest(method, url, signed, required, "v4", int(t) + expires)

    def _presign_v2(
        self,
        method: str,
        netloc: str,
        path: str,
        v2_path: str,
        signed: dict[str, str],
        required: tuple[str, ...],
        pairs: list[tuple[str, str]],
        expires: int,
        t: float,
        reusable: dict[str, str] | None = None,
    ) -> PresignedRequest:
        v2 = self._v2
        if v2 is None:
            v2 = self._v2 = self._v2_state()
        sign, tail, token = v2
        expires_at = int(t + expires)
        if pairs:
            sigv2 = _sigv2()
            # A valueless sub-resource (?uploads) stays bare under SigV2, in the URL
            # and in the string to sign, as S3 (and botocore) expect.
            encoded: list[tuple[str, str | None]] = [
                (encode_value(k), None if not v and k in sigv2.SUBRESOURCES else encode_value(v)) for k, v in pairs
            ]
            resource = sigv2.canonical_resource(v2_path, encoded)
            head = "&".join([k if v is None else f"{k}={v}" for k, v in encoded]) + "&"
        else:
            resource, head = v2_path, ""
        if signed:
            cached = self._v2_blocks.get(id(reusable)) if reusable is not None else None
            if cached is not None and cached[0] is reusable:
                block = cached[1]
            else:
                block = self._v2_block(signed)
                if reusable is not None:
                    if len(self._v2_blocks) > 1024:
                        self._v2_blocks.clear()
                    self._v2_blocks[id(reusable)] = (reusable, block)
        else:  # no Content-MD5, no Content-Type; the session token is the only x-amz-* header
            block = token[1]
        signature = sign(f"{method}\n{block[0]}{expires_at}\n{block[1]}{resource}")
        url = f"{self._scheme}://{netloc}{path}?{head}{tail}{signature}{token[0]}&Expires={expires_at}"
        return PresignedRequest(method, url, signed, required, "v2", expires_at)

    def _v2_state(self) -> tuple:
        """What every SigV2 URL of these credentials shares: the keyed signer, the
        AWSAccessKeyId parameter, and the session token's query part and header line."""
        creds = self.credentials
        token = creds.session_token
        line = f"x-amz-security-token:{token.strip()}\n" if token else ""
        return (
            _sigv2().signer(creds.secret_key, for_query=True),
            f"AWSAccessKeyId={encode_value(creds.access_key)}&Signature=",
            (f"&x-amz-security-token={encode_value(token)}" if token else "", ("\n\n", line)),
        )

    def _v2_block(self, signed: dict[str, str]) -> tuple[str, str]:
        """('Content-MD5\nContent-Type\n', the x-amz-* lines) of the string to sign."""
        sigv2 = _sigv2()
        to_sign = signed
        if self.credentials.session_token:
            to_sign = {**signed, "x-amz-security-token": self.credentials.session_token}
        return (
            f"{signed.get('content-md5', '').strip()}\n{signed.get('content-type', '').strip()}\n",
            sigv2.amz_headers_block(to_sign),
        )

    # --- POST forms --------------------------------------------------------------
    def presign_post(
        self,
        bucket: str,
        key: str,
        *,
        sse: SSE | None = None,
        expires_in: int | _dt.timedelta = 3600,
        conditions: Sequence[Any] = (),
        content_length_range: tuple[int, int] | None = None,
        fields: Mapping[str, str] | None = None,
        now: float | _dt.datetime | None = None,
    ) -> PresignedPost:
        """A browser form upload with a V4 (or V2) policy; ``key`` may end in ``${filename}``."""
        from . import policy

        if self._cred_expiry is not None:  # the policy's expiration too ends with the credentials
            t = _epoch(now)
            expires_in, _ = self._fit_to_credentials(_check_expires(expires_in, self.signature_version), t)
            now = t
        return policy.presign_post(
            self,
            bucket,
            key,
            sse=sse,
            expires_in=expires_in,
            conditions=conditions,
            content_length_range=content_length_range,
            fields=fields,
            now=now,
        )

    def presign_multipart(
        self,
        bucket: str,
        key: str,
        *,
        size: int | None = None,
        part_count: int | None = None,
        part_size: int | None = None,
        upload_id: str | None = None,
        sse: SSE | None = None,
        expires_in: int | _dt.timedelta = 3600,
        now: float | _dt.datetime | None = None,
    ) -> Any:
        """Everything a client needs for a multipart upload: create, one request per
        part, complete and abort (see core/multipart.py)."""
        from . import multipart

        return multipart.plan(
            self, bucket, key, size=size, part_count=part_count, part_size=part_size,
            upload_id=upload_id, sse=sse, expires_in=expires_in, now=now,
        )

    def with_credentials(self, credentials: Credentials) -> "Presigner":
        """The same presigner (region, endpoint, style, version) for other credentials,
        e.g. ``credentials.refresh()`` during a long transfer."""
        return Presigner(credentials, self.region, self.endpoint_url, self.addressing_style,
                         self.signature_version, self.cap_expiry)

    # --- bucket-level requests --------------------------------------------------------
    def presign_list_objects(
        self,
        bucket: str,
        *,
        prefix: str | None = None,
        delimiter: str | None = None,
        max_keys: int | None = None,
        continuation_token: str | None = None,
        start_after: str | None = None,
        fetch_owner: bool | None = None,
        encoding_type: str | None = None,
        expires_in: int | str | _dt.timedelta = 3600,
        now: float | _dt.datetime | None = None,
    ) -> PresignedRequest:
        """A pre-signed ListObjectsV2 (GET ?list-type=2 with its parameters)."""
        query: dict[str, str | int | None] = {"list-type": "2"}
        for name, value in (("prefix", prefix), ("delimiter", delimiter), ("continuation-token", continuation_token),
                            ("start-after", start_after), ("encoding-type", encoding_type)):
            if value is not None and not isinstance(value, str):
                raise PresignError(f"{name.replace('-', '_')} must be a string, got {value!r}")
        if max_keys is not None and (not isinstance(max_keys, int) or isinstance(max_keys, bool) or max_keys < 0):
            raise PresignError(f"max_keys={max_keys!r} must be a whole number, 0 or more (S3 returns at most 1000)")
        if encoding_type not in (None, "url"):
            raise PresignError(f"encoding_type={encoding_type!r}: S3 knows only 'url'")
        # botocore's order, so equal inputs give byte-equal URLs
        for name, value in (("prefix", prefix), ("delimiter", delimiter), ("max-keys", max_keys),
                            ("continuation-token", continuation_token), ("fetch-owner", fetch_owner),
                            ("start-after", start_after), ("encoding-type", encoding_type)):
            if value is not None:
                query[name] = ("true" if value else "false") if isinstance(value, bool) else value
        return self.presign("GET", bucket, None, query=query, expires_in=expires_in, now=now)

    def presign_head_bucket(
        self, bucket: str, *, expires_in: int | str | _dt.timedelta = 3600, now: float | _dt.datetime | None = None
    ) -> PresignedRequest:
        """A pre-signed HeadBucket (does it exist, may these credentials use it)."""
        return self.presign("HEAD", bucket, None, expires_in=expires_in, now=now)

    def presign_bucket_location(
        self, bucket: str, *, expires_in: int | str | _dt.timedelta = 3600, now: float | _dt.datetime | None = None
    ) -> PresignedRequest:
        """A pre-signed GetBucketLocation (GET ?location)."""
        return self.presign("GET", bucket, None, query={"location": ""}, expires_in=expires_in, now=now)

    def bucket_url(self, bucket: str) -> str:
        """The form action / bucket URL (botocore's choice of addressing)."""
        if self._virtual(bucket):
            return f"{self._scheme}://{bucket}.{self._netloc}{self._base}/"
        return f"{self._scheme}://{self._netloc}{self._base}/{bucket}"


def _clean_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        lname = name.strip().lower() if isinstance(name, str) else name
        if not isinstance(lname, str) or not lname or not set(lname) <= _HEADER_CHARS:
            raise PresignError(f"invalid header name {name!r}")
        if not isinstance(value, str) or "\n" in value or "\r" in value:
            raise PresignError(f"header {name!r} needs a single-line string value")
        if lname in UNSIGNABLE_HEADERS or lname == "host":
            raise PresignError(
                f"header {name!r} cannot be signed (HTTP clients and proxies rewrite it); drop it"
            )
        if lname.startswith("x-amz-server-side-encryption"):
            raise PresignError(f"pass SSE with sse=SSE...(), not as the header {name!r}")
        out[lname] = value
    return out


def _query_pairs(
    query: Mapping[str, str | int | None] | None, overrides: Mapping[str, str] | None
) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in (query or {}).items():
        if not isinstance(name, str) or not name:
            raise PresignError(f"invalid query parameter name {name!r}")
        if name.lower().startswith("x-amz-") or name in ("AWSAccessKeyId", "Signature", "Expires"):
            raise PresignError(f"query parameter {name!r} is reserved for the signature; drop it")
        if name == "partNumber" and not (str(value).isdigit() and 1 <= int(str(value)) <= 10000):
            raise PresignError(f"partNumber={value!r}: S3 part numbers are 1 to 10000")
        pairs.append((name, "" if value is None else str(value)))
    for name, value in (overrides or {}).items():
        short = name.lower().removeprefix("response-").replace("_", "-")
        if short not in RESPONSE_OVERRIDES:
            raise PresignError(
                f"unknown response override {name!r}; use one of {', '.join(RESPONSE_OVERRIDES)}"
            )
        if not isinstance(value, str):
            raise PresignError(f"response override {name!r} needs a string value")
        pairs.append(("response-" + short, value))
    return pairs
