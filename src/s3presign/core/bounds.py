"""Bound uploads: the Content-Length, Content-MD5 and x-amz-checksum-* a PUT URL signs.

A pre-signed PUT otherwise accepts any body; with one of these signed, S3
refuses a body of another size (the signature no longer matches) or another
content (BadDigest). Loaded only when a bound is asked for.
"""

from __future__ import annotations

import base64
import binascii

from .errors import PresignError

# S3's flexible-checksum algorithms: name -> digest size in bytes.
CHECKSUMS = {"crc32": 4, "crc32c": 4, "crc64nvme": 8, "sha1": 20, "sha256": 32}
CHECKSUM_PREFIX = "x-amz-checksum-"
# Methods whose request body a bound describes.
BOUNDED_METHODS = frozenset({"PUT"})


def checksum_algorithm(name: str) -> str:
    alg = name.strip().lower().replace("-", "") if isinstance(name, str) else ""
    if alg not in CHECKSUMS:
        raise PresignError(
            f"unknown checksum algorithm {name!r}; use one of {', '.join(CHECKSUMS)} (--checksum ALG[:VALUE])"
        )
    return alg


def _b64_of_size(value: object, size: int, what: str) -> str:
    if isinstance(value, (bytes, bytearray)) and len(value) == size:
        return base64.b64encode(bytes(value)).decode()
    raw = b""
    if isinstance(value, str):
        text = value.strip()
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != size and len(text) == 2 * size:
            try:
                raw = bytes.fromhex(text)  # hex is accepted and sent as S3 wants it: base64
            except ValueError:
                raw = b""
    if len(raw) != size:
        raise PresignError(
            f"{what} {value!r} is not base64 (or hex) of {size} bytes; give the digest S3 expects, "
            "e.g. `openssl dgst -binary FILE | base64`, or let --for-file compute it"
        )
    return base64.b64encode(raw).decode()


def bound_headers(
    method: str,
    signature_version: str,
    content_length: int | None,
    content_md5: str | bytes | None,
    checksum: tuple[str, str | bytes] | None,
) -> dict[str, str]:
    """The headers to sign for the requested bounds (PresignError names what is wrong)."""
    if method not in BOUNDED_METHODS:
        raise PresignError(
            f"content_length / content_md5 / checksum bind an upload's body; {method} sends none — "
            "use them with PUT"
        )
    out: dict[str, str] = {}
    if content_length is not None:
        if not isinstance(content_length, int) or isinstance(content_length, bool) or content_length < 0:
            raise PresignError(f"content_length={content_length!r} must be a whole number of bytes, 0 or more")
        if content_length > 5 * 1024**3:
            raise PresignError(
                f"content_length={content_length} exceeds S3's 5 GiB limit for one PUT; use a multipart upload"
            )
        if signature_version != "v4":
            raise PresignError(
                "Signature Version 2 does not sign Content-Length, so it cannot bind an upload's size; "
                "use signature_version='v4' (--signature-version v4)"
            )
        out["content-length"] = str(content_length)
    if content_md5 is not None:
        out["content-md5"] = _b64_of_size(content_md5, 16, "content_md5")
    if checksum is not None:
        if not isinstance(checksum, (tuple, list)) or len(checksum) != 2:
            raise PresignError("checksum= takes (algorithm, value), e.g. ('sha256', 'base64 digest')")
        alg = checksum_algorithm(checksum[0])
        out[CHECKSUM_PREFIX + alg] = _b64_of_size(checksum[1], CHECKSUMS[alg], f"{alg} checksum")
    return out


# --- computing a file's bounds (`--for-file`) -----------------------------------


def _crc_table(poly: int) -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


class _ReflectedCrc:
    """A reflected CRC (CRC32C, CRC64NVME) where the standard library has none."""

    def __init__(self, poly: int, width: int) -> None:
        self._table = _crc_table(poly)
        self._mask = (1 << width) - 1
        self._crc = self._mask
        self._width = width

    def update(self, data: bytes) -> None:
        table, crc = self._table, self._crc
        for b in data:
            crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
        self._crc = crc

    def digest(self) -> bytes:
        return (self._crc ^ self._mask).to_bytes(self._width // 8, "big")


class _Crc32:
    def __init__(self) -> None:
        import zlib

        self._zlib, self._crc = zlib, 0

    def update(self, data: bytes) -> None:
        self._crc = self._zlib.crc32(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big")


def new_hasher(algorithm: str):  # -> object with update()/digest()
    alg = checksum_algorithm(algorithm)
    if alg in ("sha1", "sha256"):
        import hashlib

        return hashlib.new(alg)
    if alg == "crc32":
        return _Crc32()
    if alg == "crc32c":
        try:  # hardware accelerated when installed (the server's extra); else the table
            from crc32c import CRC32CHash  # type: ignore[import-not-found]

            return CRC32CHash()
        except ImportError:
            return _ReflectedCrc(0x82F63B78, 32)
    try:  # the AWS CRT's C implementation when installed (botocore[crt])
        from awscrt import checksums  # type: ignore[import-not-found]

        return _CrtCrc64(checksums.crc64nvme)
    except ImportError:
        return _ReflectedCrc(0x9A6C9329AC4BC9B5, 64)


class _CrtCrc64:
    def __init__(self, fn) -> None:  # noqa: ANN001
        self._fn, self._crc = fn, 0

    def update(self, data: bytes) -> None:
        self._crc = self._fn(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(8, "big")


# The table-driven CRCs run at about 1 MB/s: past this, ask for a faster algorithm.
SLOW_CRC_LIMIT = 64 * 1024 * 1024


def file_bounds(path: str, algorithm: str = "sha256") -> tuple[int, tuple[str, str]]:
    """(size, (algorithm, base64 checksum)) of the file that will be uploaded."""
    import os

    hasher = new_hasher(algorithm)
    if isinstance(hasher, _ReflectedCrc):
        try:
            big = os.path.getsize(path) > SLOW_CRC_LIMIT
        except OSError:
            big = False
        if big:
            raise PresignError(
                f"{path} is over 64 MiB and {algorithm} has no fast implementation here "
                "(pip install awscrt / crc32c); use --checksum sha256 or crc32"
            )
    size = 0
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                size += len(chunk)
                hasher.update(chunk)
    except OSError as exc:
        raise PresignError(f"cannot read {path}: {exc.strerror}; --for-file needs the file to upload") from None
    return size, (checksum_algorithm(algorithm), base64.b64encode(hasher.digest()).decode())
