"""A data dir in the file-per-object layout (schema 1) is upgraded on first start:
every object (single-part and multipart), bucket configuration and upload in
progress survives, byte for byte, and the old tree is gone."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from pathlib import Path

from s3presign.server.encryption import Encryption
from s3presign.server.sse import SSE_S3, SseRequest

from .helpers import start_server

_FOOTER = struct.Struct("<Q8s")
MiB = 1 << 20


def _object_file(path: Path, stored: bytes, record: dict) -> None:
    """The schema-1 object file: stored bytes, JSON record, footer."""
    data = json.dumps(record).encode()
    path.write_bytes(stored + data + _FOOTER.pack(len(data), b"S3PREC01"))


def _record(key: str, size: int, etag: str, envelope: dict, **extra) -> dict:
    return {"key": key, "size": size, "etag": etag, "last_modified": time.time(), "content_type": "text/plain",
            "headers": {}, "user_meta": {"x-amz-meta-owner": "legacy"}, "envelope": envelope, "checksum": None,
            "extra": extra}


def _legacy_dir(data: Path) -> dict[str, bytes]:
    """Write a schema-1 data dir with the server's own encryption; the plaintexts."""
    data.mkdir(parents=True)
    enc = Encryption(data)
    bucket = data / "buckets" / "legacy"
    for sub in ("objects", "tmp", "uploads"):
        (bucket / sub).mkdir(parents=True)
    (bucket / "bucket.json").write_text(json.dumps({
        "name": "legacy", "created": 1700000000.0, "region": "us-east-1",
        "config": {"encryption": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": None, "BucketKeyEnabled": False}}}))
    plain = {}
    for n, key in enumerate(["a.txt", "dir/b.txt", "unicode-é"]):
        body = os.urandom(1000 + n * 300_000)
        writer = enc.begin_write(SseRequest(mode=SSE_S3), None, bucket="legacy", key=key, signature_version="v4")
        stored = bytes(writer.encrypt(body)) + bytes(writer.finish())
        _object_file(bucket / "objects" / hashlib.sha256(key.encode()).hexdigest(), stored,
                     _record(key, len(body), hashlib.md5(body).hexdigest(), writer.envelope))
        plain[key] = body
    # a multipart object: the parts' streams concatenated in one file
    first = enc.begin_write(SseRequest(mode=SSE_S3), None, bucket="legacy", key="mp", signature_version="v4")
    upload_env = {k: v for k, v in first.envelope.items() if k != "nonce"}
    stored, records, bodies = b"", [], [os.urandom(5 * MiB), os.urandom(777)]
    for number, body in enumerate(bodies, 1):
        part = enc.begin_part(upload_env, number, None, bucket="legacy", key="mp")
        stored += bytes(part.encrypt(body)) + bytes(part.finish())
        records.append(part.envelope)
    envelope = enc.complete_parts(upload_env, records, None, bucket="legacy", key="mp")
    _object_file(bucket / "objects" / hashlib.sha256(b"mp").hexdigest(), stored,
                 _record("mp", envelope["size"], "0" * 32 + "-2", envelope))
    plain["mp"] = b"".join(bodies)
    # an upload in progress with one part
    upload_id = "ab" * 32
    pending = enc.begin_write(SseRequest(mode=SSE_S3), None, bucket="legacy", key="pending", signature_version="v4")
    up = bucket / "uploads" / upload_id
    up.mkdir()
    (up / "upload.json").write_text(json.dumps({
        "upload_id": upload_id, "key": "pending", "initiated": time.time(), "envelope": {k: v for k, v in pending.envelope.items() if k != "nonce"},
        "content_type": "binary/octet-stream", "headers": {}, "user_meta": {}, "extra": {},
        "owner": ["", ""], "checksum_algorithm": None}))
    return plain


def test_schema1_data_dir_is_upgraded_on_start(tmp_path):
    data = tmp_path / "data"
    plain = _legacy_dir(data)
    server = start_server(data)
    try:
        s3 = server.client()
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["legacy"]
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="legacy")["Contents"]]
        assert listed == sorted(plain)
        for key, body in plain.items():
            got = s3.get_object(Bucket="legacy", Key=key)
            assert got["Body"].read() == body, key
        assert s3.head_object(Bucket="legacy", Key="a.txt")["Metadata"] == {"owner": "legacy"}
        rule = s3.get_bucket_encryption(Bucket="legacy")["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        uploads = s3.list_multipart_uploads(Bucket="legacy")["Uploads"]
        assert [(u["Key"], u["UploadId"]) for u in uploads] == [("pending", "ab" * 32)]
        etag = s3.upload_part(Bucket="legacy", Key="pending", UploadId="ab" * 32, PartNumber=1, Body=b"late")["ETag"]
        s3.complete_multipart_upload(Bucket="legacy", Key="pending", UploadId="ab" * 32,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
        assert s3.get_object(Bucket="legacy", Key="pending")["Body"].read() == b"late"
    finally:
        server.stop()
    assert not (data / "buckets").exists()
    again = start_server(data)  # a second start does not migrate twice
    try:
        assert len(again.client().list_objects_v2(Bucket="legacy")["Contents"]) == len(plain) + 1
    finally:
        again.stop()
