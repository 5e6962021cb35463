"""Nothing on disk is trusted: an edited record (size, ETag, envelope, blob list,
a record moved to another key) or blob is an error, never a 200 with bytes or a
length the writer did not write; a corrupt record stays listed and deletable and
is logged once with its key."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid

import botocore.exceptions
import httpx
import pytest

MiB = 1 << 20


@pytest.fixture
def db(endpoint):
    conn = sqlite3.connect(endpoint.data_dir / ".s3presign" / "metadata.sqlite3", isolation_level=None, timeout=30)
    yield conn
    conn.close()


def _row(db, bucket: str, key: str):
    return db.execute("SELECT id, record, mac, blobs FROM versions WHERE bucket = ? AND okey = ? AND latest = 1",
                      (bucket, key)).fetchone()


def _split(record: str) -> tuple[str, str]:
    """(the listing summary line with its newline, the JSON) of a version record."""
    if record.startswith("~"):
        line, _, body = record.partition("\n")
        return line + "\n", body
    return "", record


def _edit(db, bucket: str, key: str, change) -> None:
    row_id, record, _, _ = _row(db, bucket, key)
    summary, body = _split(record)
    fields = json.loads(body)
    change(fields)
    db.execute("UPDATE versions SET record = ? WHERE id = ?",
               (summary + json.dumps(fields, separators=(",", ":")), row_id))


def _refused(endpoint, bucket: str, key: str, extra: dict | None = None) -> None:
    s3 = endpoint.client()
    for call in (s3.get_object, s3.head_object):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            call(Bucket=bucket, Key=key, **(extra or {}))
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    url = endpoint.presigner().presign("GET", bucket, key).url
    assert httpx.get(url).status_code >= 400


def _put_multipart(s3, bucket: str, key: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = [s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=os.urandom(size))["ETag"]
             for n, size in ((1, 5 * MiB), (2, 1000))]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(parts)]})


WRITES = {
    "900k-sse-s3": lambda s3, b, k: s3.put_object(Bucket=b, Key=k, Body=os.urandom(900 * 1024)),
    "5m-sse-s3": lambda s3, b, k: s3.put_object(Bucket=b, Key=k, Body=os.urandom(5 * MiB), ServerSideEncryption="AES256"),
    "kms": lambda s3, b, k: s3.put_object(Bucket=b, Key=k, Body=os.urandom(100_000), ServerSideEncryption="aws:kms"),
    "multipart": _put_multipart,
}
EDITS = {
    "size": lambda f: f.update(size=f["size"] - 1000),
    "etag": lambda f: f.update(etag="0" * 32),
    "envelope": lambda f: f["envelope"].update(size=f["envelope"]["size"] - 1000),
    "blobs": lambda f: f.update(blobs=f["blobs"][:1] if len(f["blobs"]) > 1 else [[f["blobs"][0][0], 10]]),
}


@pytest.mark.parametrize("what", list(WRITES))
@pytest.mark.parametrize("edit", list(EDITS))
def test_edited_record_is_never_served(endpoint, bucket, db, what, edit):
    s3 = endpoint.client()
    WRITES[what](s3, bucket, "victim")
    _edit(db, bucket, "victim", EDITS[edit])
    _refused(endpoint, bucket, "victim")


def test_record_moved_to_another_key_is_refused(endpoint, bucket, db):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="a", Body=b"A" * 5000)
    s3.put_object(Bucket=bucket, Key="b", Body=b"B" * 5000)
    _, record, mac, blobs = _row(db, bucket, "a")
    db.execute("UPDATE versions SET record = ?, mac = ?, blobs = ? WHERE bucket = ? AND okey = 'b'",
               (record, mac, blobs, bucket))
    _refused(endpoint, bucket, "b")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"A" * 5000


def test_truncated_blob_is_refused(endpoint, bucket, db):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="t", Body=os.urandom(50_000))
    name = _row(db, bucket, "t")[3]
    path = endpoint.data_dir / "blobs" / name[:2] / name
    path.write_bytes(path.read_bytes()[:-100])
    _refused(endpoint, bucket, "t")


def test_corrupt_record_stays_listed_and_deletable_and_is_logged_once(endpoint, db):
    s3 = endpoint.client()
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fine", Body=b"ok")
    key = f"broken-{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"soon corrupt")
    row_id = _row(db, bucket, key)[0]
    db.execute("UPDATE versions SET record = '{not json' WHERE id = ?", (row_id,))
    for _ in range(3):
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        assert listed == [key, "fine"]
        with pytest.raises(botocore.exceptions.ClientError):
            s3.get_object(Bucket=bucket, Key=key)
    assert endpoint.log.read_text().count(f"key {key!r}") == 1
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.delete_bucket(Bucket=bucket)
    assert info.value.response["Error"]["Code"] == "BucketNotEmpty"
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_object(Bucket=bucket, Key="fine")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize("field", [0, 1, 2])  # size, ETag, LastModified
def test_edited_listing_summary_is_never_listed(endpoint, db, field):
    """A listing reads only a record's summary line, still under the record's MAC:
    an edited summary lists the key as corrupt (no size, no ETag), never the edit."""
    s3 = endpoint.client()
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 5000)
    row_id, record, _, _ = _row(db, bucket, "k")
    summary, body = _split(record)
    values = summary[1:-1].split("\t")
    assert values[:2] == ["5000", s3.head_object(Bucket=bucket, Key="k")["ETag"].strip('"')]
    values[field] = {0: "4000", 1: "0" * 32, 2: "1.0"}[field]
    db.execute("UPDATE versions SET record = ? WHERE id = ?", ("~" + "\t".join(values) + "\n" + body, row_id))
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == [("k", 0, '""')]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["Key"], v["Size"]) for v in versions] == [("k", 0)]
    _refused(endpoint, bucket, "k")
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
