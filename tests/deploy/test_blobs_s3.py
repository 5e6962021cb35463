"""server.blobs_s3 against a real Ceph RGW (deploy/rgw.sh), and the blob contract on every store."""

from __future__ import annotations

import hashlib
import importlib
import time
import tracemalloc
import uuid

import pytest

import blobs_contract
from s3presign.core.credentials import Credentials
from s3presign.core.errors import PresignError
from s3presign.server.blobs_s3 import BackendUnavailable, BlobBackendError, S3BlobConfig, S3BlobStore

MiB = 1 << 20


def make_store(rgw, bucket, **options) -> S3BlobStore:
    options.setdefault("part_size", blobs_contract.PART)
    options.setdefault("retries", 2)
    options.setdefault("backoff", 0.05)
    return S3BlobStore(S3BlobConfig(
        endpoint=rgw.endpoint, bucket=bucket, credentials=Credentials(rgw.access_key, rgw.secret_key),
        prefix=f"t/{uuid.uuid4().hex[:12]}/", region=rgw.region, **options,
    ))


def _fs_store_class():
    try:
        return importlib.import_module("s3presign.server.blobs_fs").FileBlobStore
    except (ImportError, AttributeError):
        return None


@pytest.fixture(params=["rgw", "fs"])
def store(request, tmp_path):
    if request.param == "fs":
        cls = _fs_store_class()
        if cls is None:
            pytest.skip("no filesystem BlobStore (server.blobs_fs.FileBlobStore) on this branch")
        yield cls(tmp_path / "blobs")
        return
    s = make_store(request.getfixturevalue("rgw"), request.getfixturevalue("rgw_bucket"))
    yield s
    s.close()


@pytest.mark.parametrize("check", blobs_contract.CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_contract(check, store):
    check(store)


# ---------------------------------------------------------------- what the backend holds


def test_small_blob_is_one_putobject_and_large_one_multipart(rgw, rgw_bucket):
    store = make_store(rgw, rgw_bucket)
    s3 = rgw.boto3()
    small = blobs_contract.write_blob(store, b"x" * (blobs_contract.PART - 1))
    data = blobs_contract.pattern(20 * MiB, 7)
    large = blobs_contract.write_blob(store, data, piece=3 * MiB)
    head = s3.head_object(Bucket=rgw_bucket, Key=store.key(small))
    assert "-" not in head["ETag"] and head["ContentLength"] == blobs_contract.PART - 1
    head = s3.head_object(Bucket=rgw_bucket, Key=store.key(large))
    assert head["ETag"].strip('"').endswith("-4")  # 20 MiB in 5 MiB parts
    body = s3.get_object(Bucket=rgw_bucket, Key=store.key(large))["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    # only opaque names under the prefix, and no upload left in progress
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=rgw_bucket, Prefix=store.config.prefix)["Contents"]]
    assert sorted(keys) == sorted([store.key(small), store.key(large)])
    assert store.pending_uploads() == []


def test_abort_aborts_the_multipart_upload(rgw, rgw_bucket):
    store = make_store(rgw, rgw_bucket)
    writer = store.create()
    writer.write(blobs_contract.pattern(2 * blobs_contract.PART + 5, 8))
    assert store.pending_uploads() == [store.key(writer.name)]  # parts are on the backend
    writer.abort()
    assert store.pending_uploads() == []
    assert list(store.names()) == []


def test_sweep_pages_through_listings(rgw, rgw_bucket):
    """More blobs than one ListObjectsV2 page (1000 keys): every orphan goes, every referenced stays."""
    store = make_store(rgw, rgw_bucket)
    s3 = rgw.boto3()
    names = [uuid.uuid4().hex for _ in range(1100)]
    # seeded directly (fast): the sweeper must treat whatever is under the prefix by its name
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: s3.put_object(Bucket=rgw_bucket, Key=store.key(n), Body=b"."), names))
    s3.put_object(Bucket=rgw_bucket, Key=store.config.prefix + "not-a-blob-name", Body=b".")
    keep = set(names[::3])
    time.sleep(1.1)
    assert store.sweep(keep, 1) == len(names) - len(keep)
    assert set(store.names()) == keep
    # a key that is not one of ours is never touched
    assert s3.head_object(Bucket=rgw_bucket, Key=store.config.prefix + "not-a-blob-name")["ContentLength"] == 1


# ---------------------------------------------------------------- faults


