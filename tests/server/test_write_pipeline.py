"""The one write pipeline (handlers.writing.save) on large bodies: whatever the
chunking of the body (sizes that split encryption packages and batches, chunks
larger than a batch, an empty tail), the stored bytes decrypt to exactly the
body and the MD5 is the body's; a failing body leaves no blob behind."""

from __future__ import annotations

import hashlib
import os

import pytest

from s3presign.server.encryption import Encryption
from s3presign.server.handlers.writing import BATCH, save
from s3presign.server.sse import SseRequest
from s3presign.server.storage import AsyncStorage, ObjectMeta, StoredObject, memory_storage

from .helpers import run_async


async def _chunks(data: bytes, sizes: list[int]):
    pos, i = 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        yield data[pos:pos + n]
        pos += n
        i += 1


@pytest.mark.parametrize("size,sizes", [
    (5 * BATCH + 12345, [65536]),
    (3 * BATCH, [BATCH]),  # whole batches, handed over as they are
    (2 * BATCH + 1, [3 * BATCH]),  # one chunk larger than a batch
    (4 * BATCH - 7, [1, 70_001, 262_144, 999_999]),
    (BATCH, [BATCH - 1, 1]),
])
def test_large_bodies_round_trip(tmp_path, size, sizes):
    data = os.urandom(size)
    storage = memory_storage()
    enc = Encryption(tmp_path, os.urandom(32))
    writer = enc.begin_write(SseRequest(mode=None), None, bucket="b", key="k", signature_version="v4")
    blobs, md5 = run_async(save(AsyncStorage(storage), writer, _chunks(data, sizes), large=True, digest=True))
    assert md5 == hashlib.md5(data).hexdigest()
    assert writer.plain_size == size
    meta = ObjectMeta(key="k", size=size, etag=md5, last_modified=0.0, envelope=writer.envelope, blobs=blobs)
    obj = StoredObject(meta, storage.blobs)
    reader = enc.open_read(writer.envelope, None, bucket="b", key="k", signature_version="v4")
    offset, length = reader.cipher_range()
    assert b"".join(reader.decrypt(obj.read(offset, length))) == data


def test_a_failing_body_leaves_no_blob(tmp_path):
    storage = memory_storage()
    enc = Encryption(tmp_path, os.urandom(32))
    writer = enc.begin_write(SseRequest(mode=None), None, bucket="b", key="k", signature_version="v4")

    async def broken():
        yield os.urandom(3 * BATCH)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        run_async(save(AsyncStorage(storage), writer, broken(), large=True, digest=True))
    assert storage.blobs.blobs == {}
