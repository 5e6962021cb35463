"""The ASGI application: authenticate, route, answer, log one line.

``create_app(config)`` gives the app to any ASGI server; ``start_in_thread``
runs it on uvicorn (uvloop + httptools) on a free loopback port, for the demo
command, tests and embedders. Every S3Error becomes S3's XML with its status;
the metadata database or the blob store being away is S3's 503 ServiceUnavailable
(SDKs retry it); anything else is logged with its traceback and answered 500
InternalError, so a client's mistake (which is always an S3Error) never yields a 500.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, AsyncIterable, AsyncIterator, Iterable

from s3presign.core.s3errors import S3Error
from s3presign.server import keys, xml
from s3presign.server.auth import authenticate
from s3presign.server.config import ServerConfig
from s3presign.server.encryption import Encryption
from s3presign.server.handlers.context import Ctx, ServerState
from s3presign.server.http import ClientDisconnected, Receive, Request, Response, Scope, Send
from s3presign.server.handlers import authz, cors
from s3presign.server.routes import SUBRESOURCES, resolve, split_path, unauthenticated, virtual_bucket
from s3presign.server.metadata import MetadataUnavailable
from s3presign.server.storage import Storage, open_storage

log = logging.getLogger("s3presign.server")
_XML = (b"content-type", b"application/xml")
_PIPE_BUF = 4096  # writes up to this size to a pipe are atomic (POSIX)


def _unavailable(exc: BaseException) -> bool:
    """The database or the blob store is away (not a bug): S3's 503, which SDKs retry.
    The S3 blob store's module is looked up, not imported: embedded servers never load it."""
    if isinstance(exc, MetadataUnavailable):
        return True
    blobs_s3 = sys.modules.get("s3presign.server.blobs_s3")
    return blobs_s3 is not None and isinstance(exc, blobs_s3.BackendUnavailable)


