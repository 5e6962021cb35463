"""Using pre-signed requests: streaming PUT and GET, and multipart uploads.

Bodies stream from and to files in 1 MiB pieces, so memory stays flat whatever
the size. A request is retried (with jittered exponential backoff) only when
that is safe: a GET always (it resumes with a Range request), a PUT or an
UploadPart when its bytes can be read again from an unchanged file,
CreateMultipartUpload only when the request never reached the server. A
download goes to a temporary file next to its destination and replaces it only
once its size (and, where S3's ETag is an MD5, its digest) is checked.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import ssl
import stat
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Callable, Iterator, Mapping
from urllib.parse import unquote, urlsplit

import httpx

from s3presign.core.errors import PresignError
from s3presign.core.presign import PresignedRequest
from s3presign.core.sse import H_C_ALGORITHM, H_C_KEY, H_SSE, SSE_C_ALGORITHM, customer_key_headers

CHUNK = 1 << 20
MAX_ERROR_BODY = 64 * 1024
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
TRANSIENT_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"})
_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")


# --- errors ------------------------------------------------------------------------------


class TransferError(Exception):
    """A transfer that failed: a one-line message and optional hints (one line each)."""

    def __init__(self, message: str, hints: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hints = list(hints)


class S3ResponseError(TransferError):
    """S3 answered with an error: its code, message and document."""

    def __init__(self, status: int, error: dict[str, str], hints: list[str] | tuple[str, ...] = ()) -> None:
        self.status = status
        self.error = error
        self.code = error.get("Code") or f"HTTP {status}"
        text = error.get("Message") or _REASONS.get(status, "no error document (HEAD answers have no body)")
        super().__init__(f"{self.code}: {text}", hints)

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT_STATUS or self.code in TRANSIENT_CODES


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 411: "Length Required", 412: "Precondition Failed", 416: "Range Not Satisfiable"}


class _Cancelled(Exception):
    """Raised inside a body stream when the transfer is being stopped."""


def parse_error(body: bytes) -> dict[str, str]:
    """An S3 <Error> document as {element: text}; {} when it is not one."""
    if not body.strip():
        return {}
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        return {}
    if root.tag.rpartition("}")[2] != "Error":
        return {}
    return {child.tag.rpartition("}")[2]: child.text or "" for child in root}


def diagnose(request: "Request", error: dict[str, str] | None = None) -> list[str]:
    """Hints from `inspect` for a request (and S3's answer to it). Uses the caller's
    own credentials only if they are the URL's signer (to tell which value a
    signed header had); never fails."""
    from s3presign.client.inspect import hints, inspect_url, parse_signed_url
    from s3presign.core.credentials import Credentials

    try:
        url = parse_signed_url(request.url)
    except PresignError:
        return []
    secret = None
    try:
        creds = Credentials.resolve()
        if creds.access_key == url.access_key:
            secret = creds.secret_key
    except PresignError:
        pass
    try:
        report = inspect_url(request.url, method=request.method, headers=request.headers, secret_key=secret,
                             error=error or None)
    except PresignError:
        return []
    return hints(report)


# --- the request to send -------------------------------------------------------------------


@dataclass
class Request:
    """A concrete request: a pre-signed URL and every header to send with it."""

    method: str
    url: str
    headers: dict[str, str]
    needs_customer_key: bool = False

    @classmethod
    def from_presigned(cls, presigned: PresignedRequest, customer_key: bytes | None = None) -> "Request":
        headers = presigned.headers_with_key(customer_key) if customer_key and presigned.required_headers else dict(presigned.headers)
        return cls(presigned.method, presigned.url, headers, bool(presigned.required_headers) and customer_key is None)

    @property
    def where(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransferError(f"{url[:80]!r} is not an http(s) URL; give the pre-signed URL (in quotes)")
    return url.strip()


def build_request(
    method: str,
    url: str | None,
    *,
    from_json: str | None = None,
    headers: Mapping[str, str] | None = None,
    customer_key: bytes | None = None,
) -> Request:
    """The request `put`/`get` send: the URL (or --from-json), its headers, the
    --header overrides and, given a key, the SSE-C headers."""
    required: tuple[str, ...] = ()
    sent: dict[str, str] = {}
    if from_json is not None:
        from s3presign.client.inspect import load_presigned_json

        try:
            json_method, url, sent, required = load_presigned_json(from_json)
        except PresignError as exc:
            raise TransferError(str(exc)) from None
        if json_method != method:
            command = {"PUT": "put", "GET": "get"}.get(json_method, json_method.lower())
            raise TransferError(f"--from-json {from_json} is a {json_method} request; use `s3presign {command}`")
    if url is None:
        raise TransferError("give the pre-signed URL (or --from-json FILE)")
    url = check_url(url)
    sent.update({k.strip().lower(): v.strip() for k, v in (headers or {}).items()})
    if customer_key is not None:
        sent.setdefault(H_C_ALGORITHM, SSE_C_ALGORITHM)
        sent.update(customer_key_headers(customer_key))
    missing_key = customer_key is None and (H_C_KEY in required or (H_C_ALGORITHM in sent and H_C_KEY not in sent))
    return Request(method, url, sent, missing_key)


# --- HTTP, progress, retries --------------------------------------------------------------


def http_client(ca_bundle: str | None = None, *, timeout: float = 60.0, pool: int = 8) -> httpx.Client:
    """An httpx client trusting ``ca_bundle`` (else AWS_CA_BUNDLE, SSL_CERT_FILE, certifi)."""
    cafile = ca_bundle or os.environ.get("AWS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    verify: Any = True
    if cafile:
        try:
            verify = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise TransferError(f"cannot use CA bundle {cafile}: {getattr(exc, 'strerror', None) or exc}") from None
    return httpx.Client(
        verify=verify, timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)), follow_redirects=False,
        limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool), trust_env=True,  # HTTPS_PROXY, NO_PROXY
    )


class Progress:
    """One rich progress bar (bytes, rate, ETA) on a terminal; nothing otherwise."""

    def __init__(self, description: str, total: int | None, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn, DownloadColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True),
                TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
            )
            self._task = self._bar.add_task(description, total=total)

    def __enter__(self) -> "Progress":
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, n: int) -> None:
        if self._bar is not None:  # rich's Progress is thread-safe
            self._bar.update(self._task, advance=n)

    def total(self, total: int | None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=total)


def _transient(exc: httpx.HTTPError) -> bool:
    """A network failure worth another attempt (not a TLS or URL mistake)."""
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
        return False
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE" in str(exc).upper():
        return False
    return isinstance(exc, httpx.TransportError)


def _network_error(exc: httpx.HTTPError, request: Request, attempts: int) -> TransferError:
    parts = urlsplit(request.url)
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower():
        return TransferError(f"TLS: {parts.hostname}'s certificate is not trusted ({text.split('] ')[-1]})",
                             ["trust the server's CA with --ca-bundle FILE (or AWS_CA_BUNDLE)"])
    if isinstance(exc, httpx.ConnectError):
        what = f"cannot connect to {parts.netloc}: {text}"
    elif isinstance(exc, httpx.TimeoutException):
        what = f"{parts.netloc} timed out ({type(exc).__name__})"
    else:
        what = f"connection to {parts.netloc} failed: {text}"
    return TransferError(what + (f" (after {attempts} attempts)" if attempts > 1 else ""))


class Backoff:
    """Full-jitter exponential backoff: at most ``retries`` extra attempts."""

    def __init__(self, retries: int, base: float = 0.25, cap: float = 8.0) -> None:
        self.retries = max(0, retries)
        self.base, self.cap = base, cap
        self.attempt = 0

    def again(self) -> bool:
        """Sleep before the next attempt; False when none is left."""
        if self.attempt >= self.retries:
            return False
        time.sleep(random.uniform(0, min(self.cap, self.base * 2 ** self.attempt)))
        self.attempt += 1
        return True

    @property
    def attempts(self) -> int:
        return self.attempt + 1


def _read_error(response: httpx.Response) -> dict[str, str]:
    body = b""
    for piece in response.iter_raw():
        body += piece
        if len(body) > MAX_ERROR_BODY:
            break
    return parse_error(body)


def _file_stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _body(path: str, offset: int, length: int, digest: Any, progress: Progress,
          sent: list[int], cancel: threading.Event | None) -> Iterator[bytes]:
    """``length`` bytes of ``path`` from ``offset``, 1 MiB at a time."""
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        left = length
        while left > 0:
            if cancel is not None and cancel.is_set():
                raise _Cancelled()
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                raise TransferError(f"{path} became shorter while it was being sent")
            digest.update(chunk)
            left -= len(chunk)
            sent[0] += len(chunk)
            progress.advance(len(chunk))
            yield chunk


def md5_etag(headers: httpx.Headers) -> str | None:
    """The ETag when S3 makes it the MD5 of the bytes (no SSE, SSE-S3; single part)."""
    etag = (headers.get("etag") or "").strip('"').lower()
    if not _MD5_HEX.match(etag):
        return None
    if headers.get(H_SSE, "AES256") != "AES256" or H_C_ALGORITHM in headers:
        return None
    return etag


@dataclass
class Sent:
    size: int
    etag: str | None
    md5_checked: bool
    sse: str | None


def _sse_of(headers: httpx.Headers) -> str | None:
    if H_C_ALGORITHM in headers:
        return f"SSE-C ({headers[H_C_ALGORITHM]})"
    return headers.get(H_SSE)


def send_file(client: httpx.Client, request: Request, path: str, offset: int, length: int, progress: Progress,
              *, retries: int, cancel: threading.Event | None = None, check_md5: bool = True) -> tuple[httpx.Response, str]:
    """PUT ``length`` bytes of ``path`` to a pre-signed URL; (response, MD5 hex of the bytes sent).

    Retried only while the file is unchanged (so the bytes can be read again)."""
    stamp = _file_stamp(path)
    backoff = Backoff(retries)
    headers = {**request.headers, "content-length": str(length)}
    while True:
        digest, sent = hashlib.md5(), [0]
        try:
            response = client.request(request.method, request.url, headers=headers,
                                      content=_body(path, offset, length, digest, progress, sent, cancel))
        except httpx.HTTPError as exc:
            progress.advance(-sent[0])
            if _transient(exc) and _file_stamp(path) == stamp and backoff.again():
                continue
            raise _network_error(exc, request, backoff.attempts) from None
        if response.status_code >= 300:
            progress.advance(-sent[0])
            error = S3ResponseError(response.status_code, parse_error(response.content))
            if error.transient and _file_stamp(path) == stamp and backoff.again():
                continue
            error.hints = diagnose(request, error.error)
            raise error
        if sent[0] != length:
            raise TransferError(f"{path} changed while it was being sent")
        md5 = digest.hexdigest()
        etag = md5_etag(response.headers)
        if check_md5 and etag is not None and etag != md5:
            raise TransferError(f"the server's ETag {etag} is not the MD5 of the bytes sent ({md5}): the data was "
                                "corrupted in transit")
        return response, md5


def preflight(request: Request) -> None:
    """Refuse, before any byte is sent, a request that S3 would certainly refuse."""
    from s3presign.client.inspect import inspect_url, parse_signed_url

    if request.needs_customer_key:
        raise TransferError("this URL is for an SSE-C object: give your 32-byte key with --sse-c-key-file FILE")
    try:
        parse_signed_url(request.url)
        report = inspect_url(request.url, method=request.method, headers=request.headers)
    except PresignError as exc:
        raise TransferError(str(exc)) from None
    fatal = [f for f in report.causes() if f.code in ("header-not-sent", "header-not-signed", "sigv2-kms", "malformed", "date-scope")]
    if fatal:
        first = fatal[0]
        hints = diagnose(request) if first.code == "header-not-sent" else []
        hints = hints or list(dict.fromkeys(f.fix for f in fatal if f.fix))
        if first.code == "header-not-sent":
            hints.append("or use --from-json with the output of `s3presign url ... --output json`")
        raise TransferError(f"{first.message} (nothing was sent)", hints)


# --- PUT and GET ----------------------------------------------------------------------------


def put_file(client: httpx.Client, request: Request, path: str, *, retries: int = 4,
             progress: bool | None = None) -> Sent:
    """Upload a regular file with one pre-signed PUT."""
    size = regular_file_size(path)
    preflight(request)
    with Progress(f"PUT {os.path.basename(path)}", size, progress) as bar:
        response, md5 = send_file(client, request, path, 0, size, bar, retries=retries)
    etag = (response.headers.get("etag") or "").strip('"') or None
    return Sent(size, etag, md5_etag(response.headers) is not None, _sse_of(response.headers))


def regular_file_size(path: str) -> int:
    """The size of a readable regular file (whose bytes can be read again for a retry)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise TransferError(f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise TransferError(f"{path} is not a regular file; S3 needs the size up front (save it to a file first)")
    if not os.access(path, os.R_OK):
        raise TransferError(f"cannot read {path}: Permission denied")
    return st.st_size


def default_name(url: str) -> str:
    name = unquote(urlsplit(url).path).rstrip("/").rpartition("/")[2]
    if not name or name in (".", ".."):
        raise TransferError("cannot name the file after the URL; give -o FILE")
    return name


class _Sink:
    """Where a download goes: a temporary file beside the destination (renamed
    into place only when complete and checked), or stdout."""

    def __init__(self, dest: str) -> None:
        self.dest = dest
        self.tmp: str | None = None
        if dest == "-":
            self.file: IO[bytes] = sys.stdout.buffer
            return
        directory = os.path.dirname(os.path.abspath(dest))
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", suffix=".s3presign-partial", dir=directory)
        except OSError as exc:
            raise TransferError(f"cannot write in {directory}: {exc.strerror}") from None
        self.file = os.fdopen(fd, "wb")

    def restart(self) -> None:
        if self.tmp is None:
            raise TransferError("the object changed during the download; stdout already has part of it")
        self.file.seek(0)
        self.file.truncate()

    def commit(self) -> None:
        if self.tmp is None:
            self.file.flush()
            return
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        if os.path.isdir(self.dest):
            raise TransferError(f"{self.dest} is a directory")
        os.replace(self.tmp, self.dest)
        self.tmp = None

    def discard(self) -> None:
        if self.tmp is not None:
            self.file.close()
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None


@dataclass
class Received:
    size: int
    etag: str | None
    md5_checked: bool
    sse: str | None
    path: str


def get_file(client: httpx.Client, request: Request, dest: str, *, retries: int = 4,
             progress: bool | None = None) -> Received:
    """Download through a pre-signed GET into ``dest`` ("-": stdout), resuming
    with Range requests after a network failure."""
    preflight(request)
    if dest != "-" and os.path.isdir(dest):
        dest = os.path.join(dest, default_name(request.url))
    sink = _Sink(dest)
    try:
        with Progress(f"GET {os.path.basename(dest) if dest != '-' else 'stdout'}", None, progress) as bar:
            received = _download(client, request, sink, bar, retries)
        sink.commit()
    except BaseException:
        sink.discard()
        raise
    return Received(received[0], received[1], received[2], received[3], dest)


def _download(client: httpx.Client, request: Request, sink: _Sink, bar: Progress,
              retries: int) -> tuple[int, str | None, bool, str | None]:
    backoff = Backoff(retries)
    written, digest = 0, hashlib.md5()
    total: int | None = None
    etag: str | None = None
    response_headers: httpx.Headers | None = None
    while True:
        headers = dict(request.headers)
        if written:
            headers["range"] = f"bytes={written}-"
            if etag:
                headers["if-match"] = f'"{etag}"'
        try:
            with client.stream("GET", request.url, headers=headers) as response:
                status = response.status_code
                if status >= 300:
                    error = S3ResponseError(status, _read_error(response))
                    if status == 412 and written and backoff.again():  # changed since we started: start again
                        sink.restart()
                        bar.advance(-written)
                        written, digest, etag = 0, hashlib.md5(), None
                        continue
                    if error.transient and backoff.again():
                        continue
                    error.hints = diagnose(request, error.error)
                    raise error
                if status == 200 and written:  # the server ignored the Range: start again
                    sink.restart()
                    bar.advance(-written)
                    written, digest = 0, hashlib.md5()
                if status == 206:
                    match = re.match(r"bytes (\d+)-\d+/(\d+)", response.headers.get("content-range", ""))
                    if not match or int(match.group(1)) != written:
                        raise TransferError(f"the server answered a Range request with {response.headers.get('content-range')!r}")
                    total = int(match.group(2))
                else:
                    length = response.headers.get("content-length")
                    total = int(length) if length is not None and length.isdigit() else None
                    etag = (response.headers.get("etag") or "").strip('"') or None
                    response_headers = response.headers
                bar.total(total)
                write = sink.file.write
                for chunk in response.iter_raw(CHUNK):
                    write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    bar.advance(len(chunk))
        except httpx.HTTPError as exc:
            if _transient(exc) and backoff.again():
                continue
            raise _network_error(exc, request, backoff.attempts) from None
        except OSError as exc:
            raise TransferError(f"cannot write {sink.dest}: {exc.strerror or exc}") from None
        if total is not None and written < total:
            if backoff.again():  # the connection ended early: resume
                continue
            raise TransferError(f"short download: {written} of {total} bytes (Content-Length)")
        break
    if total is not None and written != total:
        raise TransferError(f"the download has {written} bytes but Content-Length said {total}")
    assert response_headers is not None
    expected = md5_etag(response_headers)
    if expected is not None and expected != digest.hexdigest():
        raise TransferError(f"the download's MD5 {digest.hexdigest()} is not the ETag {expected}: it is corrupt"
                            + ("" if sink.tmp is None else f"; {sink.dest} was left as it was"))
    return written, etag, expected is not None, _sse_of(response_headers)


# --- multipart upload ---------------------------------------------------------------------------


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM interrupts like Ctrl-C while an upload runs, so it is aborted too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """Let the abort finish: a second Ctrl-C must not leave an upload behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _xml_text(body: bytes, name: str) -> str | None:
    from defusedxml import ElementTree

    try:
        root = ElementTree.fromstring(body)
    except Exception:
        return None
    for element in root.iter():
        if element.tag.rpartition("}")[2] == name:
            return element.text
    return None


def _simple(client: httpx.Client, request: Request, *, retries: int, body: bytes = b"",
            retry_sent: bool = True, ok_codes: tuple[str, ...] = ()) -> httpx.Response:
    """A small request; retried on network errors only if ``retry_sent`` (or it
    never reached the server), and on S3's transient errors."""
    backoff = Backoff(retries)
    while True:
        try:
            response = client.request(request.method, request.url, headers=request.headers, content=body)
        except httpx.HTTPError as exc:
            never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
            if _transient(exc) and (retry_sent or never_sent) and backoff.again():
                continue
            raise _network_error(exc, request, backoff.attempts) from None
        error = parse_error(response.content) if (response.status_code >= 300 or response.content[:200].find(b"<Error") >= 0) else {}
        if response.status_code < 300 and not error:
            return response
        failure = S3ResponseError(response.status_code if response.status_code >= 300 else 500, error)
        if failure.code in ok_codes:
            return response
        if failure.transient and backoff.again():
            continue
        failure.hints = diagnose(request, failure.error)
        raise failure


@dataclass
class Uploaded:
    size: int
    parts: int
    etag: str | None
    md5_checked: bool
    sse: str | None
    upload_id: str


def multipart_upload(
    client: httpx.Client,
    presigner: Any,
    bucket: str,
    key: str,
    path: str,
    *,
    sse: Any = None,
    customer_key: bytes | None = None,
    part_size: int | None = None,
    concurrency: int = 4,
    retries: int = 4,
    progress: bool | None = None,
    on_abort: Callable[[str], None] | None = None,
) -> Uploaded:
    """Upload ``path`` as s3://bucket/key with a multipart upload made only of
    pre-signed requests (core.multipart's plan), parts in parallel; on any failure
    or interruption the upload is aborted, so no parts are left behind."""
    size = regular_file_size(path)
    # signed up front (core.multipart): valid as long as SigV4 allows, so a slow upload never outlives them
    plan = presigner.presign_multipart(bucket, key, size=size, part_size=part_size, sse=sse, expires_in=604800)
    create = Request.from_presigned(plan.create, customer_key)
    preflight(create)
    response = _simple(client, create, retries=retries, retry_sent=False)
    upload_id = _xml_text(response.content, "UploadId")
    if not upload_id:
        raise TransferError("CreateMultipartUpload answered without an UploadId")
    sse_answer = _sse_of(response.headers)
    signer = _RefreshingPlan(presigner, plan.for_upload(upload_id), bucket, key, size, part_size, sse, upload_id)
    signed = signer.plan
    cancel = threading.Event()
    etags: dict[int, str] = {}
    digests: dict[int, bytes] = {}
    md5_parts = sse_answer in (None, "AES256")
    try:
        with _sigterm_as_interrupt(), Progress(f"upload {os.path.basename(path)}", size, progress) as bar:
            def upload_part(part: Any) -> None:
                request = Request.from_presigned(signer.current().parts[part.part_number - 1].request, customer_key)
                response, md5 = send_file(client, request, path, part.offset, part.size, bar, retries=retries,
                                          cancel=cancel, check_md5=md5_parts)
                etag = response.headers.get("etag")
                if not etag:
                    raise TransferError(f"part {part.part_number}: the server answered without an ETag")
                etags[part.part_number] = etag
                digests[part.part_number] = bytes.fromhex(md5)

            with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="s3presign-part") as pool:
                futures: list[Future[None]] = [pool.submit(upload_part, part) for part in signed.parts]
                try:
                    pending = set(futures)
                    while pending:
                        done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                        for future in done:
                            future.result()  # raises the part's failure
                finally:
                    cancel.set()
                    for future in futures:
                        future.cancel()
            body = _complete_body(etags)
            complete = Request.from_presigned(signer.current().complete, customer_key)
            response = _simple(client, complete, retries=retries, body=body)
    except BaseException as exc:
        cancel.set()
        with _no_interrupts():
            aborted = _abort(client, Request.from_presigned(signer.current().abort), retries, upload_id, exc)
        if aborted and isinstance(exc, TransferError):
            exc.hints.append(f"the multipart upload {upload_id} was aborted, nothing left behind")
        elif aborted and on_abort is not None:
            on_abort(upload_id)
        raise
    etag = (_xml_text(response.content, "ETag") or "").strip('"') or None
    md5_checked = False
    if md5_parts and etag and etag.endswith(f"-{len(digests)}"):
        combined = hashlib.md5(b"".join(digests[n] for n in sorted(digests))).hexdigest()
        if etag.split("-")[0].lower() != combined:
            raise TransferError(f"the object's ETag {etag} does not match the parts sent ({combined}-{len(digests)})")
        md5_checked = True
    return Uploaded(size, len(signed.parts), etag, md5_checked, sse_answer, upload_id)


