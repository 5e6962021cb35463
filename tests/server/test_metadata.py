"""The storage contract (server.storage.Storage) on every metadata database and
blob store: SQLite + files (the embedded default), in memory, and PostgreSQL
(a real server started under a temp dir). Same schema, same queries."""

from __future__ import annotations

import random
import secrets
import time
import uuid

import pytest

from s3presign.core.s3errors import S3Error
from s3presign.server.blobs_fs import FileBlobStore, MemoryBlobStore
from s3presign.server.metadata import Metadata, PostgreSQL, SQLite
from s3presign.server.storage import ObjectMeta, Storage, Upload, memory_storage, new_upload_id

from .pg import postgres


@pytest.fixture(scope="module")
def pg_conninfo():
    yield from postgres()


@pytest.fixture(params=["sqlite", "memory", "postgresql"])
def storage(request, tmp_path):
    key = secrets.token_bytes(32)
    if request.param == "sqlite":
        yield Storage(Metadata(SQLite(tmp_path / "meta.sqlite3")), FileBlobStore(tmp_path / "blobs"), key)
    elif request.param == "memory":
        yield memory_storage(key)
    else:
        conninfo = request.getfixturevalue("pg_conninfo")
        import psycopg

        schema = f"t{uuid.uuid4().hex[:12]}"  # one schema per test: a fresh database each time
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        meta = Metadata(PostgreSQL(f"{conninfo} options=-csearch_path={schema}"))
        yield Storage(meta, MemoryBlobStore(), key)
        meta.close()


def _blob(storage: Storage, data: bytes) -> list:
    writer = storage.new_blob()
    writer.write(data)
    return [[writer.name, writer.commit()]]


def _put(storage: Storage, bucket: str, key: str, data: bytes = b"x") -> ObjectMeta:
    meta = ObjectMeta(key=key, size=len(data), etag=key.encode().hex()[:32], last_modified=time.time(),
                      blobs=_blob(storage, data))
    return storage.put(bucket, meta)


def _read(storage: Storage, bucket: str, key: str, version: str | None = None) -> bytes:
    obj = storage.open(bucket, key, version)
    return b"".join(obj.read(0, obj.stored_size))


def _code(call, *args) -> str:
    with pytest.raises(S3Error) as info:
        call(*args)
    return info.value.code


def test_buckets(storage):
    assert storage.create_bucket("one", "us-east-1") and not storage.create_bucket("one", "us-east-1")
    storage.create_bucket("two", "eu-west-1")
    assert [b.name for b in storage.list_buckets()] == ["one", "two"]
    storage.set_bucket_config("one", "cors", [{"x": 1}])
    assert storage.bucket("one").config == {"cors": [{"x": 1}]}
    storage.set_versioning("one", "Enabled")
    assert storage.bucket("one").versioning == "Enabled" and storage.bucket("one").config["cors"]
    _put(storage, "two", "k")
    assert _code(storage.delete_bucket, "two") == "BucketNotEmpty"
    storage.delete("two", "k")
    storage.delete_bucket("two")
    assert _code(storage.bucket, "two") == "NoSuchBucket"


def test_put_replaces_and_frees_the_old_blob(storage):
    storage.create_bucket("b", "us-east-1")
    first = _put(storage, "b", "k", b"first")
    _put(storage, "b", "k", b"second")
    assert _read(storage, "b", "k") == b"second"
    with pytest.raises(FileNotFoundError):
        storage.blobs.open(first.blobs[0][0])
    assert _code(storage.head, "b", "missing") == "NoSuchKey"
    assert _code(storage.head, "nobucket", "k") == "NoSuchBucket"


def test_versions_markers_and_order(storage):
    storage.create_bucket("b", "us-east-1")
    storage.set_versioning("b", "Enabled")
    v1 = _put(storage, "b", "k", b"1").version_id
    v2 = _put(storage, "b", "k", b"2").version_id
    marker, is_marker = storage.delete("b", "k")
    assert is_marker and marker not in (v1, v2)
    assert _code(storage.head, "b", "k") == "NoSuchKey"
    assert _read(storage, "b", "k", v1) == b"1"
    entries, nxt = storage.list_versions("b", "", "", "", "", 10)
    assert nxt is None
    assert [(e.version_id, e.latest, e.delete_marker) for e in entries] == [
        (marker, True, True), (v2, False, False), (v1, False, False)]
    page, nxt = storage.list_versions("b", "", "", "", "", 2)
    assert [e.version_id for e in page] == [marker, v2] and nxt == ("k", v2)
    rest, nxt = storage.list_versions("b", "", "", "k", v2, 2)
    assert [e.version_id for e in rest] == [v1] and nxt is None
    assert storage.delete("b", "k", marker) == (marker, True)
    assert _read(storage, "b", "k") == b"2"
    storage.delete("b", "k", v2)
    assert _read(storage, "b", "k") == b"1"


