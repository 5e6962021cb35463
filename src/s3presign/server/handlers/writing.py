"""Streaming a body through an encryptor onto disk: the one loop every write path
(multipart parts, POST object) shares."""

from __future__ import annotations

from typing import AsyncIterator

from s3presign.server.encryption import ObjectWriter
from s3presign.server.offload import IO_POOL, Offload
from s3presign.server.storage import ObjectSink

LARGE_BODY = 1 << 20  # from this size on, disk writes go to a helper thread


def _write_all(sink: ObjectSink):
    def write(parts: list[bytes]) -> None:
        for part in parts:
            sink.write(part)

    return write


async def encrypt_into(sink: ObjectSink, writer: ObjectWriter, chunks: AsyncIterator[bytes], *, large: bool) -> None:
    """Encrypt every chunk into ``sink`` as it arrives, then the final package.

    Memory stays bounded: one chunk (plus one batch being written) at a time.
    Large bodies overlap the disk writes with encryption on the event loop."""
    writes = Offload(_write_all(sink), IO_POOL) if large else None
    try:
        async for chunk in chunks:
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
    except BaseException:
        if writes is not None:
            await writes.settle()
        raise