# Temporary credentials this close to their expiry are refreshed before the next request.
REFRESH_MARGIN = 300.0


class _RefreshingPlan:
    """A multipart plan whose URLs are signed again with refreshed credentials when
    the current ones are about to expire (URLs never outlive their credentials, and
    a long upload outlives many)."""

    def __init__(self, presigner: Any, plan: Any, bucket: str, key: str, size: int, part_size: int | None,
                 sse: Any, upload_id: str) -> None:
        self.presigner, self.plan = presigner, plan
        self._args = (bucket, key, size, part_size, sse, upload_id)
        self._lock = threading.Lock()

    def current(self) -> Any:
        creds = self.presigner.credentials
        if not creds.expires_within(REFRESH_MARGIN):
            return self.plan
        with self._lock:
            if self.presigner.credentials.expires_within(REFRESH_MARGIN):
                bucket, key, size, part_size, sse, upload_id = self._args
                presigner = self.presigner.with_credentials(self.presigner.credentials.refresh())
                self.plan = presigner.presign_multipart(bucket, key, size=size, part_size=self.plan.part_size,
                                                        upload_id=upload_id, sse=sse, expires_in=604800)
                self.presigner = presigner
            return self.plan


def _complete_body(etags: Mapping[int, str]) -> bytes:
    from xml.sax.saxutils import escape

    parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(etags[n])}</ETag></Part>" for n in sorted(etags))
    return f'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{parts}</CompleteMultipartUpload>'.encode()


def _abort(client: httpx.Client, abort: Request, retries: int, upload_id: str, cause: BaseException) -> bool:
    """AbortMultipartUpload (idempotent, so retried); NoSuchUpload means already gone."""
    try:
        _simple(client, abort, retries=max(retries, 2), ok_codes=("NoSuchUpload",))
        return True
    except TransferError as exc:
        note = f"; the multipart upload {upload_id} could not be aborted ({exc.message}): abort it with " \
               f"`aws s3api abort-multipart-upload --upload-id {upload_id} ...`"
        if isinstance(cause, TransferError):
            cause.hints.append(note.lstrip("; "))
        else:
            print(f"s3presign: warning: {note.lstrip('; ')}", file=sys.stderr)
        return False
