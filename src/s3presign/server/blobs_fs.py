"""The blob contract (server.blobs) on a local filesystem.

Layout, below the blob root::

    <2 hex>/<name>      a committed blob (name: 32 random hex digits)
    tmp/<name>          a blob being written; never read, swept after a crash

A blob is written under ``tmp/``, fsynced, renamed into its fan-out directory
and that directory fsynced: only then does ``commit()`` return, so a name the
metadata references always exists whole after a crash. Blobs are immutable,
so an open reader keeps reading its bytes even if the blob is deleted meanwhile.

A blob that grows past ``_DIRECT_AFTER`` is written with O_DIRECT from then on:
its bytes go from one aligned staging buffer straight to the disk, in writes of
``_STAGE`` bytes, instead of being copied into the page cache first (that copy,
into pages the kernel must find and zero, cost more CPU than the encryption
and the digest together) and written back later. Only the unaligned tail goes
through the page cache, at commit. Where the filesystem refuses O_DIRECT the
blob stays buffered, and the kernel is asked every ``_WRITEBACK_AFTER`` bytes to
start writing the pages so far to the disk (Linux's sync_file_range, which only
starts the writeback and promises nothing), so the fsync of ``commit()`` waits
for the tail only. Either way, durability comes from that fsync alone.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

_READ = 1 << 20  # large reads: few syscalls per GiB
_COALESCE = 1 << 20  # the writer's buffer: smaller writes are gathered up to this
_WRITEBACK_AFTER = 8 << 20
_DIRECT_AFTER = 1 << 20  # from this size on a blob bypasses the page cache
_STAGE = 4 << 20  # O_DIRECT writes of this size (a multiple of _ALIGN)
_ALIGN = 4096  # O_DIRECT: buffer address, file offset and length are multiples of this
_O_DIRECT = getattr(os, "O_DIRECT", 0)
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
    __slots__ = ("name", "_store", "_tmp", "_file", "_started", "_done", "size",
                 "_stage", "_view", "_fill", "_pos", "_direct")

    def __init__(self, store: "FileBlobStore") -> None:
        self.name = secrets.token_hex(_NAME_LEN // 2)
        self._store = store
        self._tmp = store.tmp / self.name
        fd = os.open(self._tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        # The buffered writer gathers small writes (a small blob: one write, at commit) and
        # passes a large one straight from the caller's buffer.
        self._file = os.fdopen(fd, "wb", buffering=_COALESCE)
        self._started = 0  # writeback requested from here on
        self._done = False
        self.size = 0
        self._stage: mmap.mmap | None = None  # the aligned staging buffer, once direct
        self._view: memoryview | None = None
        self._fill = 0  # bytes in the stage
        self._pos = 0  # file offset of the stage's first byte
        self._direct = _O_DIRECT != 0  # still worth trying

    def write(self, data: bytes | bytearray | memoryview) -> None:
        n = data.nbytes if isinstance(data, memoryview) else len(data)
        if not n:
            return
        if self._view is not None or (self._direct and self.size + n >= _DIRECT_AFTER and self._go_direct()):
            self._stage_write(data)
            self.size += n
            return
        self._file.write(data)
        self.size += n
        if self.size - self._started >= _WRITEBACK_AFTER and _start_writeback is not None:
            # nbytes 0: up to the end of what the kernel has; bytes still in our buffer go next time
            _start_writeback(self._file.fileno(), self._started, 0, _SYNC_FILE_RANGE_WRITE)
            self._started = self.size  # a failure here is only a lost hint: commit's fsync decides

    def reserve(self, n: int) -> memoryview | None:
        """Room for the next ``n`` bytes in the stage, to be filled by the caller and
        then counted by :meth:`wrote` (a sealed batch lands there with no copy);
        None when the blob is not (or cannot be) written direct: use ``write``."""
        if self._view is None and not (self._direct and self.size + n >= _DIRECT_AFTER and self._go_direct()):
            return None
        if n > _STAGE - _ALIGN:
            return None
        if self._fill + n > _STAGE:
            self._flush_stage(self._fill - self._fill % _ALIGN)
        view = self._view
        assert view is not None
        return view[self._fill:self._fill + n]

    def wrote(self, n: int) -> None:
        """The caller filled the first ``n`` bytes :meth:`reserve` gave it."""
        self._fill += n
        self.size += n

    def _go_direct(self) -> bool:
        """Switch to O_DIRECT; the stage starts at the aligned offset below the end so far."""
        self._direct = False
        f = self._file
        f.flush()
        fd = f.fileno()
        head = self.size % _ALIGN
        # rewritten with the stage's first write (the kernel drops its cached copy)
        kept = os.pread(fd, head, self.size - head) if head else b""
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | _O_DIRECT)
        except OSError:
            return False
        self._stage = mmap.mmap(-1, _STAGE)  # page-aligned
        self._view = view = memoryview(self._stage)
        view[:head] = kept
        self._fill = head
        self._pos = self.size - head
        self._direct = True
        return True

    def _stage_write(self, data: bytes | bytearray | memoryview) -> None:
        view = self._view
        assert view is not None
        with memoryview(data) as src:
            src = src.cast("B") if src.ndim != 1 or src.itemsize != 1 else src
            taken, n = 0, len(src)
            while taken < n:
                take = min(n - taken, _STAGE - self._fill)
                view[self._fill:self._fill + take] = src[taken:taken + take]
                self._fill += take
                taken += take
                if self._fill == _STAGE:
                    self._flush_stage(_STAGE)

    def _flush_stage(self, length: int) -> None:
        """Write the stage's first ``length`` bytes (aligned, unless O_DIRECT is off)."""
        view = self._view
        assert view is not None
        fd = self._file.fileno()
        done = 0
        while done < length:
            try:
                done += os.pwrite(fd, view[done:length], self._pos + done)
            except OSError as e:
                if not (e.errno == errno.EINVAL and self._direct):
                    raise
                self._buffered()  # accepted at open, refused at write: the page cache it is
        self._pos += length
        rest = self._fill - length
        if rest:
            view[:rest] = view[length:self._fill]
        self._fill = rest

    def _buffered(self) -> None:
        fd = self._file.fileno()
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_O_DIRECT)
        self._direct = False

    def _release_stage(self) -> None:
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._stage is not None:
            self._stage.close()
            self._stage = None

    def commit(self) -> int:
        """fsync, rename into place, fsync the directory: durable on return."""
        f = self._file
        if self._view is not None:
            aligned = self._fill - self._fill % _ALIGN
            if aligned and self._direct:
                self._flush_stage(aligned)
            if self._fill:
                if self._direct:
                    self._buffered()  # the unaligned tail
                self._flush_stage(self._fill)
            self._release_stage()
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
        self._release_stage()
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
