"""The blob contract (server.blobs) over an S3-compatible bucket (Ceph RGW, MinIO, AWS S3).

Each blob is one object ``<prefix><name>``, ``name`` 32 random hex digits: the
backend sees only ciphertext under opaque names. A writer buffers one part
(``part_size``, 8 MiB by default): a blob that fits is one PutObject; a
larger one streams through the multipart API. ``commit()`` returns once CompleteMultipartUpload (or the
PutObject) has answered success, i.e. once the backend made the object
durable and visible. Reads are ranged GETs.

Requests are signed with the project's own SigV4 (core.sign_headers) and sent
with one pooled httpx client. Small blobs that were read are kept in a bounded
in-memory cache (:class:`BlobCache`, ciphertext only). Connection errors, timeouts and 500/502/503/504
are retried with exponential backoff; when the retries are spent the call
raises :class:`BackendUnavailable`, which the server answers as S3's 503
(clients retry). Any other refusal is a :class:`BlobBackendError`.

Memory, bounded by design: a write holds at most two part buffers (the one filling and
the one uploading), whatever the blob's size, plus one 256 KiB piece of the part on its
way to the socket. The part buffers are anonymous mmaps of ``part_size``, reused for
every part of the write and unmapped when it ends, not malloc'd bytearrays: glibc
raises its mmap threshold to the size of each large block freed, so a fresh 8 MiB
bytearray per part came from (and went back to) the malloc heaps of whichever threads
touched it, and up to twice that threshold per arena stayed resident after the write
(a 1 GiB SSE-KMS PUT to one instance: +49 MB peak RSS over idle with a bytearray per part,
+30 MB with these buffers; docs/DEPLOY.md, *Memory*).
A read holds one 1 MiB piece per stream; the small-blob cache holds ``cache_size``
bytes at most, of blobs up to ``PREFETCH`` only: a large blob never passes through it.
"""

from __future__ import annotations

import base64
import hashlib
import mmap
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import httpx
from defusedxml import ElementTree as SafeET

from s3presign.core.canonical import encode_key, host_header
from s3presign.core.credentials import Credentials, load_profile, profile_region
from s3presign.core.errors import PresignError
from s3presign.core.sign_headers import sign_headers

MiB = 1 << 20
DEFAULT_PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every part but the last
MAX_PARTS = 10000
_READ_PIECE = 1 * MiB
# A request body leaves in copies of this size, made on an upload thread: small enough that
# what each thread's malloc arena keeps after a piece is freed stays small.
_SEND_PIECE = 256 * 1024
PREFETCH = 1 * MiB + 64 * 1024  # blobs up to this size are read whole when opened (objects.SMALL_OBJECT)
_NAME = re.compile(r"[0-9a-f]{32}")
_RETRY_STATUS = frozenset({500, 502, 503, 504})
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class BlobBackendError(OSError):
    """The backend refused a request (status, S3 error code and message as it sent them)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class BackendUnavailable(BlobBackendError):
    """The backend cannot be reached or is overloaded (after retries): answer 503, let clients retry."""


@dataclass(frozen=True)
class S3BlobConfig:
    endpoint: str  # scheme://host[:port], no path
    bucket: str
    credentials: Credentials = field(repr=False)
    prefix: str = ""
    region: str = "us-east-1"
    part_size: int = DEFAULT_PART_SIZE
    addressing_style: str = "path"  # "path" (RGW, MinIO) or "virtual" (bucket.host)
    verify: str | bool = True  # CA bundle path, or False for a self-signed test backend
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    retries: int = 4  # attempts after the first
    backoff: float = 0.1  # seconds before the first retry, doubled each time
    max_connections: int = 32
    cache_size: int = 32 * MiB  # bytes of small blobs kept after a read (0: none)

    def __post_init__(self) -> None:
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
            raise PresignError(
                f"blob endpoint {self.endpoint!r} must look like http(s)://HOST[:PORT]; set --blob-endpoint"
            )
        if not self.bucket:
            raise PresignError("no blob bucket; set --blob-bucket")
        if self.prefix.startswith("/"):
            raise PresignError(f"blob prefix {self.prefix!r} must not start with '/'")
        if not MIN_PART_SIZE <= self.part_size <= 5 * 1024 * MiB:
            raise PresignError(f"blob part size must be between 5 MiB and 5 GiB, got {self.part_size}")
        if self.addressing_style not in ("path", "virtual"):
            raise PresignError("addressing style must be 'path' or 'virtual'")
        if self.cache_size < 0:
            raise PresignError("blob cache size must not be negative")

    @classmethod
    def resolve(
        cls,
        *,
        bucket: str,
        endpoint: str | None = None,
        prefix: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
        environ: Mapping[str, str] | None = None,
        **options: object,
    ) -> "S3BlobConfig":
        """Explicit values first, then as the AWS CLI resolves them: AWS_ENDPOINT_URL_S3,
        AWS_ENDPOINT_URL, the profile's endpoint_url; AWS_REGION, AWS_DEFAULT_REGION, the
        profile's region; the environment's keys, else the profile's; AWS_CA_BUNDLE or the
        profile's ca_bundle for TLS."""
        env = os.environ if environ is None else environ
        try:
            prof = load_profile(profile, env)
        except PresignError:
            if profile is not None:
                raise
            prof = {}
        endpoint = (
            endpoint or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or prof.get("endpoint_url")
        )
        if not endpoint:
            region_ = region or profile_region(profile, env) or "us-east-1"
            endpoint = f"https://s3.{region_}.amazonaws.com"
        if access_key or secret_key:
            creds = Credentials(access_key or "", secret_key or "", session_token)
        else:
            creds = Credentials.resolve(profile, env)
        if "verify" not in options:
            ca = env.get("AWS_CA_BUNDLE") or prof.get("ca_bundle")
            if ca:
                options["verify"] = ca
        return cls(
            endpoint=endpoint.rstrip("/"), bucket=bucket, credentials=creds, prefix=prefix or "",
            region=region or profile_region(profile, env) or "us-east-1", **options,  # type: ignore[arg-type]
        )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(elem, name: str):
    return [c for c in elem if _local(c.tag) == name]


