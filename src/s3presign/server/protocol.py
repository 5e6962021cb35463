"""The HTTP/1.1 connection under the app: uvicorn's httptools protocol, held to
S3's manners.

uvicorn answers a request it cannot parse with a plain-text 400, keeps a
connection that never sends a byte open for ever, and lets a client read a
header a byte a minute. Here every refusal is S3's XML error, and each
connection is watched by one sweeper per event loop (a timer per server, not
per request, so the hot path only stores a timestamp):

- idle (between requests, or before the first): closed after ``idle_timeout``;
- header section not complete ``header_timeout`` after its first byte: 400 RequestTimeout;
- request body silent for ``body_timeout`` while the app waits for it: 400 RequestTimeout;
- a client that stops reading our response for ``send_timeout``: the connection is cut;
- more than ``max_connections`` at once: the newcomer's request is answered
  503 SlowDown (never a dropped socket), and its connection closed.

A request body reaches the app in pieces of about ``PIECE`` bytes, one ASGI
message each, instead of one message per socket read (a few KiB to 256 KiB):
on a large upload the per-message work of the event loop, not the bytes, was the
cost. Reading pauses while ``HELD`` bytes wait for the app (backpressure), so
memory per connection stays bounded; a body that has stopped arriving is
delivered as far as it came only at its end (or refused by ``body_timeout``).

A body of a known length of ``PIECE`` bytes or more (plain HTTP) bypasses the
parser once its headers are in: the socket is read straight into the piece
being filled (an asyncio BufferedProtocol), instead of into a new bytes object
per read that the parser copies again and the cycle joins a third time. The
parser, still inside that body, is replaced by a fresh one at its end, and the
bytes after it (never read early: each read asks for at most what is left of
the body) go to the parser again.

This relies on uvicorn's RequestResponseCycle (its body, event and flow-control
fields), checked against the uvicorn versions pyproject.toml allows.
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from s3presign.core.s3errors import S3Error
from s3presign.server import xml
from s3presign.server.config import Limits

_IDLE, _HEADERS, _BODY, _APP = range(4)
PIECE = 2 << 20  # the body reaches the app in messages of about this size
HELD = PIECE  # reading pauses while a whole piece waits for the app
_REASONS = {400: b"Bad Request", 503: b"Service Unavailable"}
_HOST_ID = base64.b64encode(os.urandom(24)).decode()


def error_response(err: S3Error) -> bytes:
    """A whole HTTP response carrying S3's XML error; the connection closes after it."""
    request_id = os.urandom(8).hex().upper()
    body = xml.error_document(err, request_id, _HOST_ID)
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/xml\r\ncontent-length: %d\r\n"
        b"x-amz-request-id: %s\r\nx-amz-id-2: %s\r\nconnection: close\r\n\r\n"
        % (err.status, _REASONS.get(err.status, b"Error"), len(body), request_id.encode(), _HOST_ID.encode())
    )
    return head + body