def test_rgw_restart_raises_unavailable_then_recovers(rgw, rgw_bucket):
    store = make_store(rgw, rgw_bucket)
    name = blobs_contract.write_blob(store, b"before the restart")
    writer = store.create()
    writer.write(blobs_contract.pattern(blobs_contract.PART + 1, 9))  # a multipart upload is open
    rgw.run("stop-rgw")
    try:
        t0 = time.monotonic()
        with pytest.raises(BackendUnavailable) as info:
            store.open(name)
        assert time.monotonic() - t0 < 10  # bounded retries, then the 503 the server passes on
        assert info.value.status == 503 and info.value.code == "ServiceUnavailable"
        with pytest.raises(BackendUnavailable):
            blobs_contract.write_blob(store, b"during the restart")
        with pytest.raises(BackendUnavailable):
            writer.commit()
    finally:
        rgw.run("start-rgw")
    # the same store (same connection pool) recovers by itself
    assert b"".join(store.open(name).read(0, 100)) == b"before the restart"
    assert blobs_contract.read_all(store, blobs_contract.write_blob(store, b"after")) == b"after"
    # the interrupted writer's upload is garbage the sweeper removes
    time.sleep(1.1)
    store.sweep(None, 1)
    assert store.pending_uploads() == []


def test_unreachable_endpoint_is_unavailable():
    store = S3BlobStore(S3BlobConfig("http://127.0.0.1:9", "b", Credentials("AK", "SK"), retries=1, backoff=0.01,
                                     connect_timeout=1))
    with pytest.raises(BackendUnavailable, match="unavailable"):
        store.open("0" * 32)


def test_refusals_are_backend_errors_not_unavailable(rgw, rgw_bucket):
    wrong = S3BlobStore(S3BlobConfig(rgw.endpoint, rgw_bucket, Credentials(rgw.access_key, "wrong-secret")))
    with pytest.raises(BlobBackendError) as info:
        blobs_contract.write_blob(wrong, b"x")
    assert not isinstance(info.value, BackendUnavailable)
    assert info.value.status == 403 and info.value.code == "SignatureDoesNotMatch"
    missing = make_store(rgw, "no-such-bucket-" + uuid.uuid4().hex[:6])
    with pytest.raises(BlobBackendError) as info:
        missing.sweep(None, 0)
    assert info.value.status == 404 and info.value.code == "NoSuchBucket"


# ---------------------------------------------------------------- memory


def test_streamed_write_and_read_stay_within_a_few_parts(rgw, rgw_bucket):
    part = 8 * MiB
    store = make_store(rgw, rgw_bucket, part_size=part)
    piece = bytes(MiB)
    tracemalloc.start()
    try:
        writer = store.create()
        for _ in range(64):  # 64 MiB, never held whole
            writer.write(piece)
        assert writer.commit() == 64 * MiB
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        total = sum(len(c) for c in store.open(writer.name).read(0, 64 * MiB))
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 64 * MiB
    assert write_peak <= 3 * part, write_peak
    assert read_peak <= part, read_peak  # a few 1 MiB pieces in flight, whatever the size


# ---------------------------------------------------------------- configuration


def test_resolve_follows_the_aws_cli(tmp_path):
    config = tmp_path / "config"
    config.write_text("[profile rgw]\nendpoint_url = http://127.0.0.1:7480\nregion = eu-west-3\n"
                      "aws_access_key_id = PROFILEAK\naws_secret_access_key = PROFILESK\n")
    base = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "HOME": str(tmp_path)}
    c = S3BlobConfig.resolve(bucket="b", profile="rgw", environ=base)
    assert (c.endpoint, c.region, c.credentials.access_key) == ("http://127.0.0.1:7480", "eu-west-3", "PROFILEAK")
    env = {**base, "AWS_PROFILE": "rgw", "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_REGION": "ap-south-1",
           "AWS_ACCESS_KEY_ID": "ENVAK", "AWS_SECRET_ACCESS_KEY": "ENVSK"}
    c = S3BlobConfig.resolve(bucket="b", environ=env)
    assert (c.endpoint, c.region, c.credentials.access_key) == ("http://127.0.0.1:1", "ap-south-1", "ENVAK")
    c = S3BlobConfig.resolve(bucket="b", environ={**env, "AWS_ENDPOINT_URL_S3": "https://s3.local:8443"})
    assert c.endpoint == "https://s3.local:8443"  # the service-specific variable wins
    c = S3BlobConfig.resolve(bucket="b", endpoint="http://10.0.0.1:80/", prefix="p/", region="us-west-2",
                             access_key="EXPLICIT", secret_key="S", environ=env)
    assert (c.endpoint, c.prefix, c.region, c.credentials.access_key) == (
        "http://10.0.0.1:80", "p/", "us-west-2", "EXPLICIT")
    c = S3BlobConfig.resolve(bucket="b", environ={"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S",
                                                  "AWS_REGION": "eu-north-1", "HOME": str(tmp_path)})
    assert c.endpoint == "https://s3.eu-north-1.amazonaws.com"


