"""The handlers' entry point: every SSE mode end to end, and every refusal."""

import base64
import hashlib
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3presign.server import sio
from s3presign.server.encryption import Encryption, IntegrityError, stored_size
from s3presign.server.sse import CustomerKey, SseRequest

from .helpers import refused

KEY = os.urandom(32)
CUSTOMER = CustomerKey(KEY, base64.b64encode(hashlib.md5(KEY).digest()).decode())
OTHER = CustomerKey(os.urandom(32), "other-md5")
DATA = os.urandom(2 * sio.PACKAGE + 1234)

MODES = {
    "none": SseRequest(),
    "s3": SseRequest(mode="AES256"),
    "kms": SseRequest(mode="aws:kms"),
    "kms-context": SseRequest(mode="aws:kms", context={"project": "p1"}, bucket_key_enabled=True),
    "dsse": SseRequest(mode="aws:kms:dsse"),
    "c": SseRequest(mode="SSE-C", customer_key=CUSTOMER),
}


@pytest.fixture
def enc(tmp_path):
    return Encryption(tmp_path)


def put(enc, request, data=DATA, bucket="b", key="k", default=None, sv="v4"):
    writer = enc.begin_write(request, default, bucket=bucket, key=key, signature_version=sv)
    stored = b"".join(writer.encrypt(data[i:i + 100_000]) for i in range(0, len(data), 100_000)) + writer.finish()
    return writer, stored


def get(enc, envelope, stored, customer=None, bucket="b", key="k", start=0, end=None, sv="v4"):
    reader = enc.open_read(envelope, customer, bucket=bucket, key=key, signature_version=sv)
    offset, length = reader.cipher_range(start, end)
    return b"".join(reader.decrypt([stored[offset:offset + length]], start, end))


@pytest.mark.parametrize("mode", MODES)
def test_round_trip_every_mode(enc, mode):
    writer, stored = put(enc, MODES[mode])
    customer = CUSTOMER if mode == "c" else None
    envelope = json.loads(json.dumps(writer.envelope))  # as the endpoint stores it
    assert get(enc, envelope, stored, customer) == DATA
    assert get(enc, envelope, stored, customer, start=sio.PACKAGE - 1, end=sio.PACKAGE) == DATA[sio.PACKAGE - 1:sio.PACKAGE + 1]
    assert len(stored) == stored_size(len(DATA), envelope)
    assert DATA[:64] not in stored
    text = json.dumps(envelope)
    assert KEY.hex() not in text and base64.b64encode(KEY).decode() not in text


def test_response_headers_and_etags(enc):
    md5 = hashlib.md5(DATA).hexdigest()
    writer, _ = put(enc, SseRequest())
    assert writer.response_headers == {"x-amz-server-side-encryption": "AES256"}
    assert writer.etag(md5) == md5
    writer, _ = put(enc, MODES["kms-context"])
    arn = writer.response_headers["x-amz-server-side-encryption-aws-kms-key-id"]
    assert arn.startswith("arn:aws:kms:us-east-1:") and ":key/" in arn
    assert writer.response_headers["x-amz-server-side-encryption"] == "aws:kms"
    assert writer.response_headers["x-amz-server-side-encryption-bucket-key-enabled"] == "true"
    context = json.loads(base64.b64decode(writer.response_headers["x-amz-server-side-encryption-context"]))
    assert context == {"project": "p1", "aws:s3:arn": "arn:aws:s3:::b/k"}
    for mode in ("kms", "dsse", "c"):
        writer, _ = put(enc, MODES[mode])
        etag = writer.etag(md5)
        assert etag != md5 and len(etag) == 32
    writer, _ = put(enc, MODES["c"])
    assert writer.response_headers == {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key-MD5": CUSTOMER.key_md5,
    }


def test_read_headers(enc):
    writer, stored = put(enc, MODES["dsse"])
    reader = enc.open_read(writer.envelope, None, bucket="b", key="k", signature_version="v4")
    assert reader.response_headers["x-amz-server-side-encryption"] == "aws:kms:dsse"
    assert reader.plain_size == len(DATA) and reader.stored_size == len(stored)


