"""The on-disk encryption format: a stream of authenticated AES-256-GCM packages.

A plaintext stream is cut into packages of ``PACKAGE`` (64 KiB) bytes; only the
last may be shorter (an empty stream is one empty package). Each package is
stored as its ciphertext plus one 16-byte GCM tag per layer, with no per-package
header on disk, so package ``i`` starts at ``i * stride`` and a range read
decrypts only the packages it touches.

Why each piece is there:

- the nonce of package ``i`` is the stream's random 96-bit nonce XOR ``i``:
  reordering or dropping packages breaks authentication;
- the associated data (the package header, never stored) carries the format
  version, the layer and a *final* flag: truncation at a package boundary makes
  the new last package fail, and so does appending;
- several layers (DSSE) are independent keys applied in turn to each package,
  so every layer authenticates on its own.

Keys and nonces come from the caller (``Layer``); each stream must have a fresh
(key, nonce) pair per layer, which :mod:`server.encryption` guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol, Sequence, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3presign.core.s3errors import S3Error

PACKAGE = 64 * 1024
TAG = 16
NONCE = 12
VERSION = 1
_MAGIC = b"s3presign-sio"

Buffer = Union[bytes, bytearray, memoryview]


class IntegrityError(S3Error):
    """Stored bytes or a sealed key failed authentication: never returned as data.

    Rendered as S3's 500 InternalError (the client did nothing wrong);
    ``detail`` says what failed, for the server's log.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("InternalError")
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Layer:
    """One encryption layer of a stream: a 256-bit key and a 96-bit nonce base."""

    key: bytes
    nonce: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32 or len(self.nonce) != NONCE:
            raise ValueError("a layer needs a 32-byte key and a 12-byte nonce")


class _Cipher:
    """A layer ready to use: the AEAD, the nonce base and both headers precomputed."""

    __slots__ = ("aead", "base", "aad")

    def __init__(self, layer: Layer, index: int) -> None:
        self.aead = AESGCM(layer.key)
        self.base = int.from_bytes(layer.nonce, "big")
        prefix = _MAGIC + bytes([VERSION, index])
        self.aad = (prefix + b"\x00", prefix + b"\x01")

    def nonce(self, seq: int) -> bytes:
        return (self.base ^ seq).to_bytes(NONCE, "big")


def prepare(layers: Sequence[Layer]) -> "_Layers | None":
    """The ciphers of a single-layer stream, made once for many Decryptors of it
    (building an AEAD costs more than opening a small object's package). Several
    layers use scratch buffers, so each Decryptor keeps its own: None."""
    return _Layers(layers) if len(layers) == 1 else None


