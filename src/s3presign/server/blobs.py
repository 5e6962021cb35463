"""The blob contract: where the encrypted bytes of objects and parts live.

A blob is an opaque, immutable run of ciphertext under a name the store
chooses. Everything that gives it meaning (bucket, key, version, size, ETag,
envelope) lives in the metadata, never in the blob or its name, so a backend
(a directory, an S3 bucket on Ceph RGW) never sees a key, a plaintext byte or
key material.

Calls are blocking and thread-safe; the server runs them off the event loop.
Durability rule: ``BlobWriter.commit()`` returns only once the bytes are
durable, and only then may a metadata transaction reference the name. Blobs
no metadata references are garbage, removed by :meth:`BlobStore.sweep`.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Protocol


class BlobWriter(Protocol):
    """A blob being written: invisible to readers until commit()."""

    name: str  # chosen by the store at creation; opaque

    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def commit(self) -> int:
        """Make the blob durable; returns its size in bytes."""
    def abort(self) -> None:
        """Discard everything written; idempotent."""


class BlobReader(Protocol):
    size: int

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        """Bytes [offset, offset+length) in large pieces; closes the reader when exhausted."""
    def pread(self, offset: int, length: int) -> bytes: ...
    def close(self) -> None: ...


class BlobStore(Protocol):
    def create(self) -> BlobWriter: ...
    def open(self, name: str, size: int | None = None) -> BlobReader:
        """Raises FileNotFoundError for a name that does not exist. ``size`` is what the
        metadata says: a store that needs a round trip to learn it (S3) may take it and
        check it on the first read instead, raising FileNotFoundError then."""
    def delete(self, name: str) -> None:
        """Remove a blob; a missing name is not an error."""
    def sweep(self, referenced: Iterable[str] | None, older_than: float) -> int:
        """Delete blobs (and leftover partial writes) not in ``referenced`` and
        created more than ``older_than`` seconds ago; returns how many went.
        ``referenced=None`` means only partial writes are removed."""
