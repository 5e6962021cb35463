"""S3's flexible checksums (x-amz-checksum-*): the algorithms as a table.

Values travel as base64 of the big-endian digest. CRC32C comes from the
``crc32c`` package (hardware accelerated); without it a table-driven fallback
keeps the server correct, only slower.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from typing import Callable, Mapping

from s3presign.core.s3errors import S3Error

try:
    from crc32c import crc32c as _crc32c
except ImportError:  # pragma: no cover - exercised by test_checksums via _crc32c_table
    _crc32c = None


def _make_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE: list[int] = []


def crc32c_table(data: bytes, value: int = 0) -> int:
    """CRC32C (Castagnoli), table-driven: the fallback when the crc32c package is absent."""
    if not _TABLE:
        _TABLE.extend(_make_table())
    table = _TABLE
    crc = value ^ 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


_crc32c_fn: Callable[[bytes, int], int] = _crc32c or crc32c_table


class _Crc:
    __slots__ = ("_fn", "_value")

    def __init__(self, fn: Callable[[bytes, int], int]) -> None:
        self._fn = fn
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


# S3 name -> (factory, digest size in bytes)
ALGORITHMS: dict[str, tuple[Callable[[], object], int]] = {
    "CRC32": (lambda: _Crc(zlib.crc32), 4),
    "CRC32C": (lambda: _Crc(_crc32c_fn), 4),
    "SHA1": (hashlib.sha1, 20),
    "SHA256": (hashlib.sha256, 32),
}
# Algorithms S3 has that this server does not compute: refused, never ignored.
UNSUPPORTED = frozenset({"CRC64NVME"})
PREFIX = "x-amz-checksum-"


def header(algorithm: str) -> str:
    return PREFIX + algorithm.lower()


def new(algorithm: str):  # -> hasher with update()/digest()
    return ALGORITHMS[algorithm][0]()


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def algorithm_of(name: str) -> str:
    """'x-amz-checksum-crc32c' -> 'CRC32C'; NotImplemented or InvalidRequest otherwise."""
    alg = name[len(PREFIX):].upper() if name.startswith(PREFIX) else ""
    if alg in ALGORITHMS:
        return alg
    if alg in UNSUPPORTED:
        raise S3Error("NotImplemented", elements={"Header": name})
    raise S3Error("InvalidRequest", detail=f"Invalid checksum header: {name}")


def check_value(algorithm: str, value: str) -> str:
    """A declared checksum value must be base64 of the right length (InvalidChecksum)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != ALGORITHMS[algorithm][1]:
        raise S3Error("InvalidChecksum", algorithm=algorithm.lower())
    return value


def declared(headers: Mapping[str, str]) -> tuple[str, str | None] | None:
    """The request's checksum: (algorithm, value) from a header, (algorithm, None) for a
    trailer still to come, or None. Two at once is S3's MultipleChecksums."""
    names = [n for n in headers if n.startswith(PREFIX) and n != "x-amz-checksum-type"]
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if trailer:
        if not trailer.startswith(PREFIX):
            raise S3Error("InvalidRequest", detail=f"Unsupported trailer: {trailer}")
        names.append(trailer)
    if len(names) > 1:
        raise S3Error("MultipleChecksums")
    sdk = headers.get("x-amz-sdk-checksum-algorithm")
    if not names:
        if sdk:
            raise S3Error("ChecksumAlgorithmWithoutValue")
        return None
    alg = algorithm_of(names[0])
    if sdk and sdk.upper() != alg:
        raise S3Error("ChecksumAlgorithmMismatch")
    if trailer:
        return alg, None
    return alg, check_value(alg, headers[names[0]])
