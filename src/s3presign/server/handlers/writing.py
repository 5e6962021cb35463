"""The one write pipeline: every operation that stores bytes (PutObject, POST
object, UploadPart, CopyObject, UploadPartCopy) streams plaintext through
:func:`save`, which encrypts it into a new blob and makes the blob durable.
The caller then makes it visible with ONE metadata call (Storage.put or
Storage.put_part), which is the crash-safety protocol of server.storage."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, AsyncIterator, Callable

from s3presign.server.encryption import ObjectWriter
from s3presign.server.offload import DIGEST_POOL, IO_POOL, Offload
from s3presign.server.storage import crashpoint

LARGE_BODY = 1 << 20  # from this size on, disk writes (and digests) go to helper threads


def _write_all(sink: Any):
    def write(parts: list[bytes]) -> None:
        for part in parts:
            sink.write(part)

    return write


def _updater(md5: Any):
    def update(parts: list[bytes]) -> None:
        for part in parts:
            md5.update(part)

    return update


async def encrypt_into(sink: Any, writer: ObjectWriter, chunks: AsyncIterator[bytes], *, large: bool,
                       md5: Any = None) -> None:
    """Encrypt every chunk into ``sink`` as it arrives, then the final package
    (and feed ``md5`` the plaintext). Memory stays bounded: one chunk (plus one
    batch being written) at a time; large bodies overlap the disk writes and the
    digest with encryption on the event loop."""
    writes = Offload(_write_all(sink), IO_POOL) if large else None
    digests = Offload(_updater(md5), DIGEST_POOL) if large and md5 is not None else None
    try:
        async for chunk in chunks:
            if md5 is not None:
                if digests is None:
                    md5.update(chunk)
                else:
                    await digests.add(chunk)
            sealed = writer.encrypt(chunk)
            if writes is None:
                sink.write(sealed)
            else:
                await writes.add(sealed)  # type: ignore[arg-type]
        tail = writer.finish()
        if writes is None:
            sink.write(tail)
        else:
            await writes.add(tail)  # type: ignore[arg-type]
            await writes.drain()
        if digests is not None:
            await digests.drain()
    except BaseException:
        if writes is not None:
            await writes.settle()
        if digests is not None:
            await digests.settle()
        raise


async def save(store: Any, writer: ObjectWriter, chunks: AsyncIterator[bytes], *, large: bool,
               digest: bool = False, check: Callable[[], None] | None = None,
               key: str = "") -> tuple[list[list[Any]], str | None]:
    """Encrypt ``chunks`` into a new blob and commit it (durable when this returns).

    ``check`` runs once the body is in, before the commit (the payload's length
    and checksums): a failed check leaves nothing behind.
    Returns the blob list for the record and, with ``digest``, the plaintext MD5
    (hex). The blob is not referenced by anything yet: the caller's metadata
    call makes it visible, or deletes it on failure; a crash leaves only
    garbage that start-up sweeps."""
    blob = await store.new_blob()
    md5 = hashlib.md5() if digest else None
    try:
        await encrypt_into(blob, writer, chunks, large=large, md5=md5)
        if check is not None:
            check()
        crashpoint("blob-written", key)
        size = await asyncio.get_running_loop().run_in_executor(IO_POOL, blob.commit)
    except BaseException:
        blob.abort()
        raise
    crashpoint("blob-committed", key)
    return [[blob.name, size]], (md5.hexdigest() if md5 is not None else None)
