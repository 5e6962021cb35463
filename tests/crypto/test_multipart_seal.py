"""Multipart completion without the object key: part records sealed by a server-keyed
MAC (Encryption.begin_part / complete_parts), and every way to misuse them refused."""

import base64
import hashlib
import json
import os

import pytest

from s3presign.core.s3errors import S3Error
from s3presign.server import sio
from s3presign.server.encryption import Encryption, IntegrityError
from s3presign.server.sse import CustomerKey, SseRequest

KEY = os.urandom(32)
CUSTOMER = CustomerKey(KEY, base64.b64encode(hashlib.md5(KEY).digest()).decode())
OTHER = CustomerKey(os.urandom(32), "other-md5")
SIZES = [sio.PACKAGE + 5, 1000]


@pytest.fixture
def enc(tmp_path):
    return Encryption(tmp_path)


def _upload(enc, mode="SSE-C", bucket="b", key="k"):
    request = SseRequest(mode=mode, customer_key=CUSTOMER if mode == "SSE-C" else None)
    writer = enc.begin_write(request, None, bucket=bucket, key=key, signature_version="v4")
    return {k: v for k, v in writer.envelope.items() if k != "nonce"}


def _parts(enc, upload, upload_id, customer=CUSTOMER, bucket="b", key="k"):
    records, stored, plain = [], b"", b""
    for n, size in enumerate(SIZES, 1):
        body = os.urandom(size)
        part = enc.begin_part(upload, n, customer, bucket=bucket, key=key, upload_id=upload_id)
        stored += bytes(part.encrypt(body)) + bytes(part.finish())
        records.append(json.loads(json.dumps(part.envelope)))  # as stored
        plain += body
    return records, stored, plain


def _read(enc, envelope, stored, customer=CUSTOMER, key="k"):
    reader = enc.open_read(envelope, customer, bucket="b", key=key, signature_version="v4")
    return b"".join(reader.decrypt([stored]))


def test_sse_c_completes_without_the_key_and_reads_only_with_it(enc):
    upload = _upload(enc)
    records, stored, plain = _parts(enc, upload, "u1")
    done = enc.complete_parts(upload, records, None, bucket="b", key="k", upload_id="u1")
    assert _read(enc, done, stored) == plain
    with pytest.raises(S3Error) as info:
        _read(enc, done, stored, customer=None)
    assert info.value.name == "SseCObjectNeedsKey"
    with pytest.raises(S3Error) as info:
        _read(enc, done, stored, customer=OTHER)
    assert info.value.name == "SseCWrongKey"
    text = json.dumps(done)
    assert base64.b64encode(KEY).decode() not in text and CUSTOMER.key_md5 not in text  # nothing of the key


def test_completion_checks_a_key_that_is_sent(enc):
    upload = _upload(enc)
    records, _, _ = _parts(enc, upload, "u1")
    with pytest.raises(S3Error) as info:
        enc.complete_parts(upload, records, OTHER, bucket="b", key="k", upload_id="u1")
    assert info.value.name == "SseCWrongKey"
    assert enc.complete_parts(upload, records, CUSTOMER, bucket="b", key="k", upload_id="u1")["size"] == sum(SIZES)
    assert enc.check_completion(upload, CUSTOMER, signature_version="v4") == CUSTOMER.headers()
    with pytest.raises(S3Error):
        enc.check_completion(upload, None, signature_version="v4", key_required=True)
    with pytest.raises(S3Error) as info:
        enc.check_completion(_upload(enc, "AES256"), CUSTOMER, signature_version="v4")
    assert info.value.name == "SseCNotForThisObject"


@pytest.mark.parametrize("change", ["other upload id", "size", "salt", "number", "mac"])
def test_a_changed_or_foreign_part_record_does_not_complete(enc, change):
    upload = _upload(enc, "AES256")
    records, _, _ = _parts(enc, upload, "u1", customer=None)
    upload_id, first = "u1", dict(records[0])
    if change == "other upload id":
        upload_id = "u2"
    elif change == "size":
        first["size"] += 1
    elif change == "salt":
        first["salt"] = base64.b64encode(os.urandom(16)).decode()
    elif change == "number":
        first["n"] = 3
    else:
        first["mac"] = records[1]["mac"]
    with pytest.raises(IntegrityError):
        enc.complete_parts(upload, [first, *records[1:]], None, bucket="b", key="k", upload_id=upload_id)


def test_parts_of_another_upload_or_object_do_not_complete(enc):
    upload, other = _upload(enc, "AES256"), _upload(enc, "AES256")
    records, _, _ = _parts(enc, other, "u1", customer=None)  # same upload id, other sealed keys
    with pytest.raises(IntegrityError):
        enc.complete_parts(upload, records, None, bucket="b", key="k", upload_id="u1")
    records, _, _ = _parts(enc, upload, "u1", customer=None)
    with pytest.raises(IntegrityError):  # completed as another object
        enc.complete_parts(upload, records, None, bucket="b", key="elsewhere", upload_id="u1")


def test_the_completed_list_cannot_be_changed_or_moved(enc):
    upload = _upload(enc)
    records, stored, _ = _parts(enc, upload, "u1")
    done = enc.complete_parts(upload, records, None, bucket="b", key="k", upload_id="u1")
    for parts in (records[::-1], records[:1]):
        with pytest.raises(IntegrityError):
            _read(enc, {**done, "parts": parts}, stored)
    with pytest.raises(IntegrityError):
        _read(enc, done, stored, key="moved")


def test_parts_staged_before_sealing_complete_the_older_way(enc):
    """An upload that spans an upgrade: its parts have no MAC; completing it needs the
    object key (as before), and the object reads back."""
    upload = _upload(enc)
    records, stored, plain = _parts(enc, upload, "u1")
    for r in records:
        del r["mac"]
    with pytest.raises(S3Error) as info:
        enc.complete_parts(upload, records, None, bucket="b", key="k", upload_id="u1")
    assert info.value.name == "SseCObjectNeedsKey"
    done = enc.complete_parts(upload, records, CUSTOMER, bucket="b", key="k", upload_id="u1")
    assert "pmac" not in done and _read(enc, done, stored) == plain
    with pytest.raises(IntegrityError):
        _read(enc, {**done, "parts": records[::-1]}, stored)
