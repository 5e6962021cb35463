"""Where objects live: a small Storage interface and the filesystem backend.

The backend stores bytes it is given (the handlers give it ciphertext) plus a
JSON record of the object's metadata, and knows nothing about S3 semantics
beyond buckets and keys. A later backend (a distributed object store) only has
to implement :class:`Storage`.

Filesystem layout, below the data dir::

    buckets/<bucket>/bucket.json          name, creation date, region, configuration
    buckets/<bucket>/objects/<sha256(key)> stored bytes, then the JSON record, then a footer
    buckets/<bucket>/tmp/                  uploads in progress

Why it looks like this:

- a key never becomes a path (it is hashed), so no key (``..``, ``//``, 1024
  bytes, any Unicode) can escape the data dir or hit a file-name limit;
- an object is ONE file holding data and record, so replacing it is one atomic
  rename: a reader that opened the old file keeps reading the old version, and
  a crash or disconnect mid-upload leaves only a temp file nobody lists;
- the record is a trailer because the ETag and size are known only at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import struct
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

from s3presign.core.s3errors import S3Error

_FOOTER = struct.Struct("<Q8s")  # record length, magic
_MAGIC = b"S3PREC01"
_READ = 1 << 20  # large reads: few syscalls per GiB
_STALE_TMP = 3600.0  # an upload untouched this long (seconds) is debris from a crash


@dataclass(slots=True)
class ObjectMeta:
    """The record stored with an object (everything but its bytes)."""

    key: str
    size: int  # plaintext size
    etag: str  # without quotes
    last_modified: float
    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)  # Content-Disposition, ...
    user_meta: dict[str, str] = field(default_factory=dict)  # x-amz-meta-*, names lower-case
    envelope: dict[str, Any] = field(default_factory=dict)  # encryption (server.encryption)
    checksum: dict[str, str] | None = None  # {"algorithm": "CRC32", "value": base64}
    extra: dict[str, Any] = field(default_factory=dict)  # room for later issues

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "ObjectMeta":
        return cls(**json.loads(data))


@dataclass(slots=True)
class BucketInfo:
    name: str
    created: float
    region: str
    config: dict[str, Any] = field(default_factory=dict)


class StoredObject(Protocol):
    """An open object version: its record and its stored bytes."""

    meta: ObjectMeta
    stored_size: int

    def read(self, offset: int, length: int) -> Iterator[bytes]: ...
    def pread(self, offset: int, length: int) -> bytes: ...
    def close(self) -> None: ...


class ObjectSink(Protocol):
    """A new object version being written; invisible until commit()."""

    def write(self, data: bytes) -> None: ...
    def commit(self, meta: ObjectMeta) -> None: ...
    def abort(self) -> None: ...


class Storage(Protocol):
    def list_buckets(self) -> list[BucketInfo]: ...
    def create_bucket(self, name: str, region: str) -> bool: ...
    def bucket(self, name: str) -> BucketInfo: ...
    def set_bucket_config(self, name: str, item: str, value: Any) -> None: ...
    def delete_bucket(self, name: str) -> None: ...
    def writer(self, bucket: str, key: str) -> ObjectSink: ...
    def open(self, bucket: str, key: str) -> StoredObject: ...
    def delete(self, bucket: str, key: str) -> None: ...
    def list(self, bucket: str, prefix: str = "", after: str = "") -> list[ObjectMeta]: ...


def _key_name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _fsync_dir(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileObject:
    __slots__ = ("fd", "meta", "stored_size")

    def __init__(self, fd: int, meta: ObjectMeta, stored_size: int) -> None:
        self.fd = fd
        self.meta = meta
        self.stored_size = stored_size

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        """The stored bytes [offset, offset+length), in large reads; closes the file when done."""
        fd = self.fd
        end = min(offset + length, self.stored_size)
        try:
            while offset < end:
                chunk = os.pread(fd, min(_READ, end - offset), offset)
                if not chunk:
                    break  # truncated on disk: the decryptor reports it
                offset += len(chunk)
                yield chunk
        finally:
            self.close()

    def pread(self, offset: int, length: int) -> bytes:
        """The stored bytes [offset, offset+length) in one read (small objects); closes the file."""
        try:
            return os.pread(self.fd, min(length, self.stored_size - offset), offset)
        finally:
            self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _FileSink:
    __slots__ = ("_tmp", "_final", "_file", "_done")

    def __init__(self, tmp_dir: Path, final: Path) -> None:
        self._final = final
        self._tmp = tmp_dir / f"{final.name[:16]}.{secrets.token_hex(8)}"
        try:
            fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:
            raise S3Error("NoSuchBucket", elements={"BucketName": final.parent.parent.name}) from None
        self._file = os.fdopen(fd, "wb", buffering=_READ)
        self._done = False

    def write(self, data: bytes) -> None:
        if data:
            self._file.write(data)

    def commit(self, meta: ObjectMeta) -> None:
        """Record, footer, fsync, then the atomic rename that makes the version visible."""
        record = meta.to_bytes()
        f = self._file
        f.write(record)
        f.write(_FOOTER.pack(len(record), _MAGIC))
        f.flush()
        os.fsync(f.fileno())
        f.close()
        try:
            os.replace(self._tmp, self._final)
        except FileNotFoundError:
            self.abort()
            raise S3Error("NoSuchBucket", elements={"BucketName": self._final.parent.parent.name}) from None
        self._done = True
        _fsync_dir(self._final.parent)

    def copy_from(self, fd: int, offset: int, length: int) -> None:
        """Append ``length`` stored bytes of another file (multipart completion):
        copied by the kernel where the filesystem can, else in 1 MiB reads, so a
        large object never passes through memory whole."""
        f = self._file
        kernel = hasattr(os, "copy_file_range")
        while length > 0:
            n = 0
            if kernel:
                f.flush()
                try:
                    n = os.copy_file_range(fd, f.fileno(), min(length, 1 << 30), offset)
                except OSError:
                    kernel = False
            if n <= 0:
                chunk = os.pread(fd, min(_READ, length), offset)
                if not chunk:
                    raise ValueError("a staged file is shorter than its record")
                f.write(chunk)
                n = len(chunk)
            offset += n
            length -= n

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._file.close()
        except OSError:
            pass
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass


class FilesystemStorage:
    """The default Storage: one directory per bucket, one file per object version."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir)
        self.buckets_dir = self.root / "buckets"
        self.buckets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._trash = self.root / ".s3presign" / "trash"
        # path -> (inode, mtime_ns, size, record): records are immutable per inode,
        # because every write is a new file renamed into place.
        self._records: dict[str, tuple[int, int, int, ObjectMeta, int]] = {}
        self._buckets: dict[str, tuple[int, int, BucketInfo]] = {}
        self._clean_tmp()

    # --- buckets ----------------------------------------------------------------
    def _bucket_dir(self, name: str) -> Path:
        return self.buckets_dir / name  # names are validated by the handlers (S3's rules)

    def list_buckets(self) -> list[BucketInfo]:
        out = []
        for entry in sorted(os.listdir(self.buckets_dir)):
            if entry.startswith("."):
                continue
            try:
                out.append(self.bucket(entry))
            except S3Error:
                continue
        return out

    def create_bucket(self, name: str, region: str) -> bool:
        """False if the bucket already exists. Built aside, then renamed into place."""
        final = self._bucket_dir(name)
        if final.exists():
            return False
        staging = self.buckets_dir / f".new-{name}-{secrets.token_hex(4)}"
        staging.mkdir(mode=0o700)
        try:
            (staging / "objects").mkdir(mode=0o700)
            (staging / "tmp").mkdir(mode=0o700)
            self._write_info(staging, BucketInfo(name, time.time(), region))
            try:
                os.rename(staging, final)
            except OSError:
                if final.exists():
                    return False
                raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        _fsync_dir(self.buckets_dir)
        return True

    def bucket(self, name: str) -> BucketInfo:
        path = self._bucket_dir(name) / "bucket.json"
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise S3Error("NoSuchBucket", elements={"BucketName": name}) from None
        cached = self._buckets.get(name)
        if cached and cached[0] == st.st_ino and cached[1] == st.st_mtime_ns:
            return cached[2]
        with open(path, "rb") as f:
            info = BucketInfo(**json.loads(f.read()))
        self._buckets[name] = (st.st_ino, st.st_mtime_ns, info)
        return info

    def set_bucket_config(self, name: str, item: str, value: Any) -> None:
        """Set (or, with None, remove) one configuration item, atomically."""
        info = self.bucket(name)
        config = dict(info.config)
        if value is None:
            config.pop(item, None)
        else:
            config[item] = value
        self._write_info(self._bucket_dir(name), BucketInfo(info.name, info.created, info.region, config))

    def _write_info(self, directory: Path, info: BucketInfo) -> None:
        tmp = directory / f".bucket.json.{secrets.token_hex(4)}"
        with open(tmp, "wb") as f:
            f.write(json.dumps(asdict(info)).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / "bucket.json")

    def delete_bucket(self, name: str) -> None:
        self.bucket(name)
        directory = self._bucket_dir(name)
        if any(os.scandir(directory / "objects")):
            raise S3Error("BucketNotEmpty", elements={"BucketName": name})
        self._trash.mkdir(mode=0o700, parents=True, exist_ok=True)
        doomed = self._trash / f"{name}-{secrets.token_hex(4)}"
        try:
            os.rename(directory, doomed)
        except FileNotFoundError:
            raise S3Error("NoSuchBucket", elements={"BucketName": name}) from None
        self._buckets.pop(name, None)
        shutil.rmtree(doomed, ignore_errors=True)

    # --- objects ----------------------------------------------------------------
    def _object_path(self, bucket: str, key: str) -> str:
        return f"{self.buckets_dir}/{bucket}/objects/{_key_name(key)}"

    def writer(self, bucket: str, key: str) -> ObjectSink:
        directory = self._bucket_dir(bucket)
        return _FileSink(directory / "tmp", directory / "objects" / _key_name(key))

    def open(self, bucket: str, key: str) -> StoredObject:
        path = self._object_path(bucket, key)
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            raise self._missing(bucket, key) from None
        try:
            meta, stored = self._record(path, fd, os.fstat(fd))
            if meta.key != key:  # a hash collision: never serve another key's bytes
                raise self._missing(bucket, key)
        except BaseException:
            os.close(fd)
            raise
        return _FileObject(fd, meta, stored)

    def _missing(self, bucket: str, key: str) -> S3Error:
        self.bucket(bucket)  # NoSuchBucket first
        return S3Error("NoSuchKey", elements={"Key": key})

    def _record(self, path: str, fd: int, st: os.stat_result) -> tuple[ObjectMeta, int]:
        """(record, stored size) of an open object file, cached per inode."""
        cached = self._records.get(path)
        if cached and cached[0] == st.st_ino and cached[1] == st.st_mtime_ns and cached[2] == st.st_size:
            return cached[3], cached[4]
        size = st.st_size
        tail = os.pread(fd, min(size, 16384), max(0, size - 16384))
        if len(tail) < _FOOTER.size:
            raise ValueError(f"{path}: not an object file")
        length, magic = _FOOTER.unpack(tail[-_FOOTER.size:])
        if magic != _MAGIC or length > size - _FOOTER.size:
            raise ValueError(f"{path}: not an object file")
        if length + _FOOTER.size <= len(tail):
            record = tail[-_FOOTER.size - length:-_FOOTER.size]
        else:
            record = os.pread(fd, length, size - _FOOTER.size - length)
        meta = ObjectMeta.from_bytes(record)
        stored = size - _FOOTER.size - length
        if len(self._records) > 8192:
            self._records.clear()
        self._records[path] = (st.st_ino, st.st_mtime_ns, size, meta, stored)
        return meta, stored

    def delete(self, bucket: str, key: str) -> None:
        self.bucket(bucket)
        try:
            os.unlink(self._object_path(bucket, key))
        except FileNotFoundError:
            pass

    def list(self, bucket: str, prefix: str = "", after: str = "") -> list[ObjectMeta]:
        """Every object whose key starts with ``prefix`` and sorts after ``after``, in key order."""
        self.bucket(bucket)
        directory = f"{self.buckets_dir}/{bucket}/objects"
        found = []
        for entry in os.scandir(directory):
            try:
                fd = os.open(entry.path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # deleted while listing
            try:
                meta, _ = self._record(entry.path, fd, os.fstat(fd))
            except (ValueError, OSError):
                continue
            finally:
                os.close(fd)
            if meta.key.startswith(prefix) and meta.key > after:
                found.append(meta)
        found.sort(key=lambda m: m.key)
        return found

    # --- staged files (multipart uploads) ------------------------------------------
    def staging_dir(self, bucket: str) -> Path:
        """buckets/<bucket>/uploads: multipart uploads in progress, never listed or
        read as objects, and removed with the bucket."""
        self.bucket(bucket)
        path = self._bucket_dir(bucket) / "uploads"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def file_writer(self, path: Path) -> ObjectSink:
        """A sink that becomes the object-format file ``path`` on commit (built beside it)."""
        return _FileSink(path.parent, path)

    def open_file(self, path: Path | str) -> StoredObject:
        """An object-format file by path (a staged part); FileNotFoundError if gone."""
        fd = os.open(path, os.O_RDONLY)
        try:
            meta, stored = self._record(str(path), fd, os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise
        return _FileObject(fd, meta, stored)

    def _clean_tmp(self) -> None:
        """Remove uploads a crash left behind (old enough that no live writer owns them)."""
        cutoff = time.time() - _STALE_TMP
        for tmp in self.buckets_dir.glob("*/tmp/*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except OSError:
                pass
        if self._trash.exists():
            shutil.rmtree(self._trash, ignore_errors=True)
