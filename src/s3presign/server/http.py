"""The thin HTTP layer under the handlers: request parsing and response values.

Raw ASGI rather than a framework because the hot path (a small pre-signed GET)
must stay a few dozen microseconds of Python: no per-request middleware stack,
headers decoded once, bodies streamed as they arrive.
"""

from __future__ import annotations

import email.utils
import time
from functools import lru_cache
from urllib.parse import unquote
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Union

from s3presign.core.verify import first_params


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Body = Union[bytes, bytearray, Iterable[bytes], AsyncIterator[bytes]]  # bytes-like chunks

# S3 refuses a request whose header section is larger than 8 KiB.
MAX_HEADER_BYTES = 8 * 1024


class ClientDisconnected(Exception):
    """The client went away before its request body was complete."""


class Request:
    """One incoming request, decoded once: headers lower-case, repeated ones joined."""

    __slots__ = (
        "scope", "receive", "method", "raw_path", "raw_query", "headers",
        "header_bytes", "_query", "_names", "secure", "body_started", "body_done",
    )

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else scope["path"]
        self.raw_path = path.partition("?")[0]
        self.raw_query: str = scope["query_string"].decode("latin-1")
        headers: dict[str, str] = {}
        size = 0
        for name_b, value_b in scope["headers"]:
            name = name_b.decode("latin-1")
            value = value_b.decode("latin-1")
            size += len(name_b) + len(value_b) + 4
            if name in headers:
                headers[name] = f"{headers[name]},{value}"
            else:
                headers[name] = value
        self.headers = headers
        self.header_bytes = size
        self._query: dict[str, str] | None = None
        self._names: list[str] | None = None
        self.secure = scope.get("scheme") == "https"
        self.body_started = False
        self.body_done = False

    @property
    def query_names(self) -> list[str]:
        """The query's parameter names only: all routing needs, without decoding values."""
        if not self.raw_query:
            return []
        if self._names is None:  # routing and the access log both ask: decoded once
            names = [part.partition("=")[0] for part in self.raw_query.split("&")]
            self._names = [unquote(n) if "%" in n else n for n in names]
        return self._names

    @property
    def query(self) -> dict[str, str]:
        """Decoded query parameters, first value of each ('+' stays literal, as in the
        signature): the verifier's own parsing, so both read a query the same way."""
        if self._query is None:
            query = first_params(self.raw_query)
            self._query = query
        return self._query

    @property
    def has_body(self) -> bool:
        h = self.headers
        return h.get("content-length", "0") not in ("0", "") or "transfer-encoding" in h

    @property
    def client(self) -> str:
        c = self.scope.get("client")
        return f"{c[0]}:{c[1]}" if c else "-"

    async def stream(self) -> AsyncIterator[bytes]:
        """The raw body as it arrives; ClientDisconnected if the client goes away."""
        self.body_started = True
        receive = self.receive
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if chunk:
                yield chunk
            if not more:
                self.body_done = True
                return


@dataclass(slots=True)
class Response:
    """What a handler answers; the app sends it and logs one line."""

    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: Body = b""
    error_code: str = ""

    def header(self, name: str, value: str) -> "Response":
        """Add a header (names lower-case on the wire, as HTTP/1.1 allows and uvicorn sends)."""
        self.headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        return self

    def extend(self, headers: Iterable[tuple[str, str]]) -> "Response":
        for name, value in headers:
            self.header(name, value)
        return self


def http_date(epoch: float) -> str:
    """RFC 7231 date, as S3 sends Last-Modified."""
    return _http_date(int(epoch))


@lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


def iso_date(epoch: float) -> str:
    """S3's XML timestamps: ISO 8601 with milliseconds, UTC."""
    ms = int(round((epoch - int(epoch)) * 1000)) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(epoch))) + f".{ms:03d}Z"


def parse_http_date(value: str) -> float | None:
    """Epoch seconds of an HTTP date; None for anything unparseable (S3 then ignores it)."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        import datetime as _dt

        parsed = parsed.replace(tzinfo=_dt.timezone.utc)
    return parsed.timestamp()

