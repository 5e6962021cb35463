"""S3's flexible checksums (x-amz-checksum-*): the algorithms as a table.

Values travel as base64 of the big-endian digest. CRC32C comes from the
``crc32c`` package (hardware accelerated); without it a table-driven fallback
keeps the server correct, only slower. CRC64NVME, and the CRC combination that
multipart FULL_OBJECT checksums need, come from ``awscrt`` (the library botocore
itself uses for CRC64NVME), imported on first use.

Multipart checksums, as S3 defines them per algorithm:
- COMPOSITE (CRC32, CRC32C, SHA1, SHA256): the algorithm over the concatenated raw
  part checksums, then ``-N`` (N parts): ``base64(H(c1 || c2 || ...))-N``.
- FULL_OBJECT (CRC32, CRC32C, CRC64NVME): the CRC of the whole object, obtained from
  the parts' CRCs and lengths by CRC combination, without reading any byte again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from functools import lru_cache
from typing import Callable, Iterable, Mapping

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


@lru_cache(maxsize=1)
def _crt():  # awscrt.checksums, loaded when a CRC64NVME or a combination is first needed
    from awscrt import checksums as crt

    return crt


def _crc64nvme(data: bytes, value: int = 0) -> int:
    return _crt().crc64nvme(data, value)


class _Crc:
    __slots__ = ("_fn", "_value", "_size")

    def __init__(self, fn: Callable[[bytes, int], int], size: int = 4) -> None:
        self._fn = fn
        self._value = 0
        self._size = size

    def update(self, data: bytes) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


# S3 name -> (factory, digest size in bytes)
ALGORITHMS: dict[str, tuple[Callable[[], object], int]] = {
    "CRC32": (lambda: _Crc(zlib.crc32), 4),
    "CRC32C": (lambda: _Crc(_crc32c_fn), 4),
    "CRC64NVME": (lambda: _Crc(_crc64nvme, 8), 8),
    "SHA1": (hashlib.sha1, 20),
    "SHA256": (hashlib.sha256, 32),
}
# Algorithms S3 has that this server does not compute: refused, never ignored.
UNSUPPORTED = frozenset({"SHA512", "MD5", "XXHASH64", "XXHASH3", "XXHASH128"})
PREFIX = "x-amz-checksum-"

COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"
# Multipart checksum types each algorithm allows, the first being S3's default.
CHECKSUM_TYPES: dict[str, tuple[str, ...]] = {
    "CRC32": (COMPOSITE, FULL_OBJECT),
    "CRC32C": (COMPOSITE, FULL_OBJECT),
    "CRC64NVME": (FULL_OBJECT,),
    "SHA1": (COMPOSITE,),
    "SHA256": (COMPOSITE,),
}


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


# --- multipart checksums -----------------------------------------------------------------


def checksum_type(algorithm: str, declared_type: str | None) -> str:
    """CreateMultipartUpload's x-amz-checksum-type for ``algorithm``: S3's default when
    absent; a type the algorithm cannot have is refused."""
    allowed = CHECKSUM_TYPES[algorithm]
    if declared_type is None:
        return allowed[0]
    t = declared_type.strip().upper()
    if t not in (COMPOSITE, FULL_OBJECT):
        raise S3Error("InvalidRequest", detail="Value for x-amz-checksum-type header is invalid.")
    if t not in allowed:
        raise S3Error("ChecksumTypeNotSupported", type=t, algorithm=algorithm.lower())
    return t


def decode(value: str) -> bytes:
    return base64.b64decode(value)


def composite(algorithm: str, part_digests: Iterable[bytes]) -> str:
    """COMPOSITE: ``base64(H(d1 || d2 || ... || dN))-N`` over the raw part digests."""
    h = new(algorithm)
    n = 0
    for d in part_digests:
        h.update(d)  # type: ignore[attr-defined]
        n += 1
    return f"{encode(h.digest())}-{n}"  # type: ignore[attr-defined]


_COMBINE = {"CRC32": "combine_crc32", "CRC32C": "combine_crc32c", "CRC64NVME": "combine_crc64nvme"}


def combine(algorithm: str, crc1: int, crc2: int, length2: int) -> int:
    """CRC(A || B) from CRC(A), CRC(B) and len(B)."""
    return getattr(_crt(), _COMBINE[algorithm])(crc1, crc2, length2)


def full_object(algorithm: str, parts: Iterable[tuple[bytes, int]]) -> str:
    """FULL_OBJECT: the whole object's CRC from (part digest, part length) pairs in order."""
    if algorithm not in _COMBINE:
        raise ValueError(f"{algorithm} has no FULL_OBJECT multipart checksum")
    value = 0
    first = True
    for digest, length in parts:
        crc = int.from_bytes(digest, "big")
        value = crc if first else combine(algorithm, value, crc, length)
        first = False
    return encode(value.to_bytes(ALGORITHMS[algorithm][1], "big"))


def multipart(algorithm: str, ctype: str, parts: Iterable[tuple[bytes, int]]) -> str:
    """The object's checksum at CompleteMultipartUpload, per its checksum type."""
    if ctype == FULL_OBJECT:
        return full_object(algorithm, parts)
    return composite(algorithm, (d for d, _ in parts))
