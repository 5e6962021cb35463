"""One HTTP exchange with a credential endpoint (http.client: no proxies, strict timeouts)."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from ..errors import PresignError

# Credential endpoints answer small documents; anything larger is not one.
MAX_BODY = 1 << 20


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
    what: str = "credential endpoint",
    cafile: str | None = None,
) -> tuple[int, bytes]:
    """(status, body). Network failures raise ConnectionError (the chain may go on)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PresignError(f"{what} URL {url!r} must be http:// or https://")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        import ssl

        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context(cafile=cafile or None)
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read(MAX_BODY + 1)
        if len(data) > MAX_BODY:
            raise PresignError(f"{what} at {url} answered more than 1 MiB; that is not a credential document")
        return response.status, data
    except (OSError, http.client.HTTPException) as exc:
        raise ConnectionError(f"{what} at {parts.scheme}://{parts.netloc} unreachable: {exc}") from None
    finally:
        conn.close()


def parse_time(text: str) -> float:
    """Epoch seconds of an ISO-8601 instant ('2026-01-01T00:00:00Z', with fraction or offset)."""
    import datetime as _dt

    value = text.strip().replace("Z", "+00:00").replace("UTC", "+00:00")
    try:
        stamp = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise PresignError(f"credential expiration {text!r} is not ISO-8601") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_dt.timezone.utc)
    return stamp.timestamp()
