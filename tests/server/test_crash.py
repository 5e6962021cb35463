"""kill -9 of the real server at every step of the storage protocol, for PUT,
CompleteMultipartUpload, CopyObject and DeleteObject: after a restart the old
state or the new one is visible (never a mix), the previous data is intact,
and no blob is left that no record references (no debris).

The server kills itself (SIGKILL) at a named point when S3PRESIGN_CRASH_AT is
set and the key being written contains "crash" (server.storage.crashpoint).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import botocore.exceptions
import pytest

from .helpers import start_server

POINTS = ("blob-written", "blob-committed", "tx-open", "tx-done")
MiB = 1 << 20


def _referenced(data_dir: Path) -> set[str]:
    db = sqlite3.connect(data_dir / ".s3presign" / "metadata.sqlite3")
    try:
        names = set()
        for table in ("versions", "parts"):
            for (blobs,) in db.execute(f"SELECT blobs FROM {table}"):
                names.update(blobs.split())
        return names
    finally:
        db.close()


def _on_disk(data_dir: Path) -> tuple[set[str], list[Path]]:
    root = data_dir / "blobs"
    blobs = {p.name for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"}
    return blobs, list((root / "tmp").iterdir())


def _crash(tmp_path: Path, point: str, setup, action) -> Path:
    """Run ``setup`` on a normal server, then ``action`` on one that dies at ``point``."""
    data = tmp_path / "data"
    server = start_server(data)
    try:
        state = setup(server.client())
    finally:
        server.stop()
    dying = start_server(data, env={"S3PRESIGN_CRASH_AT": point})
    try:
        with pytest.raises((botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)):
            action(dying.client(), state)
        assert dying.proc.wait(10) == -9, "the server did not reach the crash point"
    finally:
        dying.stop()
    return data


def _after(data: Path):
    server = start_server(data)
    blobs, tmp = _on_disk(data)
    assert tmp == [], "a partial write survived the restart"
    assert blobs == _referenced(data), "unreferenced blobs (debris) or missing ones after the restart"
    return server


OLD, NEW = b"old version " * 1000, os.urandom(300_000)


def _body(s3, key: str) -> bytes:
    return s3.get_object(Bucket="bkt", Key=key)["Body"].read()


@pytest.mark.parametrize("point", POINTS)
def test_put_killed(tmp_path, point):
    def setup(s3):
        s3.create_bucket(Bucket="bkt")
        s3.put_object(Bucket="bkt", Key="crash-k", Body=OLD)

    data = _crash(tmp_path, point, setup, lambda s3, _: s3.put_object(Bucket="bkt", Key="crash-k", Body=NEW))
    server = _after(data)
    try:
        s3 = server.client()
        got = _body(s3, "crash-k")
        assert got == (NEW if point == "tx-done" else OLD)
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"]] == ["crash-k"]
    finally:
        server.stop()


@pytest.mark.parametrize("point", ("tx-open", "tx-done"))
def test_complete_killed(tmp_path, point):
    parts = [os.urandom(5 * MiB), os.urandom(1000)]

    def setup(s3):
        s3.create_bucket(Bucket="bkt")
        upload = s3.create_multipart_upload(Bucket="bkt", Key="crash-mp")["UploadId"]
        etags = [s3.upload_part(Bucket="bkt", Key="crash-mp", UploadId=upload, PartNumber=n + 1, Body=p)["ETag"]
                 for n, p in enumerate(parts)]
        return upload, [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]

    def complete(s3, state):
        s3.complete_multipart_upload(Bucket="bkt", Key="crash-mp", UploadId=state[0],
                                     MultipartUpload={"Parts": state[1]})

    data = tmp_path / "data"
    server = start_server(data)
    try:
        state = setup(server.client())
    finally:
        server.stop()
    dying = start_server(data, env={"S3PRESIGN_CRASH_AT": point})
    try:
        with pytest.raises((botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)):
            complete(dying.client(), state)
        assert dying.proc.wait(10) == -9
    finally:
        dying.stop()
    server = _after(data)
    try:
        s3 = server.client()
        if point == "tx-open":  # the upload is intact and completable
            listed = s3.list_parts(Bucket="bkt", Key="crash-mp", UploadId=state[0])["Parts"]
            assert [p["PartNumber"] for p in listed] == [1, 2]
            with pytest.raises(botocore.exceptions.ClientError):
                s3.head_object(Bucket="bkt", Key="crash-mp")
        complete(s3, state)  # completes now, or answers as the completion did
        assert hashlib.md5(_body(s3, "crash-mp")).digest() == hashlib.md5(b"".join(parts)).digest()
        assert "Uploads" not in s3.list_multipart_uploads(Bucket="bkt")
    finally:
        server.stop()
    blobs, _ = _on_disk(data)
    assert blobs == _referenced(data)


@pytest.mark.parametrize("point", POINTS)
def test_copy_killed(tmp_path, point):
    def setup(s3):
        s3.create_bucket(Bucket="bkt")
        s3.put_object(Bucket="bkt", Key="src", Body=NEW)
        s3.put_object(Bucket="bkt", Key="crash-dst", Body=OLD)

    data = _crash(tmp_path, point, setup,
                  lambda s3, _: s3.copy_object(Bucket="bkt", Key="crash-dst", CopySource={"Bucket": "bkt", "Key": "src"}))
    server = _after(data)
    try:
        s3 = server.client()
        assert _body(s3, "crash-dst") == (NEW if point == "tx-done" else OLD)
        assert _body(s3, "src") == NEW
    finally:
        server.stop()


@pytest.mark.parametrize("versioned", [False, True])
@pytest.mark.parametrize("point", ("tx-open", "tx-done"))
def test_delete_killed(tmp_path, point, versioned):
    def setup(s3):
        s3.create_bucket(Bucket="bkt")
        if versioned:
            s3.put_bucket_versioning(Bucket="bkt", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="bkt", Key="crash-k", Body=OLD)
        s3.put_object(Bucket="bkt", Key="other", Body=NEW)

    data = _crash(tmp_path, point, setup, lambda s3, _: s3.delete_object(Bucket="bkt", Key="crash-k"))
    server = _after(data)
    try:
        s3 = server.client()
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bkt").get("Contents", [])]
        if point == "tx-open":
            assert keys == ["crash-k", "other"] and _body(s3, "crash-k") == OLD
        else:
            assert keys == ["other"]
            versions = s3.list_object_versions(Bucket="bkt", Prefix="crash-k")
            assert len(versions.get("Versions", [])) == (1 if versioned else 0)
            assert len(versions.get("DeleteMarkers", [])) == (1 if versioned else 0)
        assert _body(s3, "other") == NEW
    finally:
        server.stop()