async def _slow_down(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The app for a connection over the limit: S3's 503 SlowDown, then close."""
    err = S3Error("SlowDown")
    body = xml.error_document(err, os.urandom(8).hex().upper(), _HOST_ID)
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/xml"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})


class _Sweeper:
    """Checks every connection of one server against its deadlines, every ``tick``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, connections: set[Any], tick: float) -> None:
        self._loop = loop
        self._connections = connections
        self._tick = tick
        self._handle: asyncio.TimerHandle | None = None

    def ensure_running(self) -> None:
        if self._handle is None:
            self._handle = self._loop.call_later(self._tick, self._sweep)

    def _sweep(self) -> None:
        self._handle = None
        if not self._connections:
            return  # restarted by the next connection
        now = self._loop.time()
        for conn in list(self._connections):
            check = getattr(conn, "check_deadlines", None)
            if check is not None:
                check(now)
        self.ensure_running()


class _BodyReader(asyncio.BufferedProtocol):
    """The transport's protocol while a large body arrives: reads it into pieces of
    ``PIECE`` bytes for the cycle, then hands the connection back to ``owner``."""

    __slots__ = ("owner", "left", "piece", "filled", "sink")

    def __init__(self, owner: "S3HttpProtocol", left: int) -> None:
        self.owner = owner
        self.left = left  # body bytes not read yet
        self.piece = bytearray(min(PIECE, left))
        self.filled = 0
        self.sink: memoryview | None = None  # where the bytes of an answered request go

    def get_buffer(self, sizehint: int) -> memoryview:
        cycle = self.owner.cycle
        if cycle.response_complete or cycle.disconnected:  # answered: the rest is dropped
            if self.sink is None:
                self.sink = memoryview(bytearray(min(PIECE, self.left)))
            return self.sink[:self.left]
        return memoryview(self.piece)[self.filled:self.filled + self.left]

    def buffer_updated(self, nbytes: int) -> None:
        owner = self.owner
        owner._rx = owner.loop.time()
        self.left -= nbytes
        cycle = owner.cycle
        if self.sink is None and not (cycle.response_complete or cycle.disconnected):
            self.filled += nbytes
            if self.filled == len(self.piece):
                self._deliver(cycle)
        if not self.left:
            owner._body_done()

    def _deliver(self, cycle: Any) -> None:
        piece = self.piece
        cycle.pieces.append(piece)
        cycle.held += len(piece)
        self.piece = bytearray(min(PIECE, self.left)) if self.left else bytearray()
        self.filled = 0
        cycle.message_event.set()
        if cycle.held >= HELD:
            self.owner.flow.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.connection_lost(exc)

    def eof_received(self) -> bool | None:
        return self.owner.eof_received()

    def pause_writing(self) -> None:
        self.owner.pause_writing()

    def resume_writing(self) -> None:
        self.owner.resume_writing()


class _Cycle(RequestResponseCycle):
    """uvicorn's request cycle, with the body kept as the parser's own pieces and
    handed to the app in messages of at least ``PIECE`` bytes (joined once; the
    last one, or the only one of a small body, may be shorter)."""

    pieces: list[bytes]
    held: int  # bytes in ``pieces``

    async def receive(self) -> Any:  # uvicorn's, but the event means "a piece is ready"
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiting_for_100_continue = False
        if not self.disconnected and not self.response_complete:
            self.flow.resume_reading()
            await self.message_event.wait()
            self.message_event.clear()
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        pieces = self.pieces
        if len(pieces) > 1 and len(pieces[0]) >= PIECE:  # a whole piece: as it is, not joined
            body = pieces.pop(0)
            self.held -= len(body)
            if self.held >= PIECE or not self.more_body:
                self.message_event.set()  # the next one is ready too
            return {"type": "http.request", "body": body, "more_body": True}
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self.pieces = []
        self.held = 0
        return {"type": "http.request", "body": body, "more_body": self.more_body}


def _adopt(cycle: RequestResponseCycle) -> None:
    """Make a cycle uvicorn just built a _Cycle (same fields, one more method)."""
    cycle.__class__ = _Cycle
    cycle.pieces = []  # type: ignore[attr-defined]
    cycle.held = 0  # type: ignore[attr-defined]


class S3HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with S3's error answers, timeouts and limits."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: Limits = getattr(config, "s3_limits", None) or Limits()
        self._max_header_bytes = self.limits.max_header_bytes
        self._phase = _IDLE
        self._mark = 0.0  # when the current phase began
        self._rx = 0.0  # when the last bytes arrived
        self._header_bytes = 0
        self._over_limit = False
        self._stalled_since: float | None = None
        self._error: S3Error | None = None  # set by a callback before it makes the parser fail
        self._deferred: S3Error | None = None  # refusal to send once the running response is done
        self._body_left = -1  # of a large body the parser will not see: bytes still to come

    # --- connection --------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self.limits
        transport.set_write_buffer_limits(high=limits.send_buffer)
        self._mark = self._rx = self.loop.time()
        self._over_limit = len(self.connections) > limits.max_connections
        sweeper = getattr(self.server_state, "s3_sweeper", None)
        if sweeper is None:
            sweeper = _Sweeper(self.loop, self.connections, limits.tick)
            self.server_state.s3_sweeper = sweeper
        sweeper.ensure_running()

    def data_received(self, data: bytes) -> None:
        self._rx = self.loop.time()
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # no upgrades: the request was routed like any other
        except httptools.HttpParserError:
            err, self._error = self._error or S3Error("BadRequest"), None
            self.refuse(err)
            return
        if self._body_left > 0 and self.parser is not None and not self.transport.is_closing():
            self.transport.set_protocol(_BodyReader(self, self._body_left))

    def _body_done(self) -> None:
        """The large body has been read: a fresh parser for what follows it."""
        self._body_left = -1
        self.parser = httptools.HttpRequestParser(self)
        try:
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        except AttributeError:  # httptools < 0.6.3
            pass
        reader = self.transport.get_protocol()
        self.transport.set_protocol(self)
        cycle = self.cycle
        if isinstance(reader, _BodyReader) and reader.filled and not (cycle.response_complete or cycle.disconnected):
            del reader.piece[reader.filled:]
            reader._deliver(cycle)
        self.on_message_complete()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._stalled_since = self.loop.time()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._stalled_since = None

    # --- parser callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _HEADERS
        self._mark = self._rx
        self._header_bytes = 0

    # on_url and on_header are uvicorn's, inlined (they run for every header of
    # every request), plus the header-section bound.
    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        if self._header_bytes > self._max_header_bytes:
            self._too_large()
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self._max_header_bytes:
            self._too_large()
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def _too_large(self) -> None:
        self._error = S3Error("RequestHeaderSectionTooLarge", elements={"MaxSizeAllowed": str(self._max_header_bytes)})
        raise ValueError("header section too large")  # the parser fails; data_received refuses

    def on_headers_complete(self) -> None:
        self._phase = _BODY
        previous = self.cycle
        if not self._over_limit:
            super().on_headers_complete()
        else:
            app, self.app = self.app, _slow_down
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        if self.cycle is not previous:
            _adopt(self.cycle)  # before its task first runs: the next loop turn
        if self._over_limit:
            self.cycle.keep_alive = False
            self._log(S3Error("SlowDown"))
        else:
            self._body_left = self._large_body()

    def _large_body(self) -> int:
        """The Content-Length of a body to read past the parser, else -1."""
        if self.scheme != "http" or self.cycle is None:
            return -1  # TLS: its transport's protocol switch is not relied on
        length = -1
        for name, value in self.headers:
            if name == b"content-length":
                if length >= 0 or not value.isdigit():
                    return -1
                length = int(value)
            elif name == b"transfer-encoding":
                return -1
        return length if length >= PIECE else -1

    def on_body(self, body: bytes) -> None:
        if self._body_left > 0:
            self._body_left -= len(body)
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return  # not HTTP any more, or answered already (the rest of the body is dropped)
        cycle.pieces.append(body)  # type: ignore[attr-defined]
        held = cycle.held + len(body)  # type: ignore[attr-defined]
        cycle.held = held  # type: ignore[attr-defined]
        if held >= PIECE:
            cycle.message_event.set()
            if held >= HELD:
                self.flow.pause_reading()  # the app is a piece behind: let TCP push back

    def on_message_complete(self) -> None:
        self._body_left = -1
        super().on_message_complete()
        self._phase = _APP

    def on_response_complete(self) -> None:
        if self._deferred is not None:
            err, self._deferred = self._deferred, None
            self.server_state.total_requests += 1
            self._write_refusal(err)
            return
        idle = self._phase == _APP and not self.pipeline
        super().on_response_complete()
        if idle:
            self._phase = _IDLE
            self._mark = self.loop.time()

    # --- refusing ----------------------------------------------------------------------

    def refuse(self, err: S3Error) -> None:
        """Answer ``err`` as S3's XML and close. A response in progress is not cut
        short: the refusal (of the bytes after it) follows it."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.disconnected:
            if not cycle.more_body and not self.transport.is_closing():
                self._deferred = err  # e.g. a body longer than its Content-Length
                self.flow.pause_reading()
                return
            if cycle.response_started:
                self.transport.close()
                return
            cycle.disconnected = True  # the app stops reading and sends nothing
            cycle.message_event.set()
        self._write_refusal(err)

    def _write_refusal(self, err: S3Error) -> None:
        if not self.transport.is_closing():
            self.transport.write(error_response(err))
            self.transport.close()
            self._log(err)

    def _log(self, err: S3Error) -> None:
        """The app's access log line for a refusal made here (path without its query,
        which may carry a pre-signed credential)."""
        hook = getattr(self.app, "log_refusal", None)
        if hook is None:
            return
        scope = self.scope or {}
        target = (getattr(self, "url", b"") or b"").split(b"?", 1)[0][:256].decode("latin-1") or "-"
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
        hook(client, scope.get("method", "-"), target, err.status, err.code)

    def send_400_response(self, msg: str) -> None:  # uvicorn's plain-text path, never used here
        self.refuse(S3Error("BadRequest"))

    def check_deadlines(self, now: float) -> None:
        """Called by the sweeper: enforce this connection's timeouts."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        limits = self.limits
        if self._stalled_since is not None and now - self._stalled_since > limits.send_timeout:
            transport.abort()  # the client stopped reading: free its buffers now
            return
        phase = self._phase
        if phase == _IDLE:
            if now - self._mark > limits.idle_timeout and not self.pipeline:
                transport.close()
        elif phase == _HEADERS:
            if now - self._mark > limits.header_timeout:
                self.refuse(S3Error("RequestTimeout"))
        elif phase == _BODY:
            if not self.flow.read_paused and now - self._rx > limits.body_timeout:
                self.refuse(S3Error("RequestTimeout"))