class _Layers:
    """All layers of a stream: seal or open one package straight into an output
    buffer (``*_into``), with scratch space between layers, so that a 1 MiB write
    costs one allocation instead of one per package."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        if not layers:
            raise ValueError("a stream needs at least one layer")
        self.ciphers = [_Cipher(layer, i) for i, layer in enumerate(layers)]
        self.overhead = TAG * len(layers)
        self._scratch = [memoryview(bytearray(PACKAGE + TAG * i)) for i in range(1, len(layers))]

    def seal(self, seq: int, final: int, plain: Buffer, out: memoryview) -> None:
        """Encrypt ``plain`` through every layer into ``out`` (len(plain) + overhead)."""
        last = len(self.ciphers) - 1
        for i, c in enumerate(self.ciphers):
            dest = out if i == last else self._scratch[i][: len(plain) + TAG]
            c.aead.encrypt_into(c.nonce(seq), plain, c.aad[final], dest)
            plain = dest

    def open(self, seq: int, final: int, sealed: Buffer, out: memoryview) -> None:
        """Decrypt ``sealed`` through every layer (outermost first) into ``out``.

        On failure ``out`` may hold unverified bytes: the caller discards it."""
        top = len(self.ciphers) - 1
        try:
            for i in range(top, -1, -1):
                c = self.ciphers[i]
                dest = out if i == 0 else self._scratch[i - 1][: len(sealed) - TAG]
                c.aead.decrypt_into(c.nonce(seq), sealed, c.aad[final], dest)
                sealed = dest
        except InvalidTag:
            raise IntegrityError(f"package {seq} failed authentication") from None


def open_whole(prepared: _Layers, plain_size: int, sealed: bytes) -> bytes | None:
    """The plaintext of a single-layer stream of one package, from all its stored
    bytes, in one call (a small GET); None if ``sealed`` is not exactly that package
    (the Decryptor then says what is wrong)."""
    if plain_size > PACKAGE or len(prepared.ciphers) != 1 or len(sealed) != plain_size + TAG:
        return None
    c = prepared.ciphers[0]
    try:
        return c.aead.decrypt(c.nonce(0), sealed, c.aad[1])
    except InvalidTag:
        raise IntegrityError("package 0 failed authentication") from None


def packages(plain_size: int) -> int:
    """How many packages a stream of ``plain_size`` bytes has (at least one)."""
    return max(1, -(-plain_size // PACKAGE))


def stored_size(plain_size: int, layers: int = 1) -> int:
    """The stored size of a stream: the plaintext plus one tag per package and layer."""
    return plain_size + packages(plain_size) * TAG * layers


def cipher_range(plain_size: int, start: int, end: int, layers: int = 1) -> tuple[int, int]:
    """(offset, length) of the stored bytes that hold plaintext ``start..end`` (inclusive).

    An empty range (``end == start - 1``) on an empty stream still covers its
    one empty package, so that reading an empty object is authenticated too.
    """
    _check_range(plain_size, start, end)
    if end < start:
        return (0, stored_size(0, layers)) if plain_size == 0 else (0, 0)
    stride = PACKAGE + TAG * layers
    first, last = start // PACKAGE, end // PACKAGE
    offset = first * stride
    return offset, min((last + 1) * stride, stored_size(plain_size, layers)) - offset


def _check_range(plain_size: int, start: int, end: int) -> None:
    if start < 0 or end < start - 1 or end >= plain_size:
        raise ValueError(f"range {start}-{end} outside a stream of {plain_size} bytes")


class Encryptor:
    """Streams plaintext in, packages out. Holds back at most one package, because
    the last package is only known to be final when the stream ends.

    Output is a ``bytearray`` (bytes-like: write it, hash it, send it) so that a
    chunk is sealed straight into the buffer returned, with no copy.
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        self._layers = _Layers(layers)
        self._stride = PACKAGE + self._layers.overhead
        self._pending = bytearray()
        self._seq = 0
        self.size = 0
        self._done = False

    def update(self, data: Buffer) -> bytearray:
        out = bytearray(self.sealed_size(len(data)))
        self.update_into(data, out)
        return out

    def sealed_size(self, n: int) -> int:
        """How many bytes :meth:`update` of ``n`` more plaintext bytes returns."""
        if self._pending:
            rest = n - min(PACKAGE - len(self._pending), n)
            ready = 1 + (rest - 1) // PACKAGE if rest else 0
        else:
            ready = (n - 1) // PACKAGE if n else 0
        return ready * self._stride

    def update_into(self, data: Buffer, out: Buffer) -> None:
        """:meth:`update`, sealed into ``out`` (exactly ``sealed_size(len(data))`` bytes,
        e.g. a writer's own buffer, so the packages are never copied)."""
        if self._done:
            raise ValueError("stream already finished")
        self.size += len(data)
        with memoryview(data) as view:
            rest = _fill(self._pending, view, PACKAGE) if self._pending else view
            if not len(rest):
                return  # the pending package may still be the final one
            ready = [memoryview(self._pending)] if self._pending else []
            count = (len(rest) - 1) // PACKAGE  # keep the last (possibly final) package
            ready += [rest[i * PACKAGE:(i + 1) * PACKAGE] for i in range(count)]
            with memoryview(out) as dest:
                if len(dest) != len(ready) * self._stride:
                    raise ValueError("output buffer of the wrong size")
                for i, plain in enumerate(ready):
                    self._layers.seal(self._seq, 0, plain, dest[i * self._stride:(i + 1) * self._stride])
                    self._seq += 1
            self._pending = bytearray(rest[count * PACKAGE:])

    def finish(self) -> bytearray:
        if self._done:
            raise ValueError("stream already finished")
        self._done = True
        out = bytearray(len(self._pending) + self._layers.overhead)
        with memoryview(out) as dest:
            self._layers.seal(self._seq, 1, self._pending, dest)
        self._pending = bytearray()
        return out


