"""Helper threads for the large-body paths, so hashing and disk I/O overlap the
event loop's own work (hashlib and file I/O release the GIL; AES-GCM does not).

Small requests never come here: a thread hop costs more than the work it saves.
Work is batched (about 1 MiB) so the hand-offs are few, and few batches of one
stream are in flight at a time, so memory stays bounded and the order is kept.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator, Callable, Iterator

BATCH = 1 << 20
DEPTH = 2  # batches of one Offload queued or running at once
DIGEST_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="s3presign-digest")
IO_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="s3presign-io")


class Offload:
    """Feeds byte pieces to ``fn(list_of_pieces)`` on a pool thread, in order.

    Up to ``DEPTH`` batches wait or run at once, and one pool task runs them one
    after another: the thread goes from a batch to the next without waiting for
    the event loop to hand it over (on a large PUT the MD5 thread sets the pace,
    and each hand-off through the loop cost it idle time)."""

    __slots__ = ("_fn", "_pool", "_parts", "_size", "_lock", "_queue", "_busy", "_running",
                 "_error", "_waiter", "_loop")

    def __init__(self, fn: Callable[[list[bytes]], None], pool: ThreadPoolExecutor) -> None:
        self._fn = fn
        self._pool = pool
        self._parts: list[bytes] = []
        self._size = 0
        self._lock = threading.Lock()  # the fields below are shared with the pool thread
        self._queue: deque[list[bytes]] = deque()
        self._busy = 0  # batches queued or running
        self._running = False  # a pool task is draining the queue
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def add(self, data: bytes) -> None:
        if data:
            self._parts.append(data)
            self._size += len(data)
            if self._size >= BATCH:
                await self._submit()

    async def _submit(self) -> None:
        parts, self._parts, self._size = self._parts, [], 0
        await self._until(lambda: self._busy < DEPTH)
        with self._lock:
            self._busy += 1
            self._queue.append(parts)
            start, self._running = not self._running, True
        if start:
            try:
                self._pool.submit(self._run)
            except BaseException:  # e.g. the pool is shut down: nothing will run the queue
                with self._lock:
                    self._queue.clear()
                    self._busy = 0
                    self._running = False
                raise

    def _run(self) -> None:  # on the pool thread
        while True:
            with self._lock:
                if not self._queue:
                    self._running = False
                    self._wake()
                    return
                parts = self._queue.popleft()
            try:
                self._fn(parts)
            except BaseException as e:
                with self._lock:
                    self._error = e
                    self._queue.clear()
                    self._busy = 0
                    self._running = False
                    self._wake()
                return
            with self._lock:
                self._busy -= 1
                self._wake()

    def _wake(self) -> None:  # with the lock held
        waiter, self._waiter = self._waiter, None
        if waiter is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_resolve, waiter)

    async def _until(self, ready: Callable[[], bool]) -> None:
        """Wait until ``ready()`` (checked under the lock); a failed batch raises here."""
        while True:
            with self._lock:
                if self._error is not None:
                    raise self._error
                if ready():
                    return
                self._loop = asyncio.get_running_loop()
                waiter = self._waiter = self._loop.create_future()
            await waiter

    async def drain(self) -> None:
        """Everything added so far has been processed (errors re-raised here)."""
        if self._parts:
            await self._submit()
        await self._until(lambda: self._busy == 0)

    async def settle(self) -> None:
        """Wait for the batches in flight, ignoring their outcome (before abandoning)."""
        self._parts = []
        while True:
            with self._lock:
                if self._busy == 0 or self._error is not None:
                    return
                self._loop = asyncio.get_running_loop()
                waiter = self._waiter = self._loop.create_future()
            await waiter


def _resolve(waiter: "asyncio.Future[None]") -> None:
    if not waiter.done():
        waiter.set_result(None)


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
