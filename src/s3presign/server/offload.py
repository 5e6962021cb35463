"""Helper threads for the large-body paths, so hashing and disk I/O overlap the
event loop's own work (hashlib and file I/O release the GIL; AES-GCM does not).

Small requests never come here: a thread hop costs more than the work it saves.
Work is batched (about 1 MiB) so the hand-offs are few, and one batch at a time
is in flight, so memory stays bounded and the order is kept.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator, Callable, Iterator

BATCH = 1 << 20
DIGEST_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="s3presign-digest")
IO_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="s3presign-io")


class Offload:
    """Feeds byte pieces to ``fn(list_of_pieces)`` on a pool thread, in order."""

    __slots__ = ("_fn", "_pool", "_parts", "_size", "_pending")

    def __init__(self, fn: Callable[[list[bytes]], None], pool: ThreadPoolExecutor) -> None:
        self._fn = fn
        self._pool = pool
        self._parts: list[bytes] = []
        self._size = 0
        self._pending: asyncio.Future[None] | None = None

    async def add(self, data: bytes) -> None:
        if data:
            self._parts.append(data)
            self._size += len(data)
            if self._size >= BATCH:
                await self._submit()

    async def _submit(self) -> None:
        if self._pending is not None:
            await self._pending
        parts, self._parts, self._size = self._parts, [], 0
        self._pending = asyncio.get_running_loop().run_in_executor(self._pool, self._fn, parts)

    async def drain(self) -> None:
        """Everything added so far has been processed (errors re-raised here)."""
        if self._parts:
            await self._submit()
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await pending

    async def settle(self) -> None:
        """Wait for the batch in flight, ignoring its outcome (before abandoning)."""
        if self._pending is not None:
            await asyncio.gather(self._pending, return_exceptions=True)
            self._pending = None


async def read_ahead(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Iterate a blocking reader on a pool thread, one chunk ahead of the consumer."""
    loop = asyncio.get_running_loop()
    pending = loop.run_in_executor(IO_POOL, next, chunks, None)
    try:
        while True:
            chunk = await pending
            if chunk is None:
                return
            pending = loop.run_in_executor(IO_POOL, next, chunks, None)
            yield chunk
    finally:
        await asyncio.gather(pending, return_exceptions=True)
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
