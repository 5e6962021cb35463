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
from s3presign.server.sio import PACKAGE
from s3presign.server.storage import crashpoint

LARGE_BODY = 1 << 20  # from this size on, disk writes (and digests) go to helper threads


# Large bodies travel in batches of about BATCH bytes: a batch is sealed and written
# by a helper thread while the event loop gathers the next one.
BATCH = 16 * PACKAGE  # 1 MiB


def _updater(md5: Any):
    def update(parts: list[bytes]) -> None:
        for part in parts:
            md5.update(part)

    return update


async def _encrypt_small(sink: Any, writer: ObjectWriter, chunks: AsyncIterator[bytes], md5: Any) -> None:
    async for chunk in chunks:
        if md5 is not None:
            md5.update(chunk)
        sink.write(writer.encrypt(chunk))
    sink.write(writer.finish())


async def encrypt_into(sink: Any, writer: ObjectWriter, chunks: AsyncIterator[bytes], *, large: bool,
                       md5: Any = None) -> None:
    """Encrypt every chunk into ``sink`` as it arrives, then the final package
    (and feed ``md5`` the plaintext).

    A large body is gathered into batches of about BATCH bytes; each batch is
    encrypted and written on a helper thread and digested on another, while the
    event loop reads the next batch from the client. A chunk of a package or more
    joins its batch as it is (the server's protocol delivers a large body in
    pieces of 2 MiB or so: they are sealed where they lie); runs of smaller
    chunks are copied together, so the helper seals few, large pieces. Memory
    stays bounded: the batch being gathered plus one being sealed and written
    (and digested)."""
    if not large:
        await _encrypt_small(sink, writer, chunks, md5)
        return
    loop = asyncio.get_running_loop()
    digests = Offload(_updater(md5), DIGEST_POOL) if md5 is not None else None
    sealing: asyncio.Future[None] | None = None

    reserve = getattr(sink, "reserve", None)  # a sink that takes the packages in its own buffer

    def seal(parts: list[Any], last: bool) -> None:  # on IO_POOL, one batch at a time, in order
        for part in parts:
            n = writer.sealed_size(len(part))
            room = reserve(n) if reserve is not None and n else None
            if room is None:
                sink.write(writer.encrypt(part))
            else:
                try:
                    writer.encrypt_into(part, room)
                finally:
                    room.release()
                sink.wrote(n)
        if last:
            sink.write(writer.finish())

    async def hand_off(parts: list[Any], last: bool) -> None:
        nonlocal sealing
        if sealing is not None:
            await sealing  # the previous batch is written: the writer is free again
        if digests is not None:
            for part in parts:
                await digests.add(part)
        sealing = loop.run_in_executor(IO_POOL, seal, parts, last)

    parts: list[Any] = []  # the batch being gathered, in order
    small = bytearray()  # consecutive small chunks, copied together
    size = 0

    def close_small() -> None:
        nonlocal small
        if small:
            parts.append(small)
            small = bytearray()

    try:
        async for chunk in chunks:
            n = len(chunk)
            if n >= PACKAGE:
                close_small()
                parts.append(chunk)
            else:
                small += chunk
            size += n
            if size >= BATCH:
                close_small()
                await hand_off(parts, False)
                parts, size = [], 0  # the helper threads own the full batch now
        close_small()
        await hand_off(parts, True)
        pending, sealing = sealing, None
        await pending  # type: ignore[misc]
        if digests is not None:
            await digests.drain()
    except BaseException:
        if sealing is not None:
            await asyncio.gather(sealing, return_exceptions=True)  # no thread writes after the abort
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
