"""Canonical forms shared by signing and verifying.

Every byte a signature covers comes from here, so the presigner and the
server cannot disagree about encoding: the server decodes what it received
and re-encodes it with the same functions the presigner used.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing and urllib.parse stay off `import s3presign`'s start-up path
if TYPE_CHECKING:
    from typing import Iterable, Mapping


def unquote(text: str) -> str:
    """urllib.parse.unquote, imported on first use (only verification decodes)."""
    if "%" not in text:
        return text  # what unquote returns, without the import statement's cost per call
    from urllib.parse import unquote as _unquote

    return _unquote(text)

# Headers a signer must never sign (AWS SDKs agree on these): proxies and HTTP
# stacks change them in flight.
UNSIGNABLE_HEADERS = frozenset({"expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"})

# S3 lets these x-amz-* headers travel unsigned, which is what allows an SSE-C
# URL to leave the key to whoever uses it. Under SigV2 they are also left out
# of the string to sign.
SSEC_KEY_HEADERS = frozenset(
    {
        "x-amz-server-side-encryption-customer-key",
        "x-amz-server-side-encryption-customer-key-md5",
        "x-amz-copy-source-server-side-encryption-customer-key",
        "x-amz-copy-source-server-side-encryption-customer-key-md5",
    }
)


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _percent_table(safe: bytes) -> dict[int, str]:
    return {b: chr(b) if b in _UNRESERVED or b in safe else f"%{b:02X}" for b in range(256)}


# str.translate over these tables gives exactly urllib.parse.quote's output
# (UTF-8, upper-case hex) at a fraction of its cost: signing is hot.
_KEY_TABLE = _percent_table(b"/")
_VALUE_TABLE = _percent_table(b"")


def encode_key(key: str) -> str:
    """An object key as it appears in a URL path ('/' and '~' stay literal)."""
    if not key.isascii():
        key = key.encode("utf-8").decode("latin-1")
    return key.translate(_KEY_TABLE)


def encode_value(value: str) -> str:
    """RFC 3986 encoding of one query name or value (only A-Z a-z 0-9 -_.~ literal)."""
    if not value.isascii():
        value = value.encode("utf-8").decode("latin-1")
    return value.translate(_VALUE_TABLE)


def encode_query(pairs: Iterable[tuple[str, str]]) -> str:
    """A query string in the order given."""
    return "&".join(f"{encode_value(k)}={encode_value(v)}" for k, v in pairs)


def canonical_query(encoded_pairs: Iterable[tuple[str, str]]) -> str:
    """SigV4 canonical query: already-encoded pairs, sorted by name then value."""
    return "&".join(f"{k}={v}" for k, v in sorted(encoded_pairs))


def _recode(raw: str) -> str:
    """A received name or value in canonical encoding (decode only when escaped)."""
    return encode_value(unquote(raw) if "%" in raw else raw)


_already_canonical = None


def _is_canonical(raw_query: str) -> bool:
    """True if re-encoding would change nothing: only unreserved characters, '=', '&'
    and upper-case escapes of characters that must stay escaped (the usual case)."""
    global _already_canonical
    if _already_canonical is None:
        import re  # compiled on first use: the presigner never needs it

        # runs of plain characters between escapes: the same strings as
        # (?:[...]|%XX)*, matched without an alternation per character
        allowed = re.compile(r"[A-Za-z0-9\-_.~=&]*(?:%[0-9A-F]{2}[A-Za-z0-9\-_.~=&]*)*").fullmatch
        unreserved = re.compile(r"%(?:3[0-9]|4[1-9A-F]|5[0-9A]|6[1-9A-F]|7[0-9A]|2D|2E|5F|7E)").search
        _already_canonical = lambda q: allowed(q) is not None and unreserved(q) is None  # noqa: E731
    return _already_canonical(raw_query)


def recanonical_query(raw_query: str, *, drop: str | None = None) -> str:
    """The canonical query of a received query string (optionally without one name)."""
    if not raw_query:
        return ""
    if _is_canonical(raw_query):
        pairs = [p.partition("=") for p in raw_query.split("&") if p]
        if drop is not None:
            pairs = [p for p in pairs if p[0] != drop]
        pairs.sort()  # (name, "=", value): by name, then value, as canonical_query sorts
        return "&".join([f"{name}={value}" for name, _, value in pairs])
    pairs = []
    for part in raw_query.split("&") if raw_query else ():
        if part:
            name, _, value = part.partition("=")
            name = _recode(name)
            if name != drop:
                pairs.append((name, _recode(value)))
    return canonical_query(pairs)


def recanonical_path(raw_path: str) -> str:
    """The canonical URI of a received path: decode, then encode as the presigner does."""
    return encode_key(unquote(raw_path))


def trim_value(value: str) -> str:
    """SigV4 header value: outer white space removed, inner runs folded to one space."""
    return " ".join(value.split())


def canonical_headers(headers: Mapping[str, str], names: Iterable[str]) -> str:
    """The canonical header block (without its trailing newline) for sorted names."""
    get = headers.get
    return "\n".join([f"{n}:{' '.join(get(n, '').split())}" for n in names])  # trim_value, inlined


def host_header(scheme: str, netloc: str) -> str:
    """The Host value an HTTP client sends: the default port for the scheme dropped."""
    if netloc.endswith(":443") and scheme == "https":
        return netloc[:-4]
    if netloc.endswith(":80") and scheme == "http":
        return netloc[:-3]
    return netloc
