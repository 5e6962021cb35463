"""A streaming multipart/form-data reader for POST object uploads.

The form's text fields are read whole (they are small and capped); the file
is handed on chunk by chunk as it arrives, so an upload of any size needs
memory for one chunk plus one boundary. Any malformation is S3's
MalformedPOSTRequest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import AsyncIterator

from s3presign.core.s3errors import S3Error

MAX_PART_HEADERS = 16 * 1024
_PARAM = re.compile(r';\s*([A-Za-z0-9_.*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass(frozen=True)
class FormPart:
    """One part's headers: its field name, file name (if any) and content type."""

    name: str
    filename: str | None
    content_type: str | None


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a multipart/form-data Content-Type."""
    for name, value in _PARAM.findall(";" + content_type.partition(";")[2]):
        if name.lower() == "boundary":
            value = value.strip()
            if value.startswith('"'):
                value = value[1:-1]
            if 0 < len(value) <= 200:
                return value.encode("latin-1")
    raise S3Error("MalformedPOSTRequest")


def _params(value: str) -> dict[str, str]:
    out = {}
    for name, raw in _PARAM.findall(";" + value.partition(";")[2]):
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        out[name.lower()] = raw
    return out


def _malformed() -> S3Error:
    return S3Error("MalformedPOSTRequest")


class FormReader:
    """Reads parts in order: :meth:`next_part`, then :meth:`value` or :meth:`chunks`."""

    def __init__(self, stream: AsyncIterator[bytes], boundary: bytes) -> None:
        self._stream = stream
        # A leading CRLF makes the first boundary look like every later one.
        self._buf = bytearray(b"\r\n")
        self._delim = b"\r\n--" + boundary
        self._in_body = False
        self._done = False

    async def _fill(self) -> bool:
        """Append the next chunk of the request body; False at its end."""
        try:
            chunk = await anext(self._stream)
        except StopAsyncIteration:
            return False
        self._buf += chunk
        return True

    async def _need(self, size: int) -> None:
        while len(self._buf) < size:
            if not await self._fill():
                raise _malformed()

    async def next_part(self) -> FormPart | None:
        """The next part's headers, or None after the closing boundary."""
        if self._done:
            return None
        if self._in_body:
            async for _ in self.chunks():
                pass
        delim, buf = self._delim, self._buf
        while (at := buf.find(delim)) < 0:  # skipping any preamble
            del buf[: max(0, len(buf) - len(delim))]
            if not await self._fill():
                raise _malformed()
        del buf[: at + len(delim)]
        await self._need(2)
        if buf[:2] == b"--":
            self._done = True
            return None
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if len(buf) > MAX_PART_HEADERS or not await self._fill():
                raise _malformed()
        head = bytes(buf[:end]).decode("utf-8", "replace")
        del buf[: end + 4]
        headers = {}
        for line in head.split("\r\n")[1:]:  # the first is the rest of the boundary line
            name, sep, value = line.partition(":")
            if not sep:
                raise _malformed()
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = _params(disposition)
        if not disposition.lower().startswith("form-data") or "name" not in params:
            raise _malformed()
        self._in_body = True
        return FormPart(params["name"], params.get("filename"), headers.get("content-type"))

    async def chunks(self) -> AsyncIterator[bytes]:
        """The current part's body as it arrives (never more than a chunk held)."""
        delim, buf = self._delim, self._buf
        keep = len(delim) - 1  # a boundary may be split across chunks
        while True:
            at = buf.find(delim)
            if at >= 0:
                if at:
                    yield bytes(buf[:at])
                del buf[:at]
                self._in_body = False
                return
            if len(buf) > keep:
                ready = bytes(buf[: len(buf) - keep])
                del buf[: len(buf) - keep]
                yield ready
            if not await self._fill():
                raise _malformed()

    async def value(self, limit: int) -> bytes:
        """The current part's whole body, at most ``limit`` bytes."""
        parts, size = [], 0
        async for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                raise S3Error("MaxPostPreDataLengthExceeded")
            parts.append(chunk)
        return b"".join(parts)

    async def drain(self) -> None:
        """Read (and ignore) whatever follows, so the connection stays usable."""
        async for _ in self._stream:
            pass