@pytest.mark.parametrize("kwargs, fix", [
    ({"endpoint": "127.0.0.1:7480"}, "--blob-endpoint"),
    ({"endpoint": "http://h/path"}, "--blob-endpoint"),
    ({"bucket": ""}, "--blob-bucket"),
    ({"part_size": MiB}, "5 MiB"),
    ({"prefix": "/abs"}, "must not start"),
])
def test_bad_configuration_names_the_fix(kwargs, fix):
    args = {"endpoint": "http://127.0.0.1:7480", "bucket": "b", "credentials": Credentials("A", "S"), **kwargs}
    with pytest.raises(PresignError, match=fix):
        S3BlobConfig(**args)


@pytest.mark.parametrize("prefetch", [True, False])
def test_a_blob_opened_with_the_metadatas_size_skips_the_head_and_the_first_read_checks_it(
        rgw, rgw_bucket, monkeypatch, prefetch):
    """A small blob is fetched whole when opened (off the server's event loop); a larger one
    at its first read. Either way the backend's size must be the recorded one."""
    import s3presign.server.blobs_s3 as blobs_s3

    if not prefetch:
        monkeypatch.setattr(blobs_s3, "PREFETCH", 0)
    store = make_store(rgw, rgw_bucket)
    writer = store.create()
    writer.write(b"0123456789" * 110)
    writer.commit()
    assert store.open(writer.name, 1100).pread(5, 10) == b"5678901234"
    assert b"".join(store.open(writer.name, 1100).read(1090, 10)) == b"0123456789"
    with pytest.raises(BlobBackendError, match="does not hold"):  # the backend's blob is not the recorded one
        store.open(writer.name, 1200).pread(0, 10)
    with pytest.raises(BlobBackendError, match="does not hold"):
        list(store.open(writer.name, 1000).read(0, 10))
    store.delete(writer.name)
    with pytest.raises(FileNotFoundError):
        store.open(writer.name, 1100).pread(0, 10)


# ---------------------------------------------------------------- the small-blob cache


def test_a_small_blob_read_once_is_served_from_the_cache_only_at_its_recorded_size(rgw, rgw_bucket):
    """Blob names are never reused and blobs never change, so a blob read once is served from
    memory: even after another instance removed it from the backend (a request whose record
    still named it read the database before that delete). Another size asks the backend."""
    store = make_store(rgw, rgw_bucket)
    other = S3BlobStore(store.config)  # a second instance over the same bucket and prefix
    name = blobs_contract.write_blob(store, b"cached ciphertext")
    assert store.open(name, 17).pread(0, 17) == b"cached ciphertext"
    other.delete(name)
    with pytest.raises(FileNotFoundError):
        other.open(name, 17)
    assert store.open(name, 17).pread(7, 10) == b"ciphertext"  # no backend request
    with pytest.raises(FileNotFoundError):
        store.open(name, 18)  # not the cached blob's size: the backend answers, and it is gone
    big = blobs_contract.write_blob(store, b"x" * 2000)
    store.open(big, 2000).pread(0, 1)
    store.delete(big)  # a delete through this store forgets it at once
    with pytest.raises(FileNotFoundError):
        store.open(big, 2000)
    uncached = make_store(rgw, rgw_bucket, cache_size=0)
    assert uncached.cache is None
    for s in (store, other, uncached):
        s.close()


def test_the_blob_cache_is_bounded_in_bytes_least_recently_used_out():
    from s3presign.server.blobs_s3 import BlobCache

    cache = BlobCache(100)
    cache.put("a" * 32, b"1" * 40)
    cache.put("b" * 32, b"2" * 40)
    assert cache.get("a" * 32, 40) == b"1" * 40  # a is now the most recent
    cache.put("c" * 32, b"3" * 40)  # 120 bytes > 100: b goes
    assert cache.get("b" * 32, 40) is None
    assert cache.get("a" * 32, 40) and cache.get("c" * 32, 40)
    cache.put("d" * 32, b"4" * 101)  # larger than the whole cache: never kept
    assert cache.get("d" * 32, 101) is None and cache.get("a" * 32, 40)
    assert cache.get("a" * 32, 41) is None  # only at the size asked for
