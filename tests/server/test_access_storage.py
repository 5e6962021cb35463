"""The storage calls access control relies on, on every metadata database: a bucket created
with its settings in one transaction, and one version's ``extra`` (ACL, tags) updated in
place, authenticated before and sealed again after."""

from __future__ import annotations

import pytest

from s3presign.core.s3errors import S3Error

from .test_metadata import _code, _put, _read, pg_conninfo, storage  # noqa: F401  (fixtures)


def test_create_bucket_with_its_settings(storage):
    config = {"owner": {"id": "a" * 64, "account": "111122223333", "name": "alice"},
              "ownership": "BucketOwnerEnforced", "public_access_block": {"block_public_acls": True}}
    assert storage.create_bucket("b", "us-east-1", config)
    assert storage.bucket("b").config == config
    # a second create changes nothing: the first owner's settings stay
    assert not storage.create_bucket("b", "us-east-1", {"owner": {"id": "b" * 64}})
    assert storage.bucket("b").config == config
    assert storage.create_bucket("plain", "us-east-1") and storage.bucket("plain").config == {}


def test_update_extra_one_version(storage):
    storage.create_bucket("b", "us-east-1")
    storage.set_versioning("b", "Enabled")
    old = _put(storage, "b", "k", b"old").version_id
    new = _put(storage, "b", "k", b"new").version_id
    updated = storage.update_extra("b", "k", old, {"tags": {"era": "old"}})
    assert updated.version_id == old and updated.extra == {"tags": {"era": "old"}}
    assert storage.head("b", "k", old).extra == {"tags": {"era": "old"}}
    assert storage.head("b", "k").extra == {}
    # the current version without a version id; None removes an item, others stay
    storage.update_extra("b", "k", None, {"tags": {"era": "new"}, "acl": "<x/>"})
    storage.update_extra("b", "k", None, {"tags": None})
    assert storage.head("b", "k").extra == {"acl": "<x/>"}
    assert storage.head("b", "k").version_id == new
    # the bytes, the order of versions and the listing are untouched
    assert _read(storage, "b", "k", old) == b"old" and _read(storage, "b", "k") == b"new"
    entries, _ = storage.list_versions("b", "", "", "", "", 10)
    assert [m.version_id for m in entries] == [new, old]
    # a fresh Storage over the same database authenticates the re-sealed records
    fresh = type(storage)(storage.meta, storage.blobs, storage._key)
    assert fresh.head("b", "k", old).extra == {"tags": {"era": "old"}}


def test_update_extra_errors(storage):
    storage.create_bucket("b", "us-east-1")
    storage.set_versioning("b", "Enabled")
    v = _put(storage, "b", "k").version_id
    storage.delete("b", "k")   # a delete marker is now current
    assert _code(storage.update_extra, "b", "k", None, {"tags": {}}) == "NoSuchKey"
    assert storage.update_extra("b", "k", v, {"tags": {"a": "b"}}).extra == {"tags": {"a": "b"}}
    assert _code(storage.update_extra, "b", "missing", None, {"tags": {}}) == "NoSuchKey"
    assert _code(storage.update_extra, "b", "k", "nosuchversion", {"tags": {}}) == "NoSuchVersion"
    assert _code(storage.update_extra, "nobucket", "k", None, {"tags": {}}) == "NoSuchBucket"


def test_update_extra_refuses_a_record_that_does_not_authenticate(storage):
    storage.create_bucket("b", "us-east-1")
    _put(storage, "b", "k")
    with storage.meta.tx() as t:   # someone with the database but not the record key
        row = storage.meta.current("b", "k", t)
        storage.meta.update_record(t, row[0], row[4].replace('"extra":{}', '"extra":{"acl":"forged"}'), row[5])
    storage._verified.clear()
    with pytest.raises(S3Error) as info:
        storage.update_extra("b", "k", None, {"tags": {"a": "b"}})
    assert info.value.code == "InternalError"
    with pytest.raises(S3Error):
        storage.head("b", "k")