def _start_gc(storage: Storage, config: ServerConfig) -> None:
    """Now and every gc_interval: sweep orphaned blobs if this instance holds the lease."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"

    def run() -> None:
        while True:
            try:
                gone = storage.collect(holder, config.gc_grace, lease=config.gc_interval * 2)
                if gone:
                    log.info("gc: removed %d orphaned blob(s)", gone)
            except Exception as exc:  # an outage: try again at the next round
                log.warning("gc: %s", exc)
            time.sleep(config.gc_interval)

    threading.Thread(target=run, name="s3presign-gc", daemon=True).start()


class S3App:
    """The S3 endpoint as an ASGI 3 application."""

    def __init__(self, config: ServerConfig, *, storage: Storage | None = None,
                 encryption: Encryption | None = None, recover: bool = True) -> None:
        users = None
        if config.distributed and storage is None:
            storage, encryption = self._distributed(config, encryption, recover)
            from s3presign.server.users import DatabaseUsers, UserStore

            users = DatabaseUsers(UserStore(storage.meta, config.master_key))  # type: ignore[arg-type]
        if encryption is None:
            if config.master_key is not None:
                master, source = config.master_key, "--master-key-file"
            else:
                master, source = keys.load_master_key(config.data_dir), f"{keys.key_dir(config.data_dir)}/master.key"
            keys.check_master_key(config.data_dir, master, source)
            encryption = Encryption(config.data_dir, master, region=config.region)
        if storage is None:
            from s3presign.server.migrate import upgrade_if_needed

            storage = open_storage(config.data_dir, encryption.record_key())
            upgrade_if_needed(config.data_dir, storage)
            if recover:  # once per data dir, before any request: never while another process serves
                storage.recover()
        self.state = ServerState(config, storage, encryption, users=users)
        self.host_id = base64.b64encode(os.urandom(24)).decode().encode()
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex().upper()
        self._access_log = config.access_log
        self._log_lines: list[str] = []

    @staticmethod
    def _distributed(config: ServerConfig, encryption: Encryption | None,
                     recover: bool) -> tuple[Storage, Encryption]:
        """PostgreSQL + an S3 blob store: the master key is checked against the
        deployment's, the key service lives in the database, and garbage collection
        runs under a lease (other instances are writing: only old blobs go)."""
        from s3presign.server.blobs_s3 import S3BlobStore
        from s3presign.server.kms import SharedKeyService

        master = config.master_key
        assert master is not None  # ServerConfig refuses the distributed shape without it
        if encryption is None:
            encryption = Encryption(config.data_dir, master, region=config.region)
        storage = open_storage(config.data_dir, encryption.record_key(), S3BlobStore(config.blobs),
                               metadata_url=config.metadata_url)
        keys.check_master_key_shared(storage.meta, master, "--master-key-file", "the metadata database")
        encryption.keys = SharedKeyService(storage.meta, master, region=config.region)
        if recover:
            _start_gc(storage, config)
        return storage, encryption

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self._flush_log()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _dispatch(self, req: Request) -> Response:
        state = self.state
        config = state.config
        if req.header_bytes > config.limits.max_header_bytes:
            limit = str(config.limits.max_header_bytes)
            raise S3Error("RequestHeaderSectionTooLarge", elements={"MaxSizeAllowed": limit})
        bucket_from_host = virtual_bucket(req.headers.get("host", ""), config.domain)
        target, bucket, key = split_path(req.raw_path, bucket_from_host)  # S3 parses the URI first
        auth = None  # a preflight, a POST form with its own signed policy, or anonymous
        if not unauthenticated(target, req.method, req.query_names):
            try:
                auth = authenticate(req, state.lookup, config.region, bucket_from_host)
            except S3Error as err:
                if err.name != "AnonymousDenied":  # no credentials at all: authorization decides
                    raise
        handler, operation = resolve(target, req.method, req.query_names, req.headers)
        ctx = Ctx(state, req, bucket, key)
        ctx.auth = auth
        await authz.authorize(ctx, operation)
        return await handler(ctx)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        req = Request(scope, receive)
        request_id = f"{self._id_prefix}{next(self._ids):08X}"
        try:
            resp = await self._dispatch(req)
        except S3Error as err:
            resp = self._error(err, request_id)
            if err.status >= 500:
                log.error("%s %s: %s", req.method, req.raw_path, getattr(err, "detail", err.message))
        except ClientDisconnected:
            self._log(req, 499, "ClientDisconnected", 0, started, request_id)
            return
        except Exception as exc:
            if _unavailable(exc):
                log.warning("%s %s: 503, %s", req.method, req.raw_path, exc)
                resp = self._error(S3Error("ServiceUnavailable"), request_id)
            else:
                log.exception("internal error serving %s %s", req.method, req.raw_path)
                resp = self._error(S3Error("InternalError"), request_id)
        if "origin" in req.headers:
            self._cors(req, resp)
        sent = await self._send(send, receive, req, resp, request_id)
        self._log(req, resp.status, resp.error_code, sent, started, request_id)

    def _cors(self, req: Request, resp: Response) -> None:
        """Access-Control-* headers from the bucket's CORS rules (errors included, so
        a browser can read why a pre-signed request failed)."""
        try:
            _, bucket, _ = split_path(req.raw_path, virtual_bucket(req.headers.get("host", ""), self.state.config.domain))
        except S3Error:
            return
        cors.decorate(self.state.storage, req, bucket, resp)

    def _error(self, err: S3Error, request_id: str) -> Response:
        body = xml.error_document(err, request_id, self.host_id.decode())
        resp = Response(err.status, [_XML], body, err.code)
        return resp.extend(getattr(err, "headers", {}).items())  # x-amz-delete-marker and the like

    async def _send(self, send: Send, receive: Receive, req: Request, resp: Response, request_id: str) -> int:
        """Send the response; returns the number of body bytes sent."""
        headers = resp.headers
        headers.append((b"x-amz-request-id", request_id.encode()))
        headers.append((b"x-amz-id-2", self.host_id))
        if req.has_body and not req.body_done:
            # We answered without reading the body (an early error): the client may
            # be waiting for 100-continue, so this connection cannot be reused.
            headers.append((b"connection", b"close"))
        body = resp.body
        if isinstance(body, (bytes, bytearray)):
            if resp.status not in (204, 304):
                for name, _ in headers:
                    if name == b"content-length":
                        break
                else:
                    headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            send_body = b"" if req.method == "HEAD" else body
            await send({"type": "http.response.body", "body": send_body})
            return len(send_body)
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        return await self._stream(send, receive, body)  # type: ignore[arg-type]

    async def _stream(self, send: Send, receive: Receive, body: Iterable[bytes] | AsyncIterable[bytes]) -> int:
        """A large body: stop producing (decrypting, reading) as soon as the client
        leaves; the server then drops the connection (the response stays incomplete)."""

        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        gone = asyncio.ensure_future(disconnected())
        sent = 0
        try:
            async for chunk in _aiter(body):
                if gone.done():
                    return sent
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
            await send({"type": "http.response.body", "body": b""})
        finally:
            gone.cancel()
            if hasattr(body, "aclose"):
                await body.aclose()
            elif hasattr(body, "close"):
                body.close()
        return sent

    def _log(self, req: Request, status: int, code: str, sent: int, started: float, request_id: str) -> None:
        """One line per request, written in batches (a write per request would cost as
        much as serving a small GET). Of the query only the sub-resource names appear
        (they name the operation: a listing, a part upload, a versioning call); its
        values are left out, since a pre-signed URL's are a credential."""
        if self._access_log is None:
            return
        ms = (time.perf_counter() - started) * 1000
        target = req.raw_path
        if req.raw_query:
            subs = sorted({name for name in req.query_names if name in SUBRESOURCES})
            if subs:
                target = f"{target}?{'&'.join(subs)}"
        self._log_lines.append(
            f'{req.client} "{req.method} {target}" {status} {code or "-"} {sent} {ms:.1f}ms {request_id}\n'
        )
        if len(self._log_lines) == 1:
            asyncio.get_running_loop().call_later(0.2, self._flush_log)

    def log_refusal(self, client: str, method: str, target: str, status: int, code: str) -> None:
        """The access log line of a request the HTTP layer refused before the app saw it
        (malformed framing, a timeout, the connection limit)."""
        if self._access_log is None:
            return
        printable = target.encode("latin-1", "replace").decode("ascii", "replace")
        self._log_lines.append(f'{client} "{method} {printable}" {status} {code} 0 -ms -\n')
        if len(self._log_lines) == 1:
            asyncio.get_running_loop().call_later(0.2, self._flush_log)

    def _flush_log(self) -> None:
        """Write the batch in pieces of at most PIPE_BUF bytes, so lines from several
        worker processes sharing one pipe never interleave."""
        lines, self._log_lines = self._log_lines, []
        out = self._access_log
        if not lines or out is None:
            return
        piece: list[str] = []
        size = 0
        try:
            for line in lines + [""]:
                if piece and (not line or size + len(line) > _PIPE_BUF):
                    out.write("".join(piece))
                    out.flush()
                    piece, size = [], 0
                piece.append(line)
                size += len(line)
        except (OSError, ValueError):
            pass


