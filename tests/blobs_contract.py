"""The blob contract (s3presign.server.blobs) as checks any BlobStore must pass.

Each check takes a store made with a small part size (5 MiB, so multipart
backends really cut parts) and asserts behaviour through the contract only.
A test module parametrizes over CHECKS and over its store factories:

    @pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
    def test_contract(check, store):
        check(store)
"""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

MiB = 1 << 20
PART = 5 * MiB  # what factories should give multipart backends


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic non-repeating bytes (a misplaced range shows as a mismatch)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(b"%d:%d" % (seed, counter)).digest() * 64  # 2 KiB per hash
        counter += 1
    return bytes(out[:size])


def write_blob(store, data: bytes, piece: int = 256 * 1024) -> str:
    writer = store.create()
    for i in range(0, len(data), piece):
        writer.write(memoryview(data)[i:i + piece])
    assert writer.commit() == len(data)
    return writer.name


def read_all(store, name: str) -> bytes:
    reader = store.open(name)
    return b"".join(reader.read(0, reader.size))


def check_small_roundtrip(store):
    data = b"ciphertext-ish \x00\xff" * 100
    name = write_blob(store, data, piece=7)
    reader = store.open(name)
    assert reader.size == len(data)
    assert b"".join(reader.read(0, reader.size)) == data
    reader = store.open(name)
    assert reader.pread(5, 10) == data[5:15]
    assert reader.pread(len(data) - 3, 100) == data[-3:]  # clamped at the end
    reader.close()


def check_empty_blob(store):
    writer = store.create()
    assert writer.commit() == 0
    reader = store.open(writer.name)
    assert reader.size == 0
    assert b"".join(reader.read(0, 0)) == b""


def check_names_are_opaque_and_unique(store):
    writers = [store.create() for _ in range(20)]
    names = {w.name for w in writers}
    assert len(names) == 20
    assert all(len(n) == 32 and set(n) <= set("0123456789abcdef") for n in names)
    for w in writers:
        w.abort()


def check_invisible_until_commit(store):
    writer = store.create()
    writer.write(b"x" * 1000)
    with pytest.raises(FileNotFoundError):
        store.open(writer.name)
    writer.commit()
    assert store.open(writer.name).size == 1000


def check_multipart_blob_and_ranges(store):
    size = 4 * PART + 12345  # several full parts and a short last one
    data = pattern(size, 1)
    name = write_blob(store, data, piece=1 * MiB + 17)
    reader = store.open(name)
    assert reader.size == size
    got = hashlib.sha256()
    for chunk in store.open(name).read(0, size):
        got.update(chunk)
    assert got.hexdigest() == hashlib.sha256(data).hexdigest()
    for offset, length in [(0, 1), (PART - 1, 2), (PART, PART), (2 * PART - 10, PART + 20),
                           (size - 1, 1), (size - 100, 1000), (123, 3 * PART)]:
        piece = b"".join(store.open(name).read(offset, length))
        assert piece == data[offset:offset + length], (offset, length)
        assert store.open(name).pread(offset, length) == data[offset:offset + length], (offset, length)


def check_partial_read_then_close(store):
    data = pattern(3 * MiB, 2)
    name = write_blob(store, data)
    reader = store.open(name)
    pieces = reader.read(0, reader.size)
    first = next(pieces)
    assert data.startswith(first)
    pieces.close()  # a client that goes away mid-body
    assert store.open(name).pread(0, 4) == data[:4]


def check_abort_leaves_nothing(store):
    for size in (10, 2 * PART + 1):  # one buffered write, and one that started a multipart upload
        writer = store.create()
        writer.write(pattern(size, 3))
        writer.abort()
        writer.abort()  # idempotent
        with pytest.raises(FileNotFoundError):
            store.open(writer.name)
    # nothing partial was left for the sweeper either
    assert store.sweep(None, 0) == 0


def check_delete(store):
    name = write_blob(store, b"doomed")
    store.delete(name)
    with pytest.raises(FileNotFoundError):
        store.open(name)
    store.delete(name)  # a missing name is not an error
    store.delete("0" * 32)


def check_foreign_names_refused(store):
    for bad in ("../etc/passwd", "", "A" * 32, "0" * 31, "/" + "0" * 31):
        with pytest.raises(FileNotFoundError):
            store.open(bad)
        store.delete(bad)  # no error, nothing touched


def check_sweep_with_grace_period(store):
    kept = write_blob(store, b"referenced")
    orphan = write_blob(store, b"orphan")
    partial = store.create()
    partial.write(pattern(PART + 1, 4))  # a writer that crashed mid-blob (multipart started)
    # everything is younger than the grace period: nothing goes
    assert store.sweep({kept}, 3600) == 0
    assert store.open(orphan).size == 6
    time.sleep(2.1)
    # referenced=None: only partial writes go, committed blobs stay
    assert store.sweep(None, 1) == 1
    assert store.open(orphan).size == 6
    young = write_blob(store, b"young orphan")
    assert store.sweep({kept}, 1) >= 1  # the orphan (and any stray orphans of earlier checks)
    with pytest.raises(FileNotFoundError):
        store.open(orphan)
    assert store.open(kept).size == 10
    assert store.open(young).size == 12  # inside the grace period


def check_concurrent_writers(store):
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = write_blob(store, pattern(PART + 1000 * i, 10 + i), piece=MiB)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, name in results.items():
        assert read_all(store, name) == pattern(PART + 1000 * i, 10 + i)


CHECKS = [
    check_small_roundtrip,
    check_empty_blob,
    check_names_are_opaque_and_unique,
    check_invisible_until_commit,
    check_multipart_blob_and_ranges,
    check_partial_read_then_close,
    check_abort_leaves_nothing,
    check_delete,
    check_foreign_names_refused,
    check_sweep_with_grace_period,
    check_concurrent_writers,
]
