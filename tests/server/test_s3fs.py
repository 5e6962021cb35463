"""s3fs (fsspec over aiobotocore: an independent client) writes, lists, reads and
removes recursively, in a plain and in a versioned bucket (s3fs with
version_aware lists versions to delete them): ``rm(bucket, recursive=True)``
leaves nothing and removes the bucket."""

from __future__ import annotations

import uuid

import pytest

from .helpers import MAIN

s3fs = pytest.importorskip("s3fs")


def _fs(endpoint, version_aware: bool = False):
    return s3fs.S3FileSystem(key=MAIN[0], secret=MAIN[1], endpoint_url=endpoint.url, version_aware=version_aware,
                             skip_instance_cache=True,
                             use_listings_cache=False)


@pytest.mark.parametrize("versioned", [False, True])
def test_s3fs_writes_lists_and_removes_a_bucket_recursively(endpoint, versioned):
    s3 = endpoint.client()
    bucket = f"fs-{uuid.uuid4().hex[:12]}"
    fs = _fs(endpoint, version_aware=versioned)
    fs.mkdir(bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    files = {f"{bucket}/top.txt": b"top", f"{bucket}/dir/a.bin": b"a" * 10_000,
             f"{bucket}/dir/sub/b.bin": b"b" * 3, f"{bucket}/other/c.txt": b""}
    for path, data in files.items():
        fs.pipe(path, data)
    if versioned:
        fs.pipe(f"{bucket}/top.txt", b"second version")
        s3.delete_object(Bucket=bucket, Key="other/c.txt")  # a delete marker
        s3.put_object(Bucket=bucket, Key="other/c.txt", Body=b"")
    assert sorted(fs.find(bucket)) == sorted(files)
    assert sorted(fs.ls(f"{bucket}/dir", detail=False)) == [f"{bucket}/dir/a.bin", f"{bucket}/dir/sub"]
    assert fs.cat(f"{bucket}/dir/a.bin") == b"a" * 10_000
    assert fs.info(f"{bucket}/dir/a.bin")["size"] == 10_000
    assert fs.isdir(f"{bucket}/dir/sub")

    fs.rm(bucket, recursive=True)

    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert not fs.exists(f"{bucket}/top.txt")