class Decryptor:
    """Stored bytes of one range in, exactly that plaintext range out.

    Feed it the bytes :func:`cipher_range` names, in order, in chunks of any
    size (so an async file reader can drive it), then call :meth:`close`,
    which fails if the stored bytes ended early. Plaintext comes out only after
    its package's tags (every layer's) have been verified.
    """

    def __init__(self, layers: Sequence[Layer], plain_size: int, start: int, end: int,
                 prepared: "_Layers | None" = None) -> None:
        _check_range(plain_size, start, end)
        self._layers = prepared if prepared is not None else _Layers(layers)
        self._overhead = self._layers.overhead
        self._plain_size = plain_size
        self._final = packages(plain_size) - 1
        if end < start and plain_size:
            self._seq, self._last = 1, 0  # nothing to read at all
        else:
            self._seq, self._last = start // PACKAGE, max(end, 0) // PACKAGE
        self._skip = start - self._seq * PACKAGE
        self._end = end
        self._pending = bytearray()

    def _expected(self, seq: int) -> int:
        """Stored length of package ``seq``."""
        plain = PACKAGE if seq < self._final else self._plain_size - seq * PACKAGE
        return plain + self._overhead

    def feed(self, data: Buffer) -> bytearray:
        with memoryview(data) as view:
            ready: list[memoryview] = []
            rest = view
            while self._seq + len(ready) <= self._last and len(rest):
                need = self._expected(self._seq + len(ready))
                if self._pending or len(rest) < need:  # a package split across feeds
                    rest = _fill(self._pending, rest, need)
                    if len(self._pending) < need:
                        break
                    ready.append(memoryview(self._pending))
                    self._pending = bytearray()  # a new one: the view keeps the old
                else:
                    ready.append(rest[:need])
                    rest = rest[need:]
            if len(rest):
                raise IntegrityError("stored data continues past the end of the range")
            return self._open(ready)

    def _open(self, ready: list[memoryview]) -> bytearray:
        """Decrypt whole packages into one buffer, then cut it to the range."""
        sizes = [len(sealed) - self._overhead for sealed in ready]
        out = bytearray(sum(sizes))
        with memoryview(out) as dest:
            pos = 0
            for sealed, size in zip(ready, sizes):
                final = 1 if self._seq == self._final else 0
                self._layers.open(self._seq, final, sealed, dest[pos:pos + size])
                self._seq += 1
                pos += size
        if ready and self._seq > self._last:  # the range ends in the last package opened
            del out[len(out) - sizes[-1] + self._end - self._last * PACKAGE + 1:]
        if ready and self._skip:
            del out[: self._skip]
            self._skip = 0
        return out

    def close(self) -> bytearray:
        if self._seq <= self._last:
            raise IntegrityError(f"stored data ends early, before package {self._seq}")
        return bytearray()


def _fill(pending: bytearray, view: memoryview, size: int) -> memoryview:
    """Top ``pending`` up towards ``size`` bytes from ``view``; return the rest.

    Used only for a package split across two writes: whole ones are used in place.
    """
    take = max(0, min(size - len(pending), len(view)))
    pending += view[:take]
    return view[take:]


class PushDecryptor(Protocol):
    """What the endpoint drives: a :class:`Decryptor`, or a chain of them (multipart)."""

    def feed(self, data: Buffer) -> bytearray: ...
    def close(self) -> bytearray: ...


def drive(dec: PushDecryptor, chunks: Iterable[Buffer]) -> Iterator[bytearray]:
    """Pull-style decryption: feed ``chunks`` through ``dec`` and yield what comes out."""
    for chunk in chunks:
        out = dec.feed(chunk)
        if out:
            yield out
    dec.close()


def decrypt_range(
    layers: Sequence[Layer], plain_size: int, chunks: Iterable[Buffer], start: int, end: int
) -> Iterator[bytearray]:
    """Yield plaintext ``start..end`` from the stored chunks of :func:`cipher_range`."""
    return drive(Decryptor(layers, plain_size, start, end), chunks)