def test_bucket_default_applies_when_the_request_names_none(enc):
    default = SseRequest.from_bucket_default({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": None, "BucketKeyEnabled": True})
    writer, _ = put(enc, SseRequest(), default=default)
    assert writer.envelope["mode"] == "aws:kms" and writer.envelope["kms"]["bke"] is True
    writer, _ = put(enc, MODES["s3"], default=default)
    assert writer.envelope["mode"] == "AES256"
    refused("KmsRequiresSigV4", put, enc, SseRequest(), default=default, sv="v2")


def test_named_kms_key(enc):
    key = enc.keys.create_key("reports", alias="alias/reports")
    for name in (key.arn, key.key_id, "alias/reports"):
        writer, stored = put(enc, SseRequest(mode="aws:kms", kms_key_id=name))
        assert writer.envelope["kms"]["arn"] == key.arn
        assert get(enc, writer.envelope, stored) == DATA


@pytest.mark.parametrize("key_id,name", [
    ("fake-key-id", "KmsNotFound"),
    ("11111111-2222-3333-4444-555555555555", "KmsKeyDoesNotExist"),
    ("alias/nope", "KmsAliasNotFound"),
])
def test_unknown_kms_key(enc, key_id, name):
    error = refused(name, put, enc, SseRequest(mode="aws:kms", kms_key_id=key_id))
    assert (error.status, error.code) == (400, "KMS.NotFoundException")


def test_disabled_kms_key_refuses_writes_and_reads(enc):
    key = enc.keys.create_key()
    writer, stored = put(enc, SseRequest(mode="aws:kms", kms_key_id=key.key_id))
    enc.keys.set_enabled(key.key_id, False)
    error = refused("KmsDisabled", put, enc, SseRequest(mode="aws:kms", kms_key_id=key.key_id))
    assert error.message == f"{key.arn} is disabled."
    refused("KmsDisabled", get, enc, writer.envelope, stored)
    enc.keys.set_enabled(key.key_id, True)
    assert get(enc, writer.envelope, stored) == DATA


@pytest.mark.parametrize("mode", ["kms", "dsse"])
def test_kms_object_read_under_sigv2(enc, mode):
    writer, stored = put(enc, MODES[mode])
    refused("KmsRequiresSigV4", get, enc, writer.envelope, stored, sv="v2")


def test_ssec_rules_on_read(enc):
    writer, stored = put(enc, MODES["c"])
    error = refused("SseCObjectNeedsKey", get, enc, writer.envelope, stored)
    assert (error.status, error.code) == (400, "InvalidRequest")
    error = refused("SseCWrongKey", get, enc, writer.envelope, stored, OTHER)
    assert (error.status, error.code) == (403, "AccessDenied")
    plain, _ = put(enc, MODES["s3"])
    refused("SseCNotForThisObject", get, enc, plain.envelope, stored, CUSTOMER)


def test_ssec_stores_no_key_material(enc):
    writer, stored = put(enc, MODES["c"])
    blob = json.dumps(writer.envelope).encode() + stored
    for form in (KEY, KEY.hex().encode(), base64.b64encode(KEY), hashlib.md5(KEY).digest(),
                 CUSTOMER.key_md5.encode()):
        assert form not in blob


@pytest.mark.parametrize("mode", ["s3", "kms-context", "dsse", "c"])
def test_an_envelope_moved_to_another_object_does_not_open(enc, mode):
    writer, stored = put(enc, MODES[mode])
    customer = CUSTOMER if mode == "c" else None
    with pytest.raises(IntegrityError):
        get(enc, writer.envelope, stored, customer, key="other")
    with pytest.raises(IntegrityError):
        get(enc, writer.envelope, stored, customer, bucket="b2")


@pytest.mark.parametrize("mode", ["s3", "kms", "dsse", "c"])
def test_a_sealed_key_swapped_between_objects_does_not_open(enc, mode):
    customer = CUSTOMER if mode == "c" else None
    first, stored = put(enc, MODES[mode], key="one")
    second, _ = put(enc, MODES[mode], key="two")
    envelope = dict(first.envelope)
    for field in ("key", "kms"):
        if field in envelope:
            envelope[field] = second.envelope[field]
    with pytest.raises(IntegrityError):
        get(enc, envelope, stored, customer, key="one")


@pytest.mark.parametrize("mode", MODES)
def test_flipped_stored_byte_is_an_error(enc, mode):
    writer, stored = put(enc, MODES[mode])
    bad = bytearray(stored)
    bad[len(bad) // 2] ^= 0x80
    with pytest.raises(IntegrityError) as info:
        get(enc, writer.envelope, bytes(bad), CUSTOMER if mode == "c" else None)
    assert (info.value.status, info.value.code) == (500, "InternalError")


def test_tampered_envelope_size_is_an_error(enc):
    writer, stored = put(enc, MODES["s3"])
    for size in (len(DATA) - 1, len(DATA) + 1, sio.PACKAGE):
        with pytest.raises(IntegrityError):
            get(enc, {**writer.envelope, "size": size}, stored)


def test_master_key_persists_and_is_private(tmp_path):
    writer, stored = put(Encryption(tmp_path), MODES["s3"])
    assert get(Encryption(tmp_path), writer.envelope, stored) == DATA
    path = tmp_path / ".s3presign" / "keys" / "master.key"
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(IntegrityError):
        get(Encryption(tmp_path, master_key=os.urandom(32)), writer.envelope, stored)


def test_a_loose_master_key_file_is_refused(tmp_path):
    Encryption(tmp_path)
    (tmp_path / ".s3presign" / "keys" / "master.key").chmod(0o644)
    with pytest.raises(OSError, match="chmod 600"):
        Encryption(tmp_path)


def test_operator_master_key(tmp_path):
    master = os.urandom(32)
    writer, stored = put(Encryption(tmp_path, master_key=master), MODES["kms"])
    assert not (tmp_path / ".s3presign" / "keys" / "master.key").exists()
    assert get(Encryption(tmp_path, master_key=master), writer.envelope, stored) == DATA
    with pytest.raises(OSError, match="different master key"):
        Encryption(tmp_path).open_read(writer.envelope, None, bucket="b", key="k", signature_version="v4")


def test_push_decryptor_for_async_readers(enc):
    writer, stored = put(enc, MODES["s3"])
    reader = enc.open_read(writer.envelope, None, bucket="b", key="k", signature_version="v4")
    dec = reader.decryptor(10, len(DATA) - 10)
    offset, length = reader.cipher_range(10, len(DATA) - 10)
    window = stored[offset:offset + length]
    out = b"".join(dec.feed(window[i:i + 4096]) for i in range(0, len(window), 4096)) + dec.close()
    assert out == DATA[10:len(DATA) - 9]
    dec = reader.decryptor()
    dec.feed(stored[:-1])
    with pytest.raises(IntegrityError):
        dec.close()


@pytest.mark.parametrize("mode", ["s3", "dsse", "c"])
def test_multipart_parts(enc, mode):
    customer = CUSTOMER if mode == "c" else None
    upload = enc.begin_write(MODES[mode], None, bucket="b", key="k", signature_version="v4").envelope
    sizes = [sio.PACKAGE + 7, 0, 1000, 2 * sio.PACKAGE]
    records, stored, offset = [], b"", 0
    plain = os.urandom(sum(sizes))
    for number, size in enumerate(sizes, 1):
        part = enc.begin_part(upload, number, customer, bucket="b", key="k")
        stored += part.encrypt(plain[offset:offset + size]) + part.finish()
        records.append(part.envelope)
        offset += size
    envelope = enc.complete_parts(upload, records, customer, bucket="b", key="k")
    assert get(enc, envelope, stored, customer) == plain
    assert len(stored) == stored_size(len(plain), envelope)
    for start, end in [(0, 0), (sio.PACKAGE, sio.PACKAGE + 8), (sio.PACKAGE + 5, sio.PACKAGE + 1100), (len(plain) - 1, len(plain) - 1)]:
        assert get(enc, envelope, stored, customer, start=start, end=end) == plain[start:end + 1]
    for changed in ([records[1], records[0], *records[2:]], records[:-1]):
        with pytest.raises(IntegrityError):
            get(enc, {**envelope, "parts": changed}, stored, customer)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 2 * sio.PACKAGE + 3), min_size=1, max_size=4), data=st.data(),
       chunk=st.integers(1, 200_000))
def test_multipart_any_range_any_chunking(enc, sizes, data, chunk):
    upload = enc.begin_write(MODES["s3"], None, bucket="b", key="k", signature_version="v4").envelope
    plain, stored, records = os.urandom(sum(sizes)), b"", []
    offset = 0
    for number, size in enumerate(sizes, 1):
        part = enc.begin_part(upload, number, None, bucket="b", key="k")
        stored += part.encrypt(plain[offset:offset + size]) + part.finish()
        records.append(part.envelope)
        offset += size
    reader = enc.open_read(enc.complete_parts(upload, records, None, bucket="b", key="k"), None,
                           bucket="b", key="k", signature_version="v4")
    if not plain:
        return
    start = data.draw(st.integers(0, len(plain) - 1))
    end = data.draw(st.integers(start, len(plain) - 1))
    offset, length = reader.cipher_range(start, end)
    window = stored[offset:offset + length]
    out = b"".join(reader.decrypt((window[i:i + chunk] for i in range(0, len(window), chunk)), start, end))
    assert out == plain[start:end + 1]
