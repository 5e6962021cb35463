"""Signature Version 4: pure functions, no I/O, no clock.

One place computes each piece, and both the presigner and the verifier call
it; see canonical.py for the encodings.
"""

from __future__ import annotations

import time

try:  # OpenSSL's functions directly: hashlib/hmac/functools would cost start-up for nothing
    from _hashlib import hmac_digest as _hmac, hmac_new as _hmac_new, openssl_sha256 as _sha256
except ImportError:  # pragma: no cover - CPython without OpenSSL
    import hashlib
    import hmac

    _hmac, _hmac_new, _sha256 = hmac.digest, hmac.new, hashlib.sha256

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # SHA-256 of b""
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_EXPIRES = 604800  # seven days: S3's limit for X-Amz-Expires



_DATES: dict[int, tuple[str, str]] = {}
_STAMPS: dict[str, int] = {}
_KEYS: dict[tuple[str, str, str, str], bytes] = {}
_STATES: dict[bytes, object] = {}  # derived key -> copy() of its keyed HMAC state


def amz_date(epoch_second: int) -> tuple[str, str]:
    """('YYYYMMDDTHHMMSSZ', 'YYYYMMDD') for a whole epoch second, cached."""
    cached = _DATES.get(epoch_second)
    if cached is None:
        if len(_DATES) >= 256:
            _DATES.clear()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch_second))
        cached = _DATES[epoch_second] = (stamp, stamp[:8])
    return cached


def parse_amz_date(stamp: str) -> int:
    """Epoch seconds of a 'YYYYMMDDTHHMMSSZ' stamp; ValueError if malformed."""
    cached = _STAMPS.get(stamp)  # every request signed in one second has the same stamp
    if cached is not None:
        return cached
    digits = stamp[:8] + stamp[9:15]
    if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z" or not (digits.isascii() and digits.isdigit()):
        raise ValueError(stamp)
    import calendar

    fields = (int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15]))
    if not (1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and fields[3] < 24 and fields[4] < 60 and fields[5] < 61):
        raise ValueError(stamp)
    epoch = calendar.timegm(fields + (0, 0, 0))
    if len(_STAMPS) >= 256:
        _STAMPS.clear()
    _STAMPS[stamp] = epoch
    return epoch


def credential_scope(date: str, region: str, service: str = "s3") -> str:
    return f"{date}/{region}/{service}/aws4_request"


def signing_key(secret_key: str, date: str, region: str, service: str = "s3") -> bytes:
    """The derived key; four HMACs, so cached per secret, day, region and service."""
    cache_key = (secret_key, date, region, service)
    k = _KEYS.get(cache_key)
    if k is None:
        if len(_KEYS) >= 64:
            _KEYS.clear()
        k = _hmac(("AWS4" + secret_key).encode(), date.encode(), "sha256")
        k = _hmac(k, region.encode(), "sha256")
        k = _hmac(k, service.encode(), "sha256")
        k = _KEYS[cache_key] = _hmac(k, b"aws4_request", "sha256")
    return k


def canonical_request(
    method: str,
    canonical_uri: str,
    canonical_query: str,
    canonical_headers: str,
    signed_headers: str,
    payload_hash: str,
) -> str:
    return (
        f"{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n\n"
        f"{signed_headers}\n{payload_hash}"
    )


def string_to_sign(stamp: str, scope: str, canonical_request_text: str) -> str:
    digest = _sha256(canonical_request_text.encode()).hexdigest()
    return f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"


def sign(key: bytes, text: str) -> str:
    # A copy of the keyed state costs less than keying a new HMAC (the same few derived
    # keys sign everything: one per secret, day and region).
    copy = _STATES.get(key)
    if copy is None:
        if len(_STATES) >= 64:
            _STATES.clear()
        copy = _STATES[key] = _hmac_new(key, digestmod="sha256").copy
    mac = copy()  # type: ignore[operator]
    mac.update(text.encode())
    return mac.hexdigest()


def signer(key: bytes):  # -> Callable[[str], str], sign() for one signing key
    """sign() bound to one derived key: the keyed HMAC state is made once and copied
    per text (half the cost of keying a new HMAC for every URL)."""
    copy = _hmac_new(key, digestmod="sha256").copy

    def sign_text(text: str) -> str:
        mac = copy()
        mac.update(text.encode())
        return mac.hexdigest()

    return sign_text


def chunk_string_to_sign(stamp: str, scope: str, previous_signature: str, chunk_sha256: str) -> str:
    """String to sign for one aws-chunked chunk, chained from the previous signature."""
    return (
        f"{ALGORITHM}-PAYLOAD\n{stamp}\n{scope}\n{previous_signature}\n"
        f"{EMPTY_SHA256}\n{chunk_sha256}"
    )


def trailer_string_to_sign(stamp: str, scope: str, previous_signature: str, trailer: str) -> str:
    """String to sign for the trailing headers of an aws-chunked body."""
    digest = _sha256(trailer.encode()).hexdigest()
    return f"{ALGORITHM}-TRAILER\n{stamp}\n{scope}\n{previous_signature}\n{digest}"
