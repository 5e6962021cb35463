"""The blob contract (server.blobs) on a local filesystem.

Layout, below the blob root::

    <2 hex>/<name>      a committed blob (name: 32 random hex digits)
    tmp/<name>          a blob being written; never read, swept after a crash

A blob is written under ``tmp/``, fsynced, renamed into its fan-out directory
and that directory fsynced: only then does ``commit()`` return, so a name the
metadata references always exists whole after a crash. Blobs are immutable,
so an open reader keeps reading its bytes even if the blob is deleted meanwhile.

While a large blob is written, the kernel is asked every ``_WRITEBACK_AFTER``
bytes to start writing the pages so far to the disk (Linux's sync_file_range,
which only starts the writeback and promises nothing): the disk works while the
server still receives and encrypts, and the fsync of ``commit()`` waits for the
tail only, not for the whole blob. Durability comes from that fsync alone.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

_READ = 1 << 20  # large reads: few syscalls per GiB
_COALESCE = 1 << 20  # the writer's buffer: smaller writes are gathered up to this
_WRITEBACK_AFTER = 8 << 20
_NAME_LEN = 32
_SYNC_FILE_RANGE_WRITE = 2  # <fcntl.h>: start writeback of the range's dirty pages, do not wait


def _writeback_starter() -> Any:
    """libc's sync_file_range where there is one (Linux), else None (no early start)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn  # a ctypes call releases the GIL while the kernel queues the writes


_start_writeback = _writeback_starter()


def _fsync_dir(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_HEX = frozenset("0123456789abcdef")


def _valid(name: str) -> bool:
    return len(name) == _NAME_LEN and _HEX.issuperset(name)


class FileBlobWriter:
    __slots__ = ("name", "_store", "_tmp", "_file", "_started", "_done", "size")

    def __init__(self, store: "FileBlobStore") -> None:
        self.name = secrets.token_hex(_NAME_LEN // 2)
        self._store = store
        self._tmp = store.tmp / self.name
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        # The buffered writer gathers small writes (a small blob: one write, at commit) and
        # passes a large one straight from the caller's buffer.
        self._file = os.fdopen(fd, "wb", buffering=_COALESCE)
        self._started = 0  # writeback requested from here on
        self._done = False
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        n = data.nbytes if isinstance(data, memoryview) else len(data)
        if not n:
            return
        self._file.write(data)
        self.size += n
        if self.size - self._started >= _WRITEBACK_AFTER and _start_writeback is not None:
            # nbytes 0: up to the end of what the kernel has; bytes still in our buffer go next time
            _start_writeback(self._file.fileno(), self._started, 0, _SYNC_FILE_RANGE_WRITE)
            self._started = self.size  # a failure here is only a lost hint: commit's fsync decides

    def commit(self) -> int:
        """fsync, rename into place, fsync the directory: durable on return."""
        f = self._file
        f.flush()
        os.fsync(f.fileno())
        f.close()
        final = self._store.path(self.name)
        try:
            os.replace(self._tmp, final)
        except FileNotFoundError:
            final.parent.mkdir(mode=0o700, exist_ok=True)
            _fsync_dir(self._store.root)
            os.replace(self._tmp, final)
        self._done = True
        _fsync_dir(final.parent)
        return self.size

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


class FileBlobReader:
    __slots__ = ("fd", "size")

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        fd = self.fd
        end = min(offset + length, self.size)
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
        return os.pread(self.fd, max(0, min(length, self.size - offset)), offset)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class FileBlobStore:
    """Blobs as files under ``root`` (one fan-out level, so no directory grows huge)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._prefix = str(self.root) + "/"

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name

    def _file(self, name: str) -> str:
        return f"{self._prefix}{name[:2]}/{name}"  # on the read path: no pathlib per request

    def create(self) -> FileBlobWriter:
        return FileBlobWriter(self)

    def open(self, name: str, size: int | None = None) -> FileBlobReader:
        if not _valid(name):  # a name from the metadata never becomes an arbitrary path
            raise FileNotFoundError(name)
        fd = os.open(self._file(name), os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
        except BaseException:
            os.close(fd)
            raise
        return FileBlobReader(fd, size)

    def delete(self, name: str) -> None:
        if not _valid(name):
            return
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            pass

    def names(self) -> Iterator[str]:
        """Every committed blob (for tests and migration checks)."""
        for sub in self.root.iterdir():
            if sub.name != "tmp" and sub.is_dir():
                for entry in os.scandir(sub):
                    if _valid(entry.name):
                        yield entry.name

    def sweep(self, referenced: Iterable[str] | None, older_than: float) -> int:
        cutoff = time.time() - older_than
        gone = 0

        def old(entry: os.DirEntry) -> bool:
            try:
                return entry.stat().st_mtime <= cutoff
            except FileNotFoundError:
                return False

        for entry in os.scandir(self.tmp):
            if old(entry):
                try:
                    os.unlink(entry.path)
                    gone += 1
                except FileNotFoundError:
                    pass
        if referenced is None:
            return gone
        keep = referenced if isinstance(referenced, (set, frozenset)) else set(referenced)
        for sub in os.scandir(self.root):
            if sub.name == "tmp" or not sub.is_dir():
                continue
            for entry in os.scandir(sub.path):
                if entry.name not in keep and old(entry):
                    try:
                        os.unlink(entry.path)
                        gone += 1
                    except FileNotFoundError:
                        pass
        return gone


class MemoryBlobStore:
    """The blob contract in memory: for fast tests of everything above the blobs."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def create(self) -> "_MemoryWriter":
        return _MemoryWriter(self)

    def open(self, name: str, size: int | None = None) -> "_MemoryReader":
        try:
            return _MemoryReader(self.blobs[name])
        except KeyError:
            raise FileNotFoundError(name) from None

    def delete(self, name: str) -> None:
        self.blobs.pop(name, None)

    def sweep(self, referenced: Iterable[str] | None, older_than: float) -> int:
        if referenced is None:
            return 0
        keep = set(referenced)
        doomed = [n for n in self.blobs if n not in keep]
        for name in doomed:
            del self.blobs[name]
        return len(doomed)


class _MemoryWriter:
    def __init__(self, store: MemoryBlobStore) -> None:
        self.name = secrets.token_hex(_NAME_LEN // 2)
        self._store = store
        self._parts: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._parts.append(bytes(data))

    def commit(self) -> int:
        data = b"".join(self._parts)
        self._store.blobs[self.name] = data
        return len(data)

    def abort(self) -> None:
        self._parts = []


class _MemoryReader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self.size = len(data)

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        end = min(offset + length, self.size)
        while offset < end:
            yield self._data[offset:min(end, offset + _READ)]
            offset += _READ

    def pread(self, offset: int, length: int) -> bytes:
        return self._data[offset:offset + length]

    def close(self) -> None:
        pass