def _text(elem, name: str, default: str = "") -> str:
    for c in elem:
        if _local(c.tag) == name:
            return c.text or ""
    return default


def _parse_error(body: bytes) -> tuple[str | None, str]:
    try:
        root = SafeET.fromstring(body)
    except Exception:  # noqa: BLE001 - a proxy's HTML page, an empty body...
        return None, body[:200].decode("utf-8", "replace")
    return _text(root, "Code") or None, _text(root, "Message")


def _pieces(body: bytes | bytearray | memoryview) -> Iterator[bytes]:
    # copies, so that httpx never holds a view of a part buffer, which must be unmappable
    with memoryview(body) as view:
        for i in range(0, len(view), _SEND_PIECE):
            yield bytes(view[i:i + _SEND_PIECE])


def _iso_epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class BlobCache:
    """Whole small blobs by name, least recently used first out, bounded in bytes.

    Always consistent, on any instance: a blob's name is 128 random bits drawn by its
    writer, the blob is written once (one PutObject or one CompleteMultipartUpload) and
    never changed, and a name is never reused. So the bytes cached under a name are the
    bytes the backend holds under it for as long as it exists; which name a request
    reads still comes from the record read from the database for that request. A blob
    deleted by another instance can be served from here only to a request whose record
    still named it, i.e. one that read the database before the delete committed. Only
    ciphertext is kept, and it is authenticated on every read as a fetched one is."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, name: str, size: int) -> bytes | None:
        with self._lock:
            data = self._items.get(name)
            if data is None or len(data) != size:  # the record's size must match, as from the backend
                return None
            self._items.move_to_end(name)
            return data

    def put(self, name: str, data: bytes) -> None:
        if len(data) > self.capacity:
            return
        with self._lock:
            self._drop(name)
            self._items[name] = data
            self._size += len(data)
            while self._size > self.capacity:
                _, gone = self._items.popitem(last=False)
                self._size -= len(gone)

    def discard(self, name: str) -> None:
        with self._lock:
            self._drop(name)

    def _drop(self, name: str) -> None:  # with the lock held
        old = self._items.pop(name, None)
        if old is not None:
            self._size -= len(old)


class S3BlobStore:
    """Blobs as objects under ``config.prefix`` in ``config.bucket``."""

    def __init__(self, config: S3BlobConfig, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        parts = urlsplit(config.endpoint)
        self._scheme = parts.scheme
        if config.addressing_style == "virtual":
            netloc = f"{config.bucket}.{parts.netloc}"
            self._base_path = ""
        else:
            netloc = parts.netloc
            self._base_path = "/" + encode_key(config.bucket)
        self._netloc = netloc
        self._host = host_header(parts.scheme, netloc)
        self._http = httpx.Client(
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout, pool=config.read_timeout),
            limits=httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections),
            verify=config.verify,
            transport=transport,
            trust_env=False,  # a proxy from the environment must not see the backend's traffic
        )
        self._lock = threading.Lock()
        self._uploader: ThreadPoolExecutor | None = None
        self.cache = BlobCache(config.cache_size) if config.cache_size else None

    def _upload_pool(self) -> ThreadPoolExecutor:
        # Parts go out on worker threads, so the caller fills the next part while one uploads.
        with self._lock:
            if self._uploader is None:
                self._uploader = ThreadPoolExecutor(max(2, self.config.max_connections // 2),
                                                    thread_name_prefix="blob-upload")
            return self._uploader

    # ---------------------------------------------------------------- plumbing
    def key(self, name: str) -> str:
        return self.config.prefix + name

    def _url_path(self, key: str | None) -> str:
        if key is None:
            return self._base_path + "/" if self._base_path else "/"
        return f"{self._base_path}/{encode_key(key)}"

    def _send(
        self,
        method: str,
        key: str | None,
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | bytearray | memoryview = b"",
        *,
        ok: tuple[int, ...] = (200,),
        stream: bool = False,
        what: str = "",
    ) -> httpx.Response:
        """One signed request, retried on connection errors and 5xx; returns the response
        (unread if ``stream``) or raises. 404s are returned when listed in ``ok``."""
        cfg = self.config
        query = query or []
        path = self._url_path(key)
        digest = hashlib.sha256(body).hexdigest()
        url = f"{self._scheme}://{self._netloc}{path}"
        if query:
            from s3presign.core.canonical import encode_query

            url += "?" + encode_query(query)
        delay = cfg.backoff
        last: str = ""
        for attempt in range(cfg.retries + 1):
            if attempt:
                time.sleep(delay)
                delay *= 2
            signed = sign_headers(
                method, self._host, path, query, dict(headers or {}), cfg.credentials, cfg.region,
                payload_sha256=digest,
            )
            if body:
                signed["content-length"] = str(len(body))
            # The body goes out in pieces from a generator: httpx's request/response objects
            # form reference cycles, and a body they held would outlive the call until gc.
            pieces = _pieces(body) if body else None
            try:
                request = self._http.build_request(method, url, headers=signed, content=pieces or b"")
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            finally:
                if pieces is not None:
                    pieces.close()  # releases its view of the body even if the send stopped early
            if response.status_code in ok:
                return response
            if stream:
                response.read()
            response.close()
            code, message = _parse_error(response.content) if method != "HEAD" else (None, "")
            if response.status_code in _RETRY_STATUS:
                last = f"{response.status_code} {code or ''} {message}".strip()
                continue
            raise BlobBackendError(
                f"blob backend refused {what or method} {key or ''}: {response.status_code} {code or ''} {message}".strip(),
                status=response.status_code, code=code,
            )
        raise BackendUnavailable(
            f"blob backend {cfg.endpoint} unavailable for {what or method} after {cfg.retries + 1} attempts: {last}",
            status=503, code="ServiceUnavailable",
        )

    # ---------------------------------------------------------------- contract
    def create(self) -> "S3BlobWriter":
        return S3BlobWriter(self)

    def open(self, name: str, size: int | None = None) -> "S3BlobReader":
        if not _NAME.fullmatch(name):  # a name from the metadata never becomes an arbitrary key
            raise FileNotFoundError(name)
        if size is not None:  # the metadata's size: no HEAD (half the backend requests of a small GET)
            reader = S3BlobReader(self, name, size, None, checked=False)
            if size <= PREFETCH:
                # fetched whole here, on the thread that opens it: the server reads a small object
                # in one go on its event loop, which must not wait for the backend
                cache = self.cache
                data = cache.get(name, size) if cache is not None else None
                if data is None:
                    data = reader._get(0, size, stream=False).content[:size] if size else b""
                    if cache is not None and size:
                        cache.put(name, data)
                reader.data = data
            return reader
        response = self._send("HEAD", self.key(name), ok=(200, 404), what="HeadObject")
        if response.status_code == 404:
            raise FileNotFoundError(name)
        return S3BlobReader(self, name, int(response.headers["content-length"]), response.headers.get("etag"))

    def delete(self, name: str) -> None:
        if self.cache is not None:
            self.cache.discard(name)
        if _NAME.fullmatch(name):
            self._send("DELETE", self.key(name), ok=(200, 204, 404), what="DeleteObject")

    def sweep(self, referenced: Iterable[str] | None, older_than: float) -> int:
        cutoff = time.time() - older_than
        gone = 0
        prefix = self.config.prefix
        # Leftover multipart uploads (a writer that crashed before commit or abort)
        key_marker = upload_marker = ""
        while True:
            q = [("uploads", ""), ("prefix", prefix)]
            if key_marker:
                q += [("key-marker", key_marker), ("upload-id-marker", upload_marker)]
            root = SafeET.fromstring(self._send("GET", None, q, what="ListMultipartUploads").content)
            for up in _children(root, "Upload"):
                key = _text(up, "Key")
                if _NAME.fullmatch(key[len(prefix):]) and key.startswith(prefix) \
                        and _iso_epoch(_text(up, "Initiated")) <= cutoff:
                    self._send("DELETE", key, [("uploadId", _text(up, "UploadId"))], ok=(200, 204, 404),
                               what="AbortMultipartUpload")
                    gone += 1
            if _text(root, "IsTruncated") != "true":
                break
            key_marker, upload_marker = _text(root, "NextKeyMarker"), _text(root, "NextUploadIdMarker")
            if not key_marker:
                break
        if referenced is None:
            return gone
        keep = referenced if isinstance(referenced, (set, frozenset)) else set(referenced)
        token = ""
        while True:
            q = [("list-type", "2"), ("prefix", prefix), ("max-keys", "1000")]
            if token:
                q.append(("continuation-token", token))
            root = SafeET.fromstring(self._send("GET", None, q, what="ListObjectsV2").content)
            doomed = []
            for obj in _children(root, "Contents"):
                key = _text(obj, "Key")
                name = key[len(prefix):]
                if _NAME.fullmatch(name) and name not in keep and _iso_epoch(_text(obj, "LastModified")) <= cutoff:
                    doomed.append(key)
                    if self.cache is not None:
                        self.cache.discard(name)
            gone += self._delete_many(doomed)
            token = _text(root, "NextContinuationToken")
            if _text(root, "IsTruncated") != "true" or not token:
                break
        return gone

    def _delete_many(self, keys: list[str]) -> int:
        """DeleteObjects (quiet): one request per 1000 keys."""
        if not keys:
            return 0
        from s3presign.server.xml import escape

        body = (
            "<Delete><Quiet>true</Quiet>"
            + "".join(f"<Object><Key>{escape(k)}</Key></Object>" for k in keys)
            + "</Delete>"
        ).encode()
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        response = self._send("POST", None, [("delete", "")], {"content-md5": md5, "content-type": "application/xml"},
                              body, what="DeleteObjects")
        errors = _children(SafeET.fromstring(response.content), "Error")
        failed = [e for e in errors if _text(e, "Code") != "NoSuchKey"]
        if failed:
            raise BlobBackendError(
                f"blob backend refused to delete {len(failed)} blob(s): {_text(failed[0], 'Code')} "
                f"{_text(failed[0], 'Message')}", code=_text(failed[0], "Code"),
            )
        return len(keys) - len(failed)

    def names(self) -> Iterator[str]:
        """Every committed blob (for tests and checks)."""
        prefix, token = self.config.prefix, ""
        while True:
            q = [("list-type", "2"), ("prefix", prefix)] + ([("continuation-token", token)] if token else [])
            root = SafeET.fromstring(self._send("GET", None, q, what="ListObjectsV2").content)
            for obj in _children(root, "Contents"):
                name = _text(obj, "Key")[len(prefix):]
                if _NAME.fullmatch(name):
                    yield name
            token = _text(root, "NextContinuationToken")
            if _text(root, "IsTruncated") != "true" or not token:
                return

    def pending_uploads(self) -> list[str]:
        """Keys of multipart uploads in progress under the prefix (for tests and checks)."""
        q = [("uploads", ""), ("prefix", self.config.prefix)]
        root = SafeET.fromstring(self._send("GET", None, q, what="ListMultipartUploads").content)
        return [_text(u, "Key") for u in _children(root, "Upload")]

    def close(self) -> None:
        if self._uploader is not None:
            self._uploader.shutdown(wait=True)
        self._http.close()


class _Part:
    """One part buffer: an anonymous mmap of the part size, outside malloc's heaps (see the
    module's docstring), filled from the start; pages are touched only as bytes arrive."""

    __slots__ = ("mem", "fill")

    def __init__(self, size: int) -> None:
        self.mem = mmap.mmap(-1, size)
        self.fill = 0

    def close(self) -> None:
        self.mem.close()


