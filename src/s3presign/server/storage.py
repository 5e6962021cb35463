"""Where objects live: the backend contract the handlers use, and its one
implementation over a metadata database (server.metadata) and a blob store
(server.blobs).

Bytes and meaning are kept apart. A blob holds ciphertext only and is named
by the blob store; a *record* (a row of the metadata) says which bucket, key
and version it is, its size, ETag, checksums, headers, encryption envelope and
which blobs hold its bytes, in order. Keys are rows, never paths.

Crash safety (the protocol; docs/ARCHITECTURE.md "Storage"):

1. the bytes go into a new blob, which ``commit()`` makes durable;
2. ONE metadata transaction makes the version (or part, or completed upload)
   visible, and unlinks whatever it replaces;
3. only after that commit are the replaced blobs deleted.

A crash before 2 leaves an unreferenced blob, a crash between 2 and 3 leaves
replaced blobs; start-up (:meth:`Storage.recover`) deletes every blob no record
references, whatever its age, and every partial write. Nothing else is ever
half-done: the old state or the new one is visible, never a mix.

Nothing read back is trusted: every record carries an HMAC (a key derived
from the master key) over its bytes, bound to bucket, key and version id, so a
changed size, ETag, envelope or blob list is detected before anything is served;
the blob sizes are checked against the record when opened, and the bytes
themselves are authenticated by the encryption (server.sio). A record that
fails its MAC stays listed and deletable, and is logged once.

The contract's calls are blocking and thread-safe; :class:`AsyncStorage` is
what handlers await (reads of a local database run inline, everything else on
a worker thread).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Union

from s3presign.core.s3errors import S3Error
from s3presign.server.blobs import BlobReader, BlobStore
from s3presign.server.metadata import Metadata, Row, SQLite

log = logging.getLogger("s3presign.storage")

NULL = "null"  # the version id of a version written while versioning was off or suspended
ENABLED, SUSPENDED = "Enabled", "Suspended"
EAGER_BLOBS = 256  # objects with more blobs than this open them as the read reaches them
_FINISHED_UPLOAD_TTL = 86400.0  # a completed upload answers a repeated Complete this long
_VERIFIED_CACHE = 8192
# A version record is "~" + its listing summary line + "\n" + its JSON, all under
# one MAC, so a listing authenticates a row with one HMAC and splits one line.
_SUMMARY = "~"


# Fault injection for the crash tests: the process kills itself (SIGKILL) at this
# point of the protocol when it writes a key containing "crash". Unset: no effect.
_CRASH_AT = os.environ.get("S3PRESIGN_CRASH_AT", "")


def crashpoint(point: str, key: str) -> None:
    if _CRASH_AT == point and "crash" in key:
        os.kill(os.getpid(), signal.SIGKILL)


class IntegrityError(ValueError):
    """A record or blob that is not what the writer stored."""


@dataclass(slots=True)
class ObjectMeta:
    """One version of an object, or a staged part, or a delete marker."""

    key: str
    size: int  # plaintext size
    etag: str  # without quotes
    last_modified: float
    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)  # Content-Disposition, ...
    user_meta: dict[str, str] = field(default_factory=dict)  # x-amz-meta-*, names lower-case
    envelope: dict[str, Any] = field(default_factory=dict)  # encryption (server.encryption)
    # {"algorithm": "CRC32", "value": base64}; a multipart object's also has "type"
    # (COMPOSITE or FULL_OBJECT) and "parts" (each part's value, in order)
    checksum: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # storage class, part number, ...
    blobs: list[list[Any]] = field(default_factory=list)  # [[blob name, stored size], ...] in order
    version_id: str = NULL
    delete_marker: bool = False
    latest: bool = True
    corrupt: bool = False  # failed authentication: listed and deletable, never served

    _STORED = ("size", "etag", "last_modified", "content_type", "headers", "user_meta", "envelope",
               "checksum", "extra", "blobs", "delete_marker")

    def record(self) -> str:
        return json.dumps({n: getattr(self, n) for n in self._STORED}, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_record(cls, key: str, version_id: str, text: str) -> "ObjectMeta":
        if text.startswith(_SUMMARY):  # the listing line comes first (Storage._sealed)
            text = text[text.index("\n") + 1:]
        return cls(key=key, version_id=version_id, **json.loads(text))

    def summary(self) -> str | None:
        """What a listing shows of this version, as one tab-separated line (None
        if a field could hold a separator: then listings parse the JSON)."""
        fields = (str(self.size), self.etag, repr(self.last_modified),
                  self.checksum["algorithm"] if self.checksum else "",
                  self.extra.get("storage_class", ""), "1" if self.delete_marker else "")
        if any("\t" in f or "\n" in f for f in fields):
            return None
        return "\t".join(fields)

    @property
    def stored_size(self) -> int:
        return sum(size for _, size in self.blobs)


@dataclass(slots=True)
class BucketInfo:
    name: str
    created: float
    region: str
    config: dict[str, Any] = field(default_factory=dict)
    versioning: str = ""  # "", Enabled or Suspended
    stored: str = ""  # the config's text as read: a cache key for what is derived from it


@dataclass(slots=True)
class Upload:
    """What CreateMultipartUpload fixed for the object the upload will become."""

    upload_id: str
    key: str
    initiated: float
    envelope: dict[str, Any]  # server.encryption: sealed keys, no data nonce used
    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    owner: tuple[str, str] = ("", "")
    checksum_algorithm: str | None = None
    checksum_type: str | None = None  # COMPOSITE or FULL_OBJECT, with checksum_algorithm
    result: dict[str, Any] | None = None  # once completed: {"etag", "version_id", "checksum"}

    def record(self) -> str:
        fields = {n: getattr(self, n) for n in self.__slots__ if n not in ("upload_id", "key")}  # type: ignore[attr-defined]
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_record(cls, upload_id: str, key: str, text: str) -> "Upload":
        fields = json.loads(text)
        fields["owner"] = tuple(fields.get("owner") or ("", ""))
        return cls(upload_id=upload_id, key=key, **fields)


def new_upload_id() -> str:
    return secrets.token_hex(32)


def new_version_id() -> str:
    """32 URL-safe characters, like S3's."""
    return secrets.token_urlsafe(24)