async def _aiter(body: Iterable[bytes] | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    if hasattr(body, "__aiter__"):
        async for chunk in body:  # type: ignore[union-attr]
            yield chunk
    else:
        for chunk in body:  # type: ignore[union-attr]
            yield chunk


def create_app(config: ServerConfig, **kwargs: Any) -> S3App:
    """The endpoint as an ASGI application (storage and encryption created from config)."""
    return S3App(config, **kwargs)


# --- running it -------------------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it back with getsockname)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: S3App, *, certfile: str | None = None, keyfile: str | None = None) -> Any:
    """uvicorn with uvloop and httptools under S3's manners (server/protocol.py), its
    own access log off (the app logs)."""
    import uvicorn

    from s3presign.server.protocol import S3HttpProtocol

    limits = app.state.config.limits
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=S3HttpProtocol,
        timeout_keep_alive=int(max(1, limits.idle_timeout)),
        # X-Forwarded-Proto/-For only from the load balancer(s) named by --trusted-proxy:
        # TLS ends there, and SSE-C must know that the client's request came over HTTPS
        proxy_headers=bool(app.state.config.trusted_proxies),
        forwarded_allow_ips=",".join(app.state.config.trusted_proxies) or None,
        lifespan="on",
        access_log=False,
        server_header=False,
        log_config=None,
        log_level="warning",
        timeout_graceful_shutdown=10,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    config.s3_limits = limits
    return config


def make_server(config: Any) -> Any:
    """A uvicorn Server that shuts down gracefully on SIGINT/SIGTERM and then returns
    (uvicorn's own re-raises the signal, which would kill the process instead)."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[override]
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            """Requests in flight get the grace period; idle keep-alive connections do
            not (a TLS one would otherwise wait for the client's close_notify)."""
            task = asyncio.ensure_future(self._abort_idle())
            try:
                await super().shutdown(sockets)
            finally:
                task.cancel()

        async def _abort_idle(self) -> None:
            await asyncio.sleep(0.5)
            for conn in list(self.server_state.connections):
                cycle = getattr(conn, "cycle", None)
                transport = getattr(conn, "transport", None)
                if transport is not None and (cycle is None or cycle.response_complete):
                    transport.abort()

    return _Server(config)


# A worker that dies is replaced; more than this many deaths within the window
# means it cannot be kept up (a crash at start, say), and the server gives up.
_MAX_RESTARTS = 5
_RESTART_WINDOW = 60.0


def serve(app: S3App, sock: socket.socket, *, certfile: str | None = None, keyfile: str | None = None,
          workers: int = 1) -> int:
    """Serve on ``sock`` until SIGINT/SIGTERM: here, or in ``workers`` forked processes
    that share the listening socket (each with its own app, caches and event loop).
    Returns the exit status: 0, or 1 when the workers could not be kept up."""
    if workers <= 1:
        make_server(uvicorn_config(app, certfile=certfile, keyfile=keyfile)).run(sockets=[sock])
        return 0
    config = app.state.config
    app.state.storage.meta.close()  # no database connection crosses fork(); each worker opens its own

    def spawn() -> int:
        pid = os.fork()
        if pid == 0:  # a worker: never returns into the parent's code
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                worker = create_app(config, recover=False)  # the parent recovered before forking
                make_server(uvicorn_config(worker, certfile=certfile, keyfile=keyfile)).run(sockets=[sock])
            except BaseException:
                log.exception("worker failed")
                code = 1
            finally:
                if config.access_log is not None:
                    config.access_log.flush()
                os._exit(code)
        return pid

    children = {spawn() for _ in range(workers)}
    stopping = False
    deaths: list[float] = []

    def stop(sig: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:  # SIGTERM, not the signal: a second SIGINT would force uvicorn out
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        while children:
            try:
                pid, code = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
            children.discard(pid)
            if stopping:
                continue
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < _RESTART_WINDOW] + [now]
            how = f"signal {os.WTERMSIG(code)}" if os.WIFSIGNALED(code) else f"status {os.waitstatus_to_exitcode(code)}"
            if len(deaths) > _MAX_RESTARTS:
                log.error("s3presign serve: workers keep dying (%d in %.0f s, last with %s); stopping",
                          len(deaths), _RESTART_WINDOW, how)
                status = 1
                stop(signal.SIGTERM, None)
                continue
            log.error("s3presign serve: worker %d died (%s); starting another", pid, how)
            children.add(spawn())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


@dataclass
class RunningServer:
    """An endpoint running in a background thread; ``stop()`` shuts it down."""

    url: str
    app: S3App
    _server: Any
    _thread: threading.Thread

    def stop(self, timeout: float = 15.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    config: ServerConfig, host: str = "127.0.0.1", port: int = 0,
    certfile: str | None = None, keyfile: str | None = None, timeout: float = 10.0,
) -> RunningServer:
    """Run the endpoint on uvicorn in a daemon thread; returns once it accepts connections."""
    app = create_app(config)
    sock = bind(host, port)
    server = make_server(uvicorn_config(app, certfile=certfile, keyfile=keyfile))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="s3presign-serve")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the S3 endpoint did not start")
        time.sleep(0.01)
    scheme = "https" if certfile else "http"
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return RunningServer(f"{scheme}://{shown}:{bound_port}", app, server, thread)