class S3BlobWriter:
    """Buffers one part; the first full part starts a multipart upload. At most one part is in
    flight (on a worker thread) while the next one fills, and the two buffers are swapped, not
    reallocated: memory stays at two parts for the whole write and is unmapped when it ends."""

    def __init__(self, store: S3BlobStore) -> None:
        self.name = secrets.token_hex(16)
        self._store = store
        self._key = store.key(self.name)
        self._part_size = store.config.part_size
        self._buf: _Part | None = None  # the part filling, mapped at the first byte
        self._spare: _Part | None = None  # the buffer of the last part uploaded, for the next
        self._upload_id: str | None = None
        self._etags: list[str] = []
        self._pending: Future | None = None
        self._pending_part: _Part | None = None
        self._done = False
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._done:
            raise ValueError("blob writer already committed or aborted")
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        self.size += len(view)
        size = self._part_size
        while view:
            buf = self._buf
            if buf is None:
                buf = self._buf = self._spare or _Part(size)
                self._spare = None
            n = min(size - buf.fill, len(view))
            buf.mem[buf.fill:buf.fill + n] = view[:n]
            buf.fill += n
            view = view[n:]
            if buf.fill >= size:
                self._flush_part()

    def _flush_part(self) -> None:
        store = self._store
        if self._upload_id is None:
            response = store._send("POST", self._key, [("uploads", "")], what="CreateMultipartUpload")
            self._upload_id = _text(SafeET.fromstring(response.content), "UploadId")
            if not self._upload_id:
                raise BlobBackendError("blob backend returned no UploadId for CreateMultipartUpload")
        number = len(self._etags) + (2 if self._pending is not None else 1)
        if number > MAX_PARTS:
            raise BlobBackendError(f"blob exceeds {MAX_PARTS} parts of {self._part_size} bytes")
        part, self._buf = self._buf, None
        assert part is not None
        self._wait_pending()
        self._pending_part = part
        self._pending = store._upload_pool().submit(self._upload_part, number, part)

    def _upload_part(self, number: int, part: _Part) -> str:
        with memoryview(part.mem) as whole, whole[:part.fill] as body:
            response = self._store._send(
                "PUT", self._key, [("partNumber", str(number)), ("uploadId", self._upload_id or "")],
                None, body, what="UploadPart",
            )
        etag = response.headers.get("etag")
        if not etag:
            raise BlobBackendError(f"blob backend returned no ETag for part {number}")
        return etag

    def _wait_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            part, self._pending_part = self._pending_part, None
            try:
                self._etags.append(pending.result())
            finally:
                if part is not None:  # uploaded (or given up): its buffer takes the next part
                    part.fill = 0
                    if self._spare is None:
                        self._spare = part
                    else:
                        part.close()

    def _release(self) -> None:
        """Unmap the buffers (the part in flight, if any, has been waited for)."""
        for part in (self._buf, self._spare):
            if part is not None:
                part.close()
        self._buf = self._spare = None

    def commit(self) -> int:
        if self._done:
            raise ValueError("blob writer already committed or aborted")
        store = self._store
        try:
            if self._upload_id is None:
                buf = self._buf
                if buf is None:
                    store._send("PUT", self._key, None, None, b"", what="PutObject")
                else:
                    with memoryview(buf.mem) as whole, whole[:buf.fill] as body:
                        store._send("PUT", self._key, None, None, body, what="PutObject")
            else:
                if self._buf is not None and self._buf.fill:
                    self._flush_part()
                self._wait_pending()
                body = (
                    "<CompleteMultipartUpload>"
                    + "".join(f"<Part><PartNumber>{i}</PartNumber><ETag>{e}</ETag></Part>"
                              for i, e in enumerate(self._etags, 1))
                    + "</CompleteMultipartUpload>"
                ).encode()
                response = store._send("POST", self._key, [("uploadId", self._upload_id)],
                                       {"content-type": "application/xml"}, body, what="CompleteMultipartUpload")
                # S3 may answer 200 and put the failure in the body (the request ran long)
                root = SafeET.fromstring(response.content)
                if _local(root.tag) == "Error":
                    code, message = _text(root, "Code"), _text(root, "Message")
                    if code in ("InternalError", "SlowDown", "ServiceUnavailable"):
                        raise BackendUnavailable(f"CompleteMultipartUpload: {code} {message}", status=503, code=code)
                    raise BlobBackendError(f"CompleteMultipartUpload: {code} {message}", code=code)
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._release()
        return self.size

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            # the part must land before the upload is aborted, or it outlives it
            self._wait_pending()
        except BaseException:  # noqa: BLE001 - the abort below is what matters
            pass
        self._release()
        if self._upload_id is not None:
            upload, self._upload_id = self._upload_id, None
            try:
                self._store._send("DELETE", self._key, [("uploadId", upload)], ok=(200, 204, 404),
                                  what="AbortMultipartUpload")
            except BlobBackendError:
                pass  # sweep() removes uploads left behind


