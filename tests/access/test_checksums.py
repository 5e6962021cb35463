"""The five checksum algorithms against botocore's own implementations, and the
multipart COMPOSITE / FULL_OBJECT math against checksums of the whole data."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest
from botocore import httpchecksum as boto
from hypothesis import given, settings, strategies as st

from s3presign.core.s3errors import S3Error
from s3presign.server import checksums

BOTO = {
    "CRC32": boto.Crc32Checksum,
    "CRC32C": boto.CrtCrc32cChecksum,
    "CRC64NVME": boto.CrtCrc64NvmeChecksum,
    "SHA1": boto.Sha1Checksum,
    "SHA256": boto.Sha256Checksum,
}
# The catalogue check values of each CRC ("123456789"), and the digests of the hashes.
CHECK = {
    "CRC32": 0xCBF43926,
    "CRC32C": 0xE3069283,
    "CRC64NVME": 0xAE8B14860A799888,
    "SHA1": int(hashlib.sha1(b"123456789").hexdigest(), 16),
    "SHA256": int(hashlib.sha256(b"123456789").hexdigest(), 16),
}


def ours(algorithm: str, *chunks: bytes) -> str:
    h = checksums.new(algorithm)
    for c in chunks:
        h.update(c)
    return checksums.encode(h.digest())


def botocores(algorithm: str, data: bytes) -> str:
    h = BOTO[algorithm]()
    h.update(data)
    return h.b64digest()


@pytest.mark.parametrize("algorithm", list(BOTO))
def test_check_values(algorithm):
    size = checksums.ALGORITHMS[algorithm][1]
    assert ours(algorithm, b"123456789") == base64.b64encode(CHECK[algorithm].to_bytes(size, "big")).decode()


@pytest.mark.parametrize("algorithm", list(BOTO))
@pytest.mark.parametrize("data", [b"", b"a", bytes(range(256)) * 17, os.urandom(1 << 20)])
def test_same_as_botocore_in_any_chunking(algorithm, data):
    expected = botocores(algorithm, data)
    assert ours(algorithm, data) == expected
    assert ours(algorithm, *(data[i:i + 7777] for i in range(0, len(data), 7777))) == expected


def test_every_algorithm_is_a_header_and_a_trailer():
    for algorithm in BOTO:
        name = checksums.header(algorithm)
        value = ours(algorithm, b"x")
        assert checksums.algorithm_of(name) == algorithm
        assert checksums.declared({name: value}) == (algorithm, value)
        assert checksums.declared({"x-amz-trailer": name, "x-amz-sdk-checksum-algorithm": algorithm.lower()}) == \
            (algorithm, None)
        with pytest.raises(S3Error) as e:
            checksums.check_value(algorithm, base64.b64encode(b"\0" * 3).decode())
        assert e.value.name == "InvalidChecksum"


def test_algorithms_s3_has_but_this_server_does_not_are_refused_not_ignored():
    with pytest.raises(S3Error) as e:
        checksums.algorithm_of("x-amz-checksum-sha512")
    assert e.value.status == 501


# --- multipart ---------------------------------------------------------------------------


def _parts(algorithm: str, blobs: list[bytes]) -> list[tuple[bytes, int]]:
    out = []
    for b in blobs:
        h = checksums.new(algorithm)
        h.update(b)
        out.append((h.digest(), len(b)))
    return out


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["CRC32", "CRC32C", "CRC64NVME"]), st.lists(st.binary(max_size=3000), min_size=1, max_size=6))
def test_full_object_equals_the_crc_of_the_whole_object(algorithm, blobs):
    assert checksums.full_object(algorithm, _parts(algorithm, blobs)) == ours(algorithm, b"".join(blobs))


def test_full_object_for_large_parts():
    blobs = [os.urandom(5 << 20), os.urandom(5 << 20), os.urandom(1234)]
    for algorithm in ("CRC32", "CRC32C", "CRC64NVME"):
        assert checksums.multipart(algorithm, "FULL_OBJECT", _parts(algorithm, blobs)) == \
            botocores(algorithm, b"".join(blobs))


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_is_the_checksum_of_the_part_checksums_with_the_part_count(algorithm):
    blobs = [b"part one" * 1000, b"part two", b"3"]
    parts = _parts(algorithm, blobs)
    expected = botocores(algorithm, b"".join(d for d, _ in parts)) + "-3"
    assert checksums.composite(algorithm, (d for d, _ in parts)) == expected
    assert checksums.multipart(algorithm, "COMPOSITE", parts) == expected


def test_composite_known_value():
    # Two parts of 5 MiB of zeros and "x": CRC32 of the two big-endian part CRCs.
    a, b = zlib.crc32(b"\0" * (5 << 20)), zlib.crc32(b"x")
    raw = a.to_bytes(4, "big") + b.to_bytes(4, "big")
    want = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + "-2"
    assert checksums.composite("CRC32", [a.to_bytes(4, "big"), b.to_bytes(4, "big")]) == want


def test_checksum_type_per_algorithm():
    assert checksums.checksum_type("CRC64NVME", None) == "FULL_OBJECT"
    assert checksums.checksum_type("CRC32", None) == "COMPOSITE"
    assert checksums.checksum_type("CRC32C", "full_object") == "FULL_OBJECT"
    assert checksums.checksum_type("SHA256", "COMPOSITE") == "COMPOSITE"
    for algorithm, t in (("SHA1", "FULL_OBJECT"), ("SHA256", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE")):
        with pytest.raises(S3Error) as e:
            checksums.checksum_type(algorithm, t)
        assert (e.value.status, e.value.code) == (400, "InvalidRequest")
    with pytest.raises(S3Error):
        checksums.checksum_type("CRC32", "PARTIAL")
    with pytest.raises(ValueError):
        checksums.full_object("SHA256", [])
