"""minio-py, an independent S3 client, against the server."""

from __future__ import annotations

import datetime as dt
import io
import os
import uuid

import httpx
import pytest
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error as MinioError

from .helpers import MAIN, Endpoint


@pytest.fixture
def mc(endpoint: Endpoint) -> Minio:
    return Minio(f"127.0.0.1:{endpoint.port}", access_key=MAIN[0], secret_key=MAIN[1], secure=False)


def test_minio_objects(mc: Minio, tmp_path):
    name = f"m-{uuid.uuid4().hex[:12]}"
    mc.make_bucket(name)
    assert mc.bucket_exists(name)
    body = os.urandom(150_000)
    mc.put_object(name, "dir/a.bin", io.BytesIO(body), len(body), content_type="application/x-a",
                  metadata={"x-amz-meta-owner": "minio"})
    resp = mc.get_object(name, "dir/a.bin")
    try:
        assert resp.read() == body
    finally:
        resp.close()
        resp.release_conn()
    stat = mc.stat_object(name, "dir/a.bin")
    assert stat.size == len(body) and stat.content_type == "application/x-a"
    assert stat.metadata["x-amz-meta-owner"] == "minio"
    partial = mc.get_object(name, "dir/a.bin", offset=1000, length=10)
    assert partial.read() == body[1000:1010]
    partial.close()
    partial.release_conn()

    source = tmp_path / "f.txt"
    source.write_bytes(b"file upload")
    mc.fput_object(name, "f.txt", str(source))
    mc.fget_object(name, "f.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_bytes() == b"file upload"

    assert sorted(o.object_name for o in mc.list_objects(name, recursive=True)) == ["dir/a.bin", "f.txt"]
    assert sorted(o.object_name for o in mc.list_objects(name)) == ["dir/", "f.txt"]

    url = mc.presigned_get_object(name, "f.txt", expires=dt.timedelta(minutes=5))
    assert httpx.get(url).content == b"file upload"
    put_url = mc.presigned_put_object(name, "p.txt", expires=dt.timedelta(minutes=5))
    assert httpx.put(put_url, content=b"presigned by minio").status_code == 200
    assert mc.get_object(name, "p.txt").read() == b"presigned by minio"

    errors = list(mc.remove_objects(name, [DeleteObject("f.txt"), DeleteObject("p.txt")]))
    assert errors == []
    mc.remove_object(name, "dir/a.bin")
    with pytest.raises(MinioError) as missing:
        mc.stat_object(name, "dir/a.bin")
    assert missing.value.code in ("NoSuchKey", "ResourceNotFound")
    mc.remove_bucket(name)
    assert not mc.bucket_exists(name)


def test_minio_wrong_secret(endpoint: Endpoint):
    wrong = Minio(f"127.0.0.1:{endpoint.port}", access_key=MAIN[0], secret_key="wrong", secure=False, region="us-east-1")
    with pytest.raises(MinioError) as info:
        wrong.list_buckets()
    assert info.value.code == "SignatureDoesNotMatch"