class S3BlobReader:
    def __init__(self, store: S3BlobStore, name: str, size: int, etag: str | None, *, checked: bool = True) -> None:
        self._store = store
        self._name = name
        self._key = store.key(name)
        self.size = size
        self._etag = etag
        self._checked = checked  # False: the size is the metadata's, confirmed by the first GET
        self.data: bytes | None = None  # a small blob's whole bytes, fetched at open
        self._closed = False

    def _get(self, start: int, end: int, *, stream: bool) -> httpx.Response:
        # identity: the bytes are ciphertext, and a decoded body would break the ranges
        headers = {"range": f"bytes={start}-{end - 1}", "accept-encoding": "identity"}
        if self._etag:
            headers["if-match"] = self._etag  # blobs are immutable: anything else is a different blob
        ok = (206, 200) if self._checked else (206, 200, 404, 416)
        response = self._store._send("GET", self._key, None, headers, ok=ok, stream=stream, what="GetObject")
        if not self._checked:
            total = response.headers.get("content-range", "").rpartition("/")[2]
            if response.status_code in (404, 416) or (total.isdigit() and int(total) != self.size) or (
                    response.status_code == 200 and response.headers.get("content-length") != str(self.size)):
                status = response.status_code
                response.close()
                if status == 404:
                    raise FileNotFoundError(self._name)
                raise BlobBackendError(f"blob {self._key} does not hold the {self.size} bytes its record says")
            self._checked = True
        return response

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        if self.data is not None:
            yield self.pread(offset, length)
            self.close()
            return
        end = min(offset + length, self.size)
        stalls = 0
        try:
            while offset < end:
                if stalls > self._store.config.retries:
                    raise BackendUnavailable(f"blob {self._key}: the backend keeps cutting the stream",
                                             status=503, code="ServiceUnavailable")
                response = self._get(offset, end, stream=True)
                start = offset
                try:
                    for chunk in response.iter_raw(_READ_PIECE):
                        if len(chunk) > end - offset:
                            chunk = chunk[: end - offset]
                        offset += len(chunk)
                        yield chunk
                        if offset >= end:
                            break
                except httpx.TransportError:
                    # a broken stream resumes with a new ranged GET from where it stopped;
                    # a backend that is gone makes that GET raise BackendUnavailable
                    stalls = 0 if offset > start else stalls + 1
                    continue
                finally:
                    response.close()
                if offset < end:
                    raise BlobBackendError(f"blob {self._key} ended at {offset}, expected {end} bytes")
        finally:
            self.close()

    def pread(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        if self.data is not None:
            return self.data[offset:end]
        return self._get(offset, end, stream=False).content[: end - offset]

    def close(self) -> None:
        self._closed = True
        self.data = None