def valid_version_id(text: str) -> bool:
    return text == NULL or (len(text) == 32 and all(c.isascii() and (c.isalnum() or c in "-_") for c in text))


def upper_bound(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (None: no bound)."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:
                nxt = 0xE000
            return "".join(chars) + chr(nxt)
    return None


@dataclass(slots=True)
class Listed:
    """What a listing shows of one version (authenticated, never served as bytes)."""

    key: str
    version_id: str
    latest: bool
    size: int
    etag: str
    last_modified: float
    checksum_algorithm: str  # "" when none was stored
    storage_class: str  # "" for STANDARD
    delete_marker: bool
    corrupt: bool = False

    @classmethod
    def of(cls, meta: ObjectMeta) -> "Listed":
        return cls(meta.key, meta.version_id, meta.latest, meta.size, meta.etag, meta.last_modified,
                   meta.checksum["algorithm"] if meta.checksum else "", meta.extra.get("storage_class", ""),
                   meta.delete_marker, meta.corrupt)


Entry = Union[Listed, str]  # a listed version, or a common prefix


class StoredObject:
    """An open version: its record and its stored bytes (the concatenation of its blobs)."""

    __slots__ = ("meta", "stored_size", "versioned", "_blobs", "_readers")

    def __init__(self, meta: ObjectMeta, blobs: BlobStore) -> None:
        self.meta = meta
        self.versioned = False  # the bucket has had versioning (set by Storage.open)
        self.stored_size = meta.stored_size
        self._blobs = blobs
        blobs_of = meta.blobs
        if len(blobs_of) == 1:  # the common case, without the loop and the method calls
            name, size = blobs_of[0]
            reader = blobs.open(name, size)
            if reader.size != size:
                reader.close()
                raise IntegrityError(f"blob {name} holds {reader.size} bytes, its record says {size}")
            self._readers: list[BlobReader | None] = [reader]
            return
        self._readers = [None] * len(blobs_of)
        if len(blobs_of) <= EAGER_BLOBS:  # a version replaced meanwhile keeps being readable
            try:
                for i in range(len(blobs_of)):
                    self._open(i)
            except BaseException:
                self.close()
                raise

    def _open(self, i: int) -> BlobReader:
        reader = self._readers[i]
        if reader is None:
            name, size = self.meta.blobs[i]
            reader = self._blobs.open(name, size)
            if reader.size != size:
                reader.close()
                raise IntegrityError(f"blob {name} holds {reader.size} bytes, its record says {size}")
            self._readers[i] = reader
        return reader

    def _spans(self, offset: int, length: int) -> Iterator[tuple[int, int, int]]:
        """(blob index, offset in it, length) covering stored bytes [offset, offset+length)."""
        start, end = offset, offset + length
        base = 0
        for i, (_, size) in enumerate(self.meta.blobs):
            lo, hi = max(start, base), min(end, base + size)
            if lo < hi:
                yield i, lo - base, hi - lo
            base += size
            if base >= end:
                break

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        """The stored bytes [offset, offset+length), in large reads; closes when done."""
        try:
            for i, local, n in self._spans(offset, length):
                yield from self._open(i).read(local, n)
                self._readers[i] = None  # read() closed it
        finally:
            self.close()

    def pread(self, offset: int, length: int) -> bytes:
        """The stored bytes [offset, offset+length) in one go (small objects); closes."""
        readers = self._readers
        if len(readers) == 1:  # the common case, without the span machinery
            reader = readers[0] or self._open(0)
            try:
                return reader.pread(offset, length)
            finally:
                readers[0] = None
                reader.close()
        try:
            return b"".join(self._open(i).pread(local, n) for i, local, n in self._spans(offset, length))
        finally:
            self.close()

    def close(self) -> None:
        for i, reader in enumerate(self._readers):
            if reader is not None:
                reader.close()
                self._readers[i] = None


def _missing_version(bucket: str, key: str, version_id: str | None) -> S3Error:
    if version_id is None:
        return S3Error("NoSuchKey", elements={"Key": key})
    return S3Error("NoSuchVersion", elements={"Key": key, "VersionId": version_id})


def _delete_marker_error(meta: ObjectMeta, asked: str | None) -> S3Error:
    """S3: the current version is a delete marker (404), or a delete marker was asked for (405)."""
    if asked is None:
        err = S3Error("NoSuchKey", elements={"Key": meta.key})
    else:
        err = S3Error("MethodNotAllowed", elements={"Method": "GET", "ResourceType": "DeleteMarker"})
    err.headers = {"x-amz-delete-marker": "true", "x-amz-version-id": meta.version_id}  # type: ignore[attr-defined]
    if asked is not None:
        err.headers["allow"] = "DELETE"  # type: ignore[attr-defined]
    return err


class Storage:
    """The backend contract, over a Metadata database and any BlobStore."""

    def __init__(self, meta: Metadata, blobs: BlobStore, record_key: bytes) -> None:
        self.meta = meta
        self.blobs = blobs
        self.inline_reads = meta.dialect.inline_reads
        self._key = record_key
        self._verified: dict[str, tuple[str, str, str, str, ObjectMeta]] = {}
        self._infos: dict[tuple, BucketInfo] = {}
        self._lookups: dict[tuple[str, str], tuple[Any, BucketInfo, ObjectMeta | None]] = {}
        self._reported: set[tuple[str, str, str]] = set()

    # --- records ------------------------------------------------------------------------
    def _mac(self, kind: str, bucket: str, name: str, version: str, record: str) -> str:
        # kind, bucket and version never hold a newline; the key is length-prefixed
        bound = f"{kind}\n{bucket}\n{version}\n{len(name)}\n{name}\n{record}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, bound, hashlib.sha256).hexdigest()

    def _check(self, kind: str, bucket: str, name: str, version: str, record: str, mac: str) -> bool:
        return hmac.compare_digest(self._mac(kind, bucket, name, version, record).encode(), mac.encode())

    def _report(self, kind: str, bucket: str, name: str, version: str) -> None:
        what = (bucket, name, version)
        if what not in self._reported:
            self._reported.add(what)
            log.error("corrupt %s record: bucket %r key %r version %r (listed and deletable, never served)",
                      kind, bucket, name, version)

    def _version(self, bucket: str, row: Row) -> ObjectMeta:
        """The authenticated record of a versions row (a corrupt one is flagged, not raised)."""
        key, version_id, latest, record, mac = row[1:6]
        hit = self._verified.get(mac)
        if hit is not None and hit[0] == bucket and hit[1] == key and hit[2] == version_id and hit[3] == record:
            meta = hit[4]
            if meta.latest != bool(latest):
                meta.latest = bool(latest)
            return meta
        try:
            if not self._check("v", bucket, key, version_id, record, mac):
                raise IntegrityError("record MAC")
            meta = ObjectMeta.from_record(key, version_id, record)
        except (ValueError, TypeError):
            self._report("object", bucket, key, version_id)
            return ObjectMeta(key=key, size=0, etag="", last_modified=0.0, version_id=version_id,
                              latest=bool(latest), delete_marker=latest == 2, corrupt=True)
        meta.latest = bool(latest)
        if len(self._verified) >= _VERIFIED_CACHE:
            self._verified.clear()
        self._verified[mac] = (bucket, key, version_id, record, meta)
        return meta

    def _sealed(self, bucket: str, meta: ObjectMeta) -> tuple[str, str, str]:
        record = meta.record()
        summary = meta.summary()
        if summary is not None:
            record = f"{_SUMMARY}{summary}\n{record}"
        return record, self._mac("v", bucket, meta.key, meta.version_id, record), " ".join(b[0] for b in meta.blobs)

    def _drop(self, names: list[str]) -> None:
        """Delete replaced blobs (after the metadata commit: a crash here only leaves garbage)."""
        for name in names:
            try:
                self.blobs.delete(name)
            except OSError:
                log.warning("could not delete blob %s now; start-up will", name)

    # --- start-up -----------------------------------------------------------------------
    def recover(self, older_than: float = 0.0) -> int:
        """Delete every blob no record references and every partial write; forget
        finished uploads past their time. Run once, before serving."""
        with self.meta.tx() as t:
            self.meta.forget_finished_uploads(t, time.time() - _FINISHED_UPLOAD_TTL)
        referenced = set(self.meta.all_version_blobs())
        referenced.update(self.meta.all_part_blobs())
        gone = self.blobs.sweep(referenced, older_than)
        if gone:
            log.warning("start-up removed %d unreferenced blob(s) left by an interrupted write", gone)
        return gone

    def collect(self, holder: str, grace: float, lease: float) -> int | None:
        """Garbage collection shared by many instances: only the holder of the ``gc``
        lease in the database sweeps, and only blobs older than ``grace`` seconds (a
        blob another instance is writing, or has committed but not yet referenced, is
        younger than that). None when another instance holds the lease."""
        if not self.meta.lease("gc", holder, lease):
            return None
        return self.recover(older_than=grace)

    # --- buckets -----------------------------------------------------------------------
    @staticmethod
    def _bucket_info(row: Row) -> BucketInfo:
        return BucketInfo(row[0], row[1], row[2], json.loads(row[4]), row[3], row[4])

    def list_buckets(self) -> list[BucketInfo]:
        return [self._bucket_info(r) for r in self.meta.buckets()]

    def create_bucket(self, name: str, region: str, config: Mapping[str, Any] | None = None) -> bool:
        """False if the bucket already exists. ``config``: its settings, written with it
        (a crash never leaves a bucket without the settings it was created with)."""
        with self.meta.tx() as t:
            return self.meta.insert_bucket(t, name, time.time(), region, json.dumps(dict(config or {})))

    def bucket(self, name: str) -> BucketInfo:
        row = self.meta.bucket(name)
        if row is None:
            raise S3Error("NoSuchBucket", elements={"BucketName": name})
        return self._bucket_info(row)

    def _locked_bucket(self, t: Any, name: str) -> BucketInfo:
        row = self.meta.bucket(name, t)
        if row is None:
            raise S3Error("NoSuchBucket", elements={"BucketName": name})
        return self._bucket_info(row)

    def set_bucket_config(self, name: str, item: str, value: Any) -> None:
        """Set (or, with None, remove) one configuration item."""
        with self.meta.tx() as t:
            info = self._locked_bucket(t, name)
            if value is None:
                info.config.pop(item, None)
            else:
                info.config[item] = value
            self.meta.update_bucket(t, name, info.versioning, json.dumps(info.config))

    def set_versioning(self, name: str, status: str) -> None:
        with self.meta.tx() as t:
            info = self._locked_bucket(t, name)
            self.meta.update_bucket(t, name, status, json.dumps(info.config))

    def delete_bucket(self, name: str) -> None:
        with self.meta.tx() as t:
            self._locked_bucket(t, name)
            if self.meta.bucket_has_versions(t, name):
                raise S3Error("BucketNotEmpty", elements={"BucketName": name})
            doomed = [b for blobs in self.meta.delete_bucket(t, name) for b in blobs.split()]
        self._drop(doomed)

    # --- objects -----------------------------------------------------------------------
    def new_blob(self) -> Any:
        return self.blobs.create()

    def discard(self, blobs: list[list[Any]]) -> None:
        """Delete committed blobs that will never be referenced."""
        self._drop([b[0] for b in blobs])

    def put(self, bucket: str, meta: ObjectMeta) -> ObjectMeta:
        """Make ``meta`` (its blobs committed) the key's current version, in one transaction.
        On failure the blobs are deleted: they were never visible."""
        try:
            with self.meta.tx() as t:
                doomed = self._put(t, bucket, meta)
                crashpoint("tx-open", meta.key)
        except BaseException:
            self._drop([b[0] for b in meta.blobs])
            raise
        crashpoint("tx-done", meta.key)
        self._drop(doomed)
        return meta

    def _put(self, t: Any, bucket: str, meta: ObjectMeta) -> list[str]:
        info = self._locked_bucket(t, bucket)
        meta.version_id = new_version_id() if info.versioning == ENABLED else NULL
        meta.latest = True
        doomed = self._remove_null(t, bucket, meta.key) if meta.version_id == NULL else []
        record, mac, names = self._sealed(bucket, meta)
        self.meta.insert_version(t, bucket, meta.key, meta.version_id, meta.delete_marker, record, mac, names)
        return doomed

    def _remove_null(self, t: Any, bucket: str, key: str) -> list[str]:
        """Remove the key's null version (replaced by a new one); its blob names."""
        row = self.meta.version(bucket, key, NULL, t)
        if row is None:
            return []
        self.meta.delete_version(t, row[0])
        return row[6].split()

    def _read(self, bucket: str, key: str, version_id: str | None) -> tuple[ObjectMeta, bool]:
        """The authenticated record of the current version (or of ``version_id``), and
        whether the bucket has had versioning."""
        row = self.meta.current(bucket, key) if version_id is None else self.meta.version(bucket, key, version_id)
        if row is None:
            self.bucket(bucket)  # NoSuchBucket first
            raise _missing_version(bucket, key, version_id)
        return self._servable(bucket, row, version_id), bool(row[7])

    def _servable(self, bucket: str, row: Row, version_id: str | None) -> ObjectMeta:
        """The authenticated record of a row a read or an update names: S3's error for a
        corrupt one or a delete marker."""
        meta = self._version(bucket, row)
        if meta.corrupt:
            raise S3Error("InternalError")
        if meta.delete_marker:
            raise _delete_marker_error(meta, version_id)
        return meta

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectMeta:
        """The authenticated record of the current version (or of ``version_id``)."""
        return self._read(bucket, key, version_id)[0]

    def update_extra(self, bucket: str, key: str, version_id: str | None,
                     changes: Mapping[str, Any]) -> ObjectMeta:
        """Set (None: remove) items of one version's ``extra`` (its ACL, its tags), in one
        transaction: the record is authenticated before the change and sealed again
        after it, so a concurrent write to the key either precedes or follows it whole.
        The current version when ``version_id`` is None; errors as :meth:`head`."""
        with self.meta.tx() as t:
            self._locked_bucket(t, bucket)
            row = (self.meta.version(bucket, key, version_id, t) if version_id is not None
                   else self.meta.current(bucket, key, t))
            if row is None:
                raise _missing_version(bucket, key, version_id)
            meta = self._servable(bucket, row, version_id)
            extra = dict(meta.extra)
            for name, value in changes.items():
                if value is None:
                    extra.pop(name, None)
                else:
                    extra[name] = value
            updated = replace(meta, extra=extra)
            record, mac, _ = self._sealed(bucket, updated)
            self.meta.update_record(t, row[0], record, mac)
            crashpoint("tx-open", key)
        return updated
    def lookup(self, bucket: str, key: str) -> tuple[BucketInfo, ObjectMeta | None]:
        """The bucket and the key's current version, in one read (a GET's authorization
        and its handler share it). None when there is no servable current version:
        :meth:`open` then gives S3's error for it."""
        # Kept while the database is unchanged (any commit of any process changes the
        # token, which is taken before the read): a repeated GET skips the query and
        # the record's authentication.
        token = self.meta.data_version()
        if token is not None:
            hit = self._lookups.get((bucket, key))
            if hit is not None and hit[0] == token:
                return hit[1], hit[2]
        row = self.meta.bucket_and_current(bucket, key)
        if row is None:
            raise S3Error("NoSuchBucket", elements={"BucketName": bucket})
        # Parsed once per distinct bucket row (the row is read each time, so never stale);
        # shared between requests, so its callers only read it.
        settings = (row[0], row[1], row[2], row[3], row[4])
        info = self._infos.get(settings)
        if info is None:
            if len(self._infos) >= _VERIFIED_CACHE:
                self._infos.clear()
            info = self._infos[settings] = self._bucket_info(row)
        meta = None
        if row[5] is not None:
            meta = self._version(bucket, row[5:])
            if meta.corrupt or meta.delete_marker:
                meta = None
        if token is not None:
            if len(self._lookups) >= _VERIFIED_CACHE:
                self._lookups.clear()
            self._lookups[(bucket, key)] = (token, info, meta)
        return info, meta

    def open_version(self, bucket: str, key: str, meta: ObjectMeta, versioned: bool) -> StoredObject:
        """Open the version :meth:`lookup` returned (read again if it was replaced and
        deleted meanwhile, as :meth:`open` does); ``versioned``: the bucket has had
        versioning (its BucketInfo.versioning from the same read)."""
        try:
            obj = StoredObject(meta, self.blobs)
            obj.versioned = versioned
            return obj
        except FileNotFoundError:
            return self.open(bucket, key)
        except IntegrityError:
            self._report("object", bucket, key, meta.version_id)
            raise S3Error("InternalError") from None

    def open_cached(self, meta: ObjectMeta, versioned: bool) -> StoredObject | None:
        """:meth:`open_version` when opening needs no I/O, else None: a blob store that
        keeps small blobs whole in memory (S3BlobStore.cache) holds every blob of the
        version, so its open() only copies a reference. For the event loop: a cached
        small GET then takes no thread hand-off. A blob evicted by another thread
        between the check and the open is fetched by that open, correct but on the
        caller's thread; the check makes it the most recently used, so other threads
        would have to put nearly a whole cache's worth of blobs in that instant."""
        cache = getattr(self.blobs, "cache", None)
        if cache is None or len(meta.blobs) > EAGER_BLOBS:
            return None
        for name, size in meta.blobs:
            if size and cache.get(name, size) is None:
                return None
        try:
            obj = StoredObject(meta, self.blobs)
        except (FileNotFoundError, IntegrityError):
            return None  # the caller's open_version takes it from here
        obj.versioned = versioned
        return obj

    def open(self, bucket: str, key: str, version_id: str | None = None) -> StoredObject:
        """The version, open for reading; ``versioned`` says whether S3 would name its
        version id in the answer (always, once the bucket has had versioning)."""
        for _ in range(3):
            meta, versioned = self._read(bucket, key, version_id)
            try:
                obj = StoredObject(meta, self.blobs)
                obj.versioned = versioned
                return obj
            except FileNotFoundError:
                continue  # replaced and deleted between the two reads: read the record again
            except IntegrityError:
                self._report("object", bucket, key, meta.version_id)
                raise S3Error("InternalError") from None
        raise S3Error("InternalError")

    def delete(self, bucket: str, key: str, version_id: str | None = None) -> tuple[str | None, bool]:
        """S3's DeleteObject: (version id to report, whether it is/was a delete marker)."""
        with self.meta.tx() as t:
            info = self._locked_bucket(t, bucket)
            if version_id is not None:
                row = self.meta.version(bucket, key, version_id, t)
                if row is None:
                    return version_id, False
                self.meta.delete_version(t, row[0])
                if row[3]:
                    self.meta.promote_newest(t, bucket, key)
                doomed, result = row[6].split(), (version_id, row[3] == 2 or '"delete_marker":true' in row[4])
            elif info.versioning == "":
                doomed = self._remove_null(t, bucket, key)
                result = (None, False)
            else:
                doomed = self._remove_null(t, bucket, key) if info.versioning == SUSPENDED else []
                marker = ObjectMeta(key=key, size=0, etag="", last_modified=time.time(), delete_marker=True)
                doomed += self._put(t, bucket, marker)
                result = (marker.version_id, True)
            crashpoint("tx-open", key)
        crashpoint("tx-done", key)
        self._drop(doomed)
        return result

    def _listing_mac(self, bucket: str) -> Any:
        """An HMAC state past the part of the bound text that is the same for every
        row of a bucket (``_mac``'s layout): a row then costs one copy and one update."""
        base = hmac.new(self._key, f"v\n{bucket}\n".encode("utf-8", "surrogatepass"), hashlib.sha256)
        return getattr(base, "_hmac", base)  # the C object when there is one: same calls, less overhead

    def _listed(self, bucket: str, row: Row, base: Any) -> Listed:
        """A listing row (id, key, version id, latest, record, mac), authenticated:
        one HMAC over the record, then its summary line; anything else (an older
        record without one, a failed MAC) takes the full path, which flags it."""
        _, key, version_id, latest, record, mac = row
        try:
            h = base.copy()
            h.update(f"{version_id}\n{len(key)}\n{key}\n{record}".encode("utf-8", "surrogatepass"))
            if record.startswith(_SUMMARY) and hmac.compare_digest(h.hexdigest(), mac):
                size, etag, modified, algorithm, storage_class, marker = record[1:record.index("\n")].split("\t")
                return Listed(key, version_id, latest != 0, int(size), etag, float(modified), algorithm,
                              storage_class, marker == "1")
        except (ValueError, TypeError, AttributeError):  # not text, not ASCII, not a summary
            pass
        return Listed.of(self._version(bucket, (row[0], key, version_id, latest, record, mac, "")))

    def _page(self, bucket: str, fetch: Callable[[str, int | None, bool, int], list[Row]], prefix: str,
              delimiter: str, marker: str, cursor: str, below: int | None, inclusive: bool,
              limit: int) -> tuple[list[Entry], tuple[str, str] | None]:
        """The paging loop of both listings: entries (versions, and common prefixes
        after ``marker``) from the index position (cursor, below, inclusive) on, and
        (name, version id) of the last one if more follow. ``fetch(cursor, below,
        inclusive, n)`` reads the next n rows in order; each common prefix costs one
        more index seek, past every key under it."""
        entries: list[Entry] = []
        last: tuple[str, str] | None = None
        start = len(prefix)
        listed, base = self._listed, self._listing_mac(bucket)
        while True:
            want = limit - len(entries) + 1
            rows = fetch(cursor, below, inclusive, want)
            jumped = False
            for row in rows:
                key = row[1]
                cut = key.find(delimiter, start) if delimiter else -1
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if common > marker:
                        if len(entries) == limit:
                            return entries, last
                        entries.append(common)
                        last = (common, "")
                    nxt = upper_bound(common)
                    if nxt is None:
                        return entries, None
                    cursor, inclusive, below, jumped = nxt, True, None, True
                    break
                if len(entries) == limit:
                    return entries, last
                entries.append(listed(bucket, row, base))
                last = (key, row[2])
                cursor, below, inclusive = key, row[0], False
            if not jumped and len(rows) < want:
                return entries, None

    def list_objects(self, bucket: str, prefix: str, delimiter: str, after: str,
                     limit: int) -> tuple[list[Entry], str | None]:
        """One page of current versions and common prefixes after ``after``; the last
        entry's name if more follow."""
        self.bucket(bucket)
        upper = upper_bound(prefix)

        def fetch(cursor: str, below: int | None, inclusive: bool, n: int) -> list[Row]:
            return self.meta.list_current(bucket, cursor, upper, n, inclusive)

        cursor, inclusive = (prefix, True) if prefix > after else (after, False)
        entries, last = self._page(bucket, fetch, prefix, delimiter, after, cursor, None, inclusive, limit)
        return entries, (last[0] if last is not None else None)

    def list_versions(self, bucket: str, prefix: str, delimiter: str, key_marker: str, version_marker: str,
                      limit: int) -> tuple[list[Entry], tuple[str, str] | None]:
        """One page of ListObjectVersions; (next key marker, next version id marker) if truncated."""
        self.bucket(bucket)
        upper = upper_bound(prefix)

        def fetch(cursor: str, below: int | None, inclusive: bool, n: int) -> list[Row]:
            return self.meta.list_versions(bucket, cursor, below, upper, n, inclusive)

        below: int | None = None
        if key_marker and version_marker:
            if version_marker != NULL and not valid_version_id(version_marker):
                raise S3Error("InvalidVersionId")
            row = self.meta.version(bucket, key_marker, version_marker)
            if row is not None:
                below = row[0]
        if prefix > key_marker:
            return self._page(bucket, fetch, prefix, delimiter, key_marker, prefix, None, True, limit)
        return self._page(bucket, fetch, prefix, delimiter, key_marker, key_marker, below, False, limit)

    # --- multipart uploads ----------------------------------------------------------------
    def _upload(self, bucket: str, row: Row | None, upload_id: str, key: str | None) -> Upload:
        if row is None or (key is not None and row[1] != key):
            raise S3Error("NoSuchUpload", elements={"UploadId": upload_id})
        if not self._check("u", bucket, row[1], row[0], row[4], row[5]):
            self._report("upload", bucket, row[1], row[0])
            raise S3Error("InternalError")
        return Upload.from_record(row[0], row[1], row[4])

    def create_upload(self, bucket: str, upload: Upload) -> None:
        record = upload.record()
        with self.meta.tx() as t:
            self._locked_bucket(t, bucket)
            self.meta.insert_upload(t, upload.upload_id, bucket, upload.key, upload.initiated, record,
                                    self._mac("u", bucket, upload.key, upload.upload_id, record))

    def get_upload(self, bucket: str, upload_id: str, key: str, *, finished: bool = False) -> Upload:
        """The upload in progress (or, with ``finished``, also one completed recently)."""
        row = self.meta.upload(bucket, upload_id)
        if row is None:
            self.bucket(bucket)
        upload = self._upload(bucket, row, upload_id, key)
        if upload.result is not None and not finished:
            raise S3Error("NoSuchUpload", elements={"UploadId": upload_id})
        return upload

    def _part(self, upload_id: str, row: Row) -> ObjectMeta:
        number, record, mac, _ = row
        if not self._check("p", upload_id, str(number), "", record, mac):
            self._report("part", upload_id, str(number), "")
            raise S3Error("InternalError")
        return ObjectMeta.from_record("", NULL, record)

    def put_part(self, bucket: str, upload_id: str, number: int, part: ObjectMeta) -> None:
        """Stage a part (its blob committed); a re-sent part replaces the earlier one."""
        record = part.record()
        try:
            with self.meta.tx() as t:
                row = self.meta.upload(bucket, upload_id, t)
                if row is None or row[3] != 0:
                    raise S3Error("NoSuchUpload", elements={"UploadId": upload_id})
                old = self.meta.part(t, upload_id, number)
                self.meta.upsert_part(t, upload_id, number, record, self._mac("p", upload_id, str(number), "", record),
                                      " ".join(b[0] for b in part.blobs))
        except BaseException:
            self._drop([b[0] for b in part.blobs])
            raise
        if old is not None:
            self._drop(old[3].split())

    def list_parts(self, upload_id: str, after: int, limit: int) -> list[tuple[int, ObjectMeta]]:
        return [(row[0], self._part(upload_id, row)) for row in self.meta.parts(upload_id, after, limit)]

    def complete_upload(self, bucket: str, upload_id: str, key: str,
                        assemble: Callable[[Upload, dict[int, ObjectMeta]], tuple[list[int], ObjectMeta]],
                        ) -> tuple[Upload, ObjectMeta | None]:
        """Publish the object ``assemble`` describes over the staged parts' blobs: one
        metadata transaction, no byte copied, so it takes as long for 5 TiB as for 5 MiB.
        An upload completed before answers with its stored result (object None)."""
        with self.meta.tx() as t:
            row = self.meta.upload(bucket, upload_id, t)
            if row is None:
                self._locked_bucket(t, bucket)
            upload = self._upload(bucket, row, upload_id, key)
            if upload.result is not None:
                return upload, None
            staged = {r[0]: self._part(upload_id, r) for r in self.meta.parts(upload_id, t=t)}
            numbers, meta = assemble(upload, staged)
            chosen = set(numbers)
            meta.blobs = [blob for n in numbers for blob in staged[n].blobs]
            doomed = [b[0] for n, p in staged.items() if n not in chosen for b in p.blobs]
            doomed += self._put(t, bucket, meta)
            self.meta.delete_parts(t, upload_id)
            summary = {k: v for k, v in (meta.checksum or {}).items() if k != "parts"}  # not 10,000 values
            upload.result = {"etag": meta.etag, "version_id": meta.version_id, "checksum": summary or None}
            record = upload.record()
            self.meta.finish_upload(t, upload_id, record, self._mac("u", bucket, key, upload_id, record))
            crashpoint("tx-open", key)
        crashpoint("tx-done", key)
        self._drop(doomed)
        return upload, meta

    def abort_upload(self, bucket: str, upload_id: str, key: str) -> None:
        with self.meta.tx() as t:
            row = self.meta.upload(bucket, upload_id, t)
            if row is None:
                self._locked_bucket(t, bucket)
            upload = self._upload(bucket, row, upload_id, key)
            if upload.result is not None:
                raise S3Error("NoSuchUpload", elements={"UploadId": upload_id})
            doomed = [b for r in self.meta.parts(upload_id, t=t) for b in r[3].split()]
            self.meta.delete_upload(t, upload_id)
        self._drop(doomed)

    def list_uploads(self, bucket: str, prefix: str, after_key: str, limit: int) -> list[Upload]:
        """Uploads in progress with key >= max(prefix, after_key) under ``prefix``."""
        self.bucket(bucket)
        rows = self.meta.list_uploads(bucket, max(prefix, after_key), upper_bound(prefix), limit)
        return [self._upload(bucket, row, row[0], None) for row in rows]

    # --- bulk load ----------------------------------------------------------------------
    def load(self, bucket: str, metas: list[ObjectMeta]) -> None:
        """Insert many current versions of distinct new keys at once (migration, benchmarks)."""
        rows = []
        for meta in metas:
            record, mac, names = self._sealed(bucket, meta)
            rows.append((bucket, meta.key, meta.version_id, 2 if meta.delete_marker else 1, record, mac, names))
        with self.meta.tx() as t:
            self._locked_bucket(t, bucket)
            self.meta.load_versions(t, rows)


def open_storage(data_dir: Path, record_key: bytes, blobs: BlobStore | None = None, *,
                 metadata_url: str | None = None) -> Storage:
    """The embedded default: SQLite (WAL) in the data dir, blobs as files beside it.
    With ``metadata_url`` (PostgreSQL) and ``blobs`` (e.g. an S3BlobStore): the
    distributed shape, the same Storage over shared engines."""
    from s3presign.server.blobs_fs import FileBlobStore

    if metadata_url is not None:
        from s3presign.server.metadata import PostgreSQL

        if blobs is None:
            raise ValueError("a metadata URL needs a shared blob store (--blob-bucket)")
        return Storage(Metadata(PostgreSQL(metadata_url)), blobs, record_key)
    root = Path(data_dir) / ".s3presign"
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    meta = Metadata(SQLite(root / "metadata.sqlite3"))
    return Storage(meta, blobs if blobs is not None else FileBlobStore(Path(data_dir) / "blobs"), record_key)


def memory_storage(record_key: bytes | None = None) -> Storage:
    """The contract entirely in memory (an in-memory SQLite and blob dict): for fast tests."""
    from s3presign.server.blobs_fs import MemoryBlobStore

    meta = Metadata(SQLite(f"mem-{secrets.token_hex(8)}", memory=True))
    return Storage(meta, MemoryBlobStore(), record_key or secrets.token_bytes(32))


# Calls that only read: run inline when the database is local (microseconds).
_READS = frozenset({"list_buckets", "bucket", "head", "open", "lookup", "open_version", "list_objects",
                    "list_versions", "get_upload", "list_parts", "list_uploads"})


class AsyncStorage:
    """What handlers await: the contract's blocking calls, off the event loop
    (except a local database's reads, which are quicker than a thread hop)."""

    def __init__(self, backend: Storage, pool: Any = None) -> None:
        self.backend = backend
        self._pool = pool
        self._inline = backend.inline_reads

    async def open_version(self, bucket: str, key: str, meta: ObjectMeta, versioned: bool) -> StoredObject:
        backend = self.backend
        if not self._inline:
            obj = backend.open_cached(meta, versioned)
            if obj is not None:
                return obj
            return await asyncio.get_running_loop().run_in_executor(
                self._pool, backend.open_version, bucket, key, meta, versioned)
        return backend.open_version(bucket, key, meta, versioned)

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.backend, name)
        if not callable(fn):
            return fn
        if self._inline and name in _READS:
            async def call(*args: Any, **kwargs: Any) -> Any:
                return fn(*args, **kwargs)
        else:
            pool = self._pool

            async def call(*args: Any, **kwargs: Any) -> Any:
                return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args, **kwargs))
        setattr(self, name, call)
        return call
