"""GET/HEAD preconditions and byte ranges, as S3 evaluates them (pure functions)."""

from __future__ import annotations

import re
from typing import Mapping

from s3presign.core.numbers import ascii_uint
from s3presign.core.s3errors import S3Error
from s3presign.server.http import parse_http_date

_RANGE = re.compile(r"^\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*$", re.IGNORECASE | re.ASCII)
_HUGE = 1 << 64  # a position with more digits than ascii_uint takes: past any object


def _etag_matches(header: str, etag: str) -> bool:
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == "*" or candidate.strip('"') == etag:
            return True
    return False


def not_modified(headers: Mapping[str, str], etag: str, last_modified: float) -> bool:
    """RFC 7232's order, which S3 follows: If-Match, else If-Unmodified-Since, may
    fail (412); then If-None-Match, else If-Modified-Since, may answer 304 (True)."""
    seconds = int(last_modified)
    if_match = headers.get("if-match")
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            raise S3Error("PreconditionFailed", elements={"Condition": "If-Match"})
    else:
        since = headers.get("if-unmodified-since")
        when = parse_http_date(since) if since is not None else None
        if when is not None and seconds > when:
            raise S3Error("PreconditionFailed", elements={"Condition": "If-Unmodified-Since"})
    if_none = headers.get("if-none-match")
    if if_none is not None:
        return _etag_matches(if_none, etag)
    since = headers.get("if-modified-since")
    when = parse_http_date(since) if since is not None else None
    return when is not None and seconds <= when


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a Range header, or None for the whole object.

    S3 ignores a Range it cannot parse (and multiple ranges) and answers 416
    InvalidRange to one it can parse but not satisfy.
    """
    if header is None:
        return None
    match = _RANGE.match(header)
    if not match:
        return None
    first, last = match.groups()
    if first:
        start = _position(first)
        end = _position(last) if last else size - 1
        if last and end < start:
            return None  # syntactically invalid: ignored
        if start >= size:
            raise _unsatisfiable(header, size)
        return start, min(end, size - 1)
    if not last:
        return None
    suffix = _position(last)
    if suffix == 0 or size == 0:
        raise _unsatisfiable(header, size)
    return max(0, size - suffix), size - 1


def _position(digits: str) -> int:
    value = ascii_uint(digits, 19)
    return _HUGE if value is None else value


def _unsatisfiable(header: str, size: int) -> S3Error:
    return S3Error("InvalidRange", elements={"RangeRequested": header.strip(), "ActualObjectSize": str(size)})