def test_listing_pages_match_a_model(storage):
    """Keyset paging with prefixes and delimiters, in UTF-8 byte order (PostgreSQL too)."""
    storage.create_bucket("b", "us-east-1")
    rng = random.Random(9)
    alphabet = ["a", "b", "/", "é", "z", "\U0001f600", "-", "0"]
    keys = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5))) for _ in range(300)})
    storage.load("b", [ObjectMeta(key=k, size=1, etag="e", last_modified=1.0) for k in keys])
    for prefix, delimiter, limit in (("", "", 7), ("a", "", 5), ("", "/", 4), ("b", "/", 3), ("\U0001f600", "", 2)):
        expected: list[str] = []
        for k in keys:
            if not k.startswith(prefix):
                continue
            cut = k.find(delimiter, len(prefix)) if delimiter else -1
            entry = k[: cut + len(delimiter)] if cut >= 0 else k
            if not expected or expected[-1] != entry:
                expected.append(entry)
        got: list[str] = []
        after = ""
        while True:
            entries, last = storage.list_objects("b", prefix, delimiter, after, limit)
            got += [e if isinstance(e, str) else e.key for e in entries]
            assert len(entries) <= limit
            if last is None:
                break
            after = last
        assert got == expected, (prefix, delimiter)


def test_multipart_completion_is_metadata_only(storage):
    storage.create_bucket("b", "us-east-1")
    upload = Upload(new_upload_id(), "mp", time.time(), {"mode": "AES256"})
    storage.create_upload("b", upload)
    for n, data in ((1, b"one-"), (2, b"old"), (2, b"two-"), (3, b"unused")):
        part = ObjectMeta(key="", size=len(data), etag=f"e{n}", last_modified=time.time(), blobs=_blob(storage, data))
        storage.put_part("b", upload.upload_id, n, part)
    assert [n for n, _ in storage.list_parts(upload.upload_id, 0, 10)] == [1, 2, 3]
    unused = storage.list_parts(upload.upload_id, 2, 10)[0][1].blobs[0][0]

    def assemble(up, staged):
        return [1, 2], ObjectMeta(key="mp", size=8, etag="mp-2", last_modified=time.time())

    done, meta = storage.complete_upload("b", upload.upload_id, "mp", assemble)
    assert meta is not None and len(meta.blobs) == 2
    assert _read(storage, "b", "mp") == b"one-two-"
    with pytest.raises(FileNotFoundError):
        storage.blobs.open(unused)
    again, meta = storage.complete_upload("b", upload.upload_id, "mp", assemble)
    assert meta is None and again.result == done.result
    assert _code(storage.get_upload, "b", upload.upload_id, "mp") == "NoSuchUpload"
    assert storage.list_uploads("b", "", "", 10) == []


def test_abort_frees_every_part(storage):
    storage.create_bucket("b", "us-east-1")
    upload = Upload(new_upload_id(), "k", time.time(), {})
    storage.create_upload("b", upload)
    blobs = _blob(storage, b"part")
    storage.put_part("b", upload.upload_id, 1, ObjectMeta(key="", size=4, etag="e", last_modified=0, blobs=blobs))
    assert [u.upload_id for u in storage.list_uploads("b", "", "", 10)] == [upload.upload_id]
    storage.abort_upload("b", upload.upload_id, "k")
    with pytest.raises(FileNotFoundError):
        storage.blobs.open(blobs[0][0])
    assert _code(storage.abort_upload, "b", upload.upload_id, "k") == "NoSuchUpload"


def test_recover_sweeps_unreferenced_blobs(storage):
    storage.create_bucket("b", "us-east-1")
    kept = _put(storage, "b", "k", b"kept").blobs[0][0]
    orphan = _blob(storage, b"never referenced")[0][0]
    assert storage.recover() == 1
    storage.blobs.open(kept).close()
    with pytest.raises(FileNotFoundError):
        storage.blobs.open(orphan)


def test_a_forged_record_is_flagged(storage):
    storage.create_bucket("b", "us-east-1")
    _put(storage, "b", "k", b"data")
    forged = Storage(storage.meta, storage.blobs, secrets.token_bytes(32))  # another master key
    assert _code(forged.head, "b", "k") == "InternalError"
    entries, _ = forged.list_objects("b", "", "", "", 10)
    assert [(e.key, e.corrupt) for e in entries] == [("k", True)]


def test_a_version_opens_without_io_only_when_its_blobs_are_cached():
    """Storage.open_cached: a StoredObject when the blob store's memory cache holds every
    blob of the version at its recorded size, else None (the caller opens it as usual)."""
    from s3presign.server.blobs_s3 import BlobCache

    storage = memory_storage()
    storage.create_bucket("b", "us-east-1")
    meta = _put(storage, "b", "k", b"ciphertext")
    name, size = meta.blobs[0]
    assert storage.open_cached(meta, False) is None  # no cache at all
    storage.blobs.cache = BlobCache(1 << 20)
    assert storage.open_cached(meta, False) is None  # not cached yet
    storage.blobs.cache.put(name, b"x" * (size + 1))
    assert storage.open_cached(meta, False) is None  # cached at another size: not this blob
    storage.blobs.cache.put(name, b"ciphertext")
    obj = storage.open_cached(meta, True)
    assert obj is not None and obj.versioned and obj.pread(0, size) == b"ciphertext"
    storage.blobs.delete(name)  # cached, but the store lost it: left to open_version
    assert storage.open_cached(meta, False) is None
