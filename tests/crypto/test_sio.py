"""The package format: round trips, range reads, and every kind of tampering."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3presign.server import sio
from s3presign.server.sio import PACKAGE, TAG, IntegrityError, Layer

P = PACKAGE


def layers(count=1):
    return [Layer(os.urandom(32), os.urandom(12)) for _ in range(count)]


def encrypt(ls, data, chunk=100_000):
    enc = sio.Encryptor(ls)
    out = b"".join(enc.update(data[i:i + chunk]) for i in range(0, len(data), chunk))
    return out + enc.finish()


def read(ls, stored, size, start=0, end=None, chunk=7777):
    """Read like the endpoint: only the stored bytes cipher_range names, in chunks."""
    end = size - 1 if end is None else end
    offset, length = sio.cipher_range(size, start, end, len(ls))
    window = stored[offset:offset + length]
    return b"".join(sio.decrypt_range(ls, size, (window[i:i + chunk] for i in range(0, len(window), chunk)), start, end))


@pytest.mark.parametrize("size", [0, 1, P - 1, P, P + 1, 3 * P, 3 * P + 5])
@pytest.mark.parametrize("count", [1, 2])
def test_round_trip_and_stored_size(size, count):
    ls, data = layers(count), os.urandom(size)
    stored = encrypt(ls, data)
    assert len(stored) == sio.stored_size(size, count)
    assert read(ls, stored, size) == data
    assert len(data) < 16 or data[:16] not in stored


DATA = os.urandom(3 * P + 100)
LS = layers()
STORED = encrypt(LS, DATA)


@pytest.mark.parametrize(
    "start,end",
    [(0, 0), (P - 1, P - 1), (P, P), (P - 1, P), (0, P - 1), (P, 2 * P - 1),
     (len(DATA) - 1, len(DATA) - 1), (len(DATA) - 100, len(DATA) - 1), (5, len(DATA) - 1)],
)
def test_range_reads_at_package_boundaries(start, end):
    assert read(LS, STORED, len(DATA), start, end) == DATA[start:end + 1]


def test_range_reads_only_the_packages_it_needs():
    assert sio.cipher_range(len(DATA), P, P) == (P + TAG, P + TAG)
    assert sio.cipher_range(len(DATA), len(DATA) - 1, len(DATA) - 1) == (3 * (P + TAG), 100 + TAG)
    assert sio.cipher_range(len(DATA), 0, 0) == (0, P + TAG)


def test_empty_stream_is_authenticated_too():
    ls = layers()
    stored = encrypt(ls, b"")
    assert len(stored) == TAG and read(ls, stored, 0) == b""
    with pytest.raises(IntegrityError):
        read(ls, b"", 0)


def drain(ls, stored, size):
    """Consume everything, collecting what came out, so a test can assert that an
    error came before any wrong byte."""
    dec = sio.Decryptor(ls, size, 0, size - 1)
    got = []
    with pytest.raises(IntegrityError):
        for i in range(0, max(len(stored), 1), 5000):
            got.append(dec.feed(stored[i:i + 5000]))
        dec.close()
    return b"".join(got)


@pytest.mark.parametrize("position", [0, P - 1, P + TAG, len(STORED) - 1, len(STORED) - TAG])
def test_a_flipped_byte_is_an_error_never_data(position):
    bad = bytearray(STORED)
    bad[position] ^= 0x01
    got = drain(LS, bytes(bad), len(DATA))
    assert DATA.startswith(got)  # only verified packages before the flip came out
    assert len(got) <= (position // (P + TAG)) * P


@pytest.mark.parametrize("packages_kept", [1, 2, 3])
def test_truncation_at_a_package_boundary_is_detected(packages_kept):
    cut = STORED[: packages_kept * (P + TAG)]
    drain(LS, cut, len(DATA))
    # even a reader told the shorter size fails: the new last package is not final
    with pytest.raises(IntegrityError):
        read(LS, cut, packages_kept * P)


def test_swapped_packages_are_detected():
    stride = P + TAG
    swapped = STORED[stride:2 * stride] + STORED[:stride] + STORED[2 * stride:]
    assert drain(LS, swapped, len(DATA)) == b""


def test_appended_or_extended_data_is_detected():
    drain(LS, STORED + STORED[-(100 + TAG):], len(DATA))
    with pytest.raises(IntegrityError):
        read(LS, STORED, len(DATA) + 5)  # a size that claims more than was written


def test_another_key_or_nonce_does_not_open():
    other = [Layer(LS[0].key, os.urandom(12))]
    assert drain(other, STORED, len(DATA)) == b""
    assert drain(layers(), STORED, len(DATA)) == b""


def test_dsse_layers_are_independent():
    ls = layers(2)
    stored = encrypt(ls, DATA)
    assert drain([ls[0], layers()[0]], stored, len(DATA)) == b""
    assert drain([ls[1], ls[0]], stored, len(DATA)) == b""


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 4 * P + 3), data=st.data(), chunk=st.integers(1, 3 * P), count=st.integers(1, 2))
def test_any_size_any_range_any_chunking(size, data, chunk, count):
    plain = os.urandom(size)
    ls = layers(count)
    enc = sio.Encryptor(ls)
    stored = b"".join(enc.update(plain[i:i + chunk]) for i in range(0, size, chunk)) + enc.finish()
    if size == 0:
        assert read(ls, stored, 0, 0, -1) == b""
        return
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start, size - 1))
    assert read(ls, stored, size, start, end, chunk) == plain[start:end + 1]
