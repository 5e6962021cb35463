"""aws-chunked request bodies: the decoder behind SigV4 streaming uploads.

Wire format (``hex-size[;chunk-signature=SIG]\\r\\n data \\r\\n`` ..., a zero-size
chunk, then either ``\\r\\n`` or trailing headers and a blank line). The decoder
is a push parser (``feed``/``close``) so it never buffers more than one header
line: chunk data is passed through as it arrives, and each chunk's signature is
checked when the chunk ends. Nothing reaches storage's final name until the
whole body has verified, so passing data through early is safe.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from s3presign.core.s3errors import S3Error

MIN_CHUNK = 8192  # S3: every chunk but the last must carry at least 8 KiB
_MAX_LINE = 4096
_HEX = frozenset(b"0123456789abcdefABCDEF")
_HEADER, _DATA, _DATA_END, _TRAILER, _FINAL, _DONE = range(6)


class ChunkVerifier(Protocol):
    def verify_chunk(self, chunk_sha256_hex: str, signature: str) -> bool: ...
    def verify_trailer(self, trailer_text: str, signature: str) -> bool: ...


def _malformed() -> S3Error:
    return S3Error("MalformedChunkedEncoding")


class AwsChunkedDecoder:
    """Decodes one aws-chunked body.

    ``verifier`` is None for unsigned streaming (STREAMING-UNSIGNED-PAYLOAD-TRAILER);
    ``trailer`` says whether trailing headers follow the last chunk.
    """

    def __init__(self, verifier: ChunkVerifier | None, trailer: bool) -> None:
        self._verifier = verifier
        self._expect_trailer = trailer
        self._state = _HEADER
        self._buf = b""
        self._left = 0
        self._sig = ""
        self._hash = hashlib.sha256() if verifier else None
        self._last_size = -1
        self.trailers: dict[str, str] = {}
        self._trailer_sig: str | None = None
        self._trailer_lines: list[str] = []

    def feed(self, data: bytes) -> list[bytes]:
        """Payload bytes contained in ``data`` (possibly none)."""
        out: list[bytes] = []
        buf = self._buf + data if self._buf else data
        self._buf = b""
        pos, n = 0, len(buf)
        while pos < n:
            state = self._state
            if state == _DATA:
                take = min(self._left, n - pos)
                piece = buf[pos:pos + take]
                if self._hash is not None:
                    self._hash.update(piece)
                out.append(piece)
                pos += take
                self._left -= take
                if self._left == 0:
                    self._state = _DATA_END
            elif state == _DATA_END:
                if n - pos < 2:
                    break
                if buf[pos:pos + 2] != b"\r\n":
                    raise _malformed()
                pos += 2
                self._end_chunk()
            elif state == _DONE:
                raise _malformed()
            else:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    if n - pos > _MAX_LINE:
                        raise _malformed()
                    break
                line = buf[pos:end]
                pos = end + 2
                self._line(line)
        if pos < n:
            self._buf = bytes(buf[pos:])
            if len(self._buf) > _MAX_LINE and self._state != _DATA:
                raise _malformed()
        return out

    def _line(self, line: bytes) -> None:
        state = self._state
        if state == _HEADER:
            self._chunk_header(line)
        elif state == _TRAILER:
            self._trailer_line(line)
        elif state == _FINAL:
            if line:
                raise _malformed()
            self._state = _DONE

    def _chunk_header(self, line: bytes) -> None:
        size_text, _, ext = line.partition(b";")
        # int(x, 16) would also take "+a", "0x1f", "1_0" and white space
        if not 0 < len(size_text) <= 16 or not _HEX.issuperset(size_text):
            raise _malformed()
        size = int(size_text, 16)
        if self._verifier is not None:
            name, _, sig = ext.partition(b"=")
            if name.strip() != b"chunk-signature" or not sig:
                raise _malformed()
            self._sig = sig.strip().decode("latin-1")
            if 0 < self._last_size < MIN_CHUNK and size > 0:
                raise S3Error("InvalidChunkSize")
        self._last_size = size
        if size == 0:
            self._end_chunk()
        else:
            self._left = size
            self._state = _DATA

    def _end_chunk(self) -> None:
        """A chunk is complete: check its signature, then read the next header."""
        if self._hash is not None:
            digest = self._hash.hexdigest()
            self._hash = hashlib.sha256()
            if not self._verifier.verify_chunk(digest, self._sig):  # type: ignore[union-attr]
                raise S3Error("ChunkSignatureDoesNotMatch")
        if self._last_size == 0:
            self._state = _TRAILER if self._expect_trailer else _FINAL
        else:
            self._state = _HEADER

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._finish_trailer()
            return
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise _malformed()
        name, value = name.strip().lower(), value.strip()
        if name == "x-amz-trailer-signature":
            self._trailer_sig = value
        else:
            self.trailers[name] = value
            self._trailer_lines.append(f"{name}:{value}\n")

    def _finish_trailer(self) -> None:
        if self._verifier is not None:
            if self._trailer_sig is None or not self._verifier.verify_trailer(
                "".join(self._trailer_lines), self._trailer_sig
            ):
                raise S3Error("ChunkSignatureDoesNotMatch")
        self._state = _DONE

    def close(self) -> None:
        """The body ended: it must have ended exactly at the end of the encoding."""
        if self._state == _TRAILER and not self._buf:
            self._finish_trailer()  # a trailer section may end without its blank line
        elif self._state == _FINAL and not self._buf:
            self._state = _DONE  # some clients omit the final CRLF
        if self._state != _DONE or self._buf:
            raise S3Error("IncompleteBody")
