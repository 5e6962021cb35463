"""The distributed shape end to end: 3 `s3presign serve` instances over one PostgreSQL and
one Ceph RGW bucket, behind HAProxy with TLS (deploy/stack.sh), driven with boto3 and plain
httpx through the balancer; a write through one instance is read through another. Then what
the engines hold is scanned for plaintext and key material, and the faults are played:
PostgreSQL and RGW going away, an instance killed mid-PUT."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import ROOT

MARKER = b"S3PRESIGN-DIST-MARKER-" + secrets.token_hex(8).encode()
SSE_C_KEY = secrets.token_bytes(32)
RUN = secrets.token_hex(3)
BUCKET = f"dist-suite-{RUN}"
CROSS = f"dist-cross-{RUN}"
MiB = 1024 * 1024


def _ssec(key: bytes = SSE_C_KEY) -> dict:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def _ssec_headers(key: bytes = SSE_C_KEY) -> dict:
    return {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


MODES = {  # name -> (PutObject parameters, headers a pre-signed PUT/GET must carry, GET parameters)
    "default": ({}, {}, {}),
    "sse-s3": ({"ServerSideEncryption": "AES256"}, {"x-amz-server-side-encryption": "AES256"}, {}),
    "sse-kms": ({"ServerSideEncryption": "aws:kms"}, {"x-amz-server-side-encryption": "aws:kms"}, {}),
    "dsse-kms": ({"ServerSideEncryption": "aws:kms:dsse"}, {"x-amz-server-side-encryption": "aws:kms:dsse"}, {}),
    "sse-c": (_ssec(), _ssec_headers(), _ssec()),
}


def allow_ssec(s3, name):
    """New buckets block SSE-C writes, as AWS's have since April 2026; the owner unblocks."""
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
         "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]})


@pytest.fixture(scope="module")
def bucket(stack):
    s3 = stack.client()
    try:
        s3.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    allow_ssec(s3, BUCKET)
    return BUCKET


def test_a_write_through_one_instance_is_seen_through_every_other(stack, bucket):
    one, two, three = (stack.client(url) for url in stack.instances)
    one.create_bucket(Bucket=CROSS)
    assert CROSS in [b["Name"] for b in three.list_buckets()["Buckets"]]
    one.put_object(Bucket=CROSS, Key="a/1", Body=MARKER + b"-cross")
    assert two.get_object(Bucket=CROSS, Key="a/1")["Body"].read() == MARKER + b"-cross"
    # bucket configuration written through one instance is applied by the others at once
    two.put_bucket_encryption(Bucket=CROSS, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    put = three.put_object(Bucket=CROSS, Key="a/2", Body=MARKER + b"-default-kms")
    assert put["ServerSideEncryption"] == "aws:kms"
    arn = put["SSEKMSKeyId"]
    # the key service is shared: the KMS key made by one instance opens on the others
    got = one.get_object(Bucket=CROSS, Key="a/2")
    assert got["SSEKMSKeyId"] == arn and got["Body"].read() == MARKER + b"-default-kms"
    one.put_bucket_versioning(Bucket=CROSS, VersioningConfiguration={"Status": "Enabled"})
    v1 = two.put_object(Bucket=CROSS, Key="v", Body=b"one")["VersionId"]
    v2 = three.put_object(Bucket=CROSS, Key="v", Body=b"two")["VersionId"]
    assert v1 != v2 and v1 != "null"
    listed = one.list_object_versions(Bucket=CROSS, Prefix="v")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [(v2, True), (v1, False)]
    assert two.get_object(Bucket=CROSS, Key="v", VersionId=v1)["Body"].read() == b"one"
    three.delete_object(Bucket=CROSS, Key="v")
    with pytest.raises(ClientError) as err:
        one.get_object(Bucket=CROSS, Key="v")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    keys = [o["Key"] for o in two.list_objects_v2(Bucket=CROSS)["Contents"]]
    assert keys == ["a/1", "a/2"]


@pytest.mark.parametrize("mode", list(MODES))
def test_every_sse_mode_through_the_balancer_with_sdk_and_presigned_urls(stack, bucket, mode):
    put_args, headers, get_args = MODES[mode]
    s3 = stack.client()
    body = MARKER + f"-{mode}-sdk-".encode() + os.urandom(3000)
    s3.put_object(Bucket=bucket, Key=f"sdk/{mode}", Body=body, **put_args)
    for _ in range(3):  # round robin: each instance answers one of these
        assert s3.get_object(Bucket=bucket, Key=f"sdk/{mode}", **get_args)["Body"].read() == body
    # pre-signed URLs sign the balancer's host: they verify whichever instance serves them
    pbody = MARKER + f"-{mode}-presigned-".encode() + os.urandom(2000)
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": f"pre/{mode}", **put_args},
                                        ExpiresIn=300)
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": f"pre/{mode}", **get_args},
                                        ExpiresIn=300)
    with httpx.Client(verify=ssl.create_default_context(cafile=stack.env["S3_CA_BUNDLE"]), timeout=30) as http:
        r = http.put(put_url, content=pbody, headers=headers)
        assert r.status_code == 200, r.text
        get_headers = headers if mode == "sse-c" else {}
        for _ in range(3):
            r = http.get(get_url, headers=get_headers)
            assert r.status_code == 200, r.text
            assert r.content == pbody
        if mode == "sse-c":  # without its key an SSE-C object does not open, on any instance
            assert http.get(get_url).status_code in (400, 403)


def test_multipart_copy_and_listing_across_instances(stack, bucket):
    one, two, three = (stack.client(url) for url in stack.instances)
    lb = stack.client()
    key = "mp/kms"
    upload = one.create_multipart_upload(Bucket=bucket, Key=key, ServerSideEncryption="aws:kms")["UploadId"]
    p1 = MARKER + b"-part1-" + os.urandom(5 * MiB)
    p2 = MARKER + b"-part2-" + os.urandom(1234)
    e1 = two.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=p1)["ETag"]
    e2 = three.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=2, Body=p2)["ETag"]
    assert [p["PartNumber"] for p in one.list_parts(Bucket=bucket, Key=key, UploadId=upload)["Parts"]] == [1, 2]
    done = lb.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert done["ETag"].endswith('-2"')
    got = two.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(p1 + p2).digest()
    ranged = three.get_object(Bucket=bucket, Key=key, Range=f"bytes={5 * MiB - 10}-{5 * MiB + 40}")["Body"].read()
    assert ranged == (p1 + p2)[5 * MiB - 10:5 * MiB + 41]
    # copy into SSE-C (over TLS, at the balancer)
    lb.copy_object(Bucket=bucket, Key="mp/copy-c", CopySource={"Bucket": bucket, "Key": key}, **_ssec())
    head = lb.head_object(Bucket=bucket, Key="mp/copy-c", **_ssec())
    assert head["ContentLength"] == len(p1 + p2)
    keys = []
    for page in lb.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="mp/", PaginationConfig={"PageSize": 1}):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert keys == ["mp/copy-c", "mp/kms"]


def _scan(data: bytes, needles: dict[str, bytes]) -> list[str]:
    return [name for name, needle in needles.items() if needle in data]


def test_no_plaintext_nor_key_material_in_rgw_or_the_database_dump(stack, bucket):
    # every mode above ran first (the tests of this module run in order)
    master = stack.dir.joinpath("master.key").read_bytes().strip()
    from s3presign.core.sse import decode_key_file

    raw_master = decode_key_file(master)
    assert raw_master is not None
    needles = {"marker": MARKER}
    for name, key in (("master", raw_master), ("sse-c", SSE_C_KEY)):
        needles[f"{name} raw"] = key
        needles[f"{name} hex"] = key.hex().encode()
        needles[f"{name} HEX"] = key.hex().upper().encode()
        needles[f"{name} base64"] = base64.b64encode(key)
        needles[f"{name} base64url"] = base64.urlsafe_b64encode(key).rstrip(b"=")
    needles["sse-c md5"] = base64.b64encode(hashlib.md5(SSE_C_KEY).digest())
    rgw = stack.rgw()
    blobs = 0
    for page in rgw.get_paginator("list_objects_v2").paginate(Bucket=stack.env["RGW_BUCKET"]):
        for obj in page.get("Contents", []):
            name = obj["Key"]
            assert name.startswith("blobs/") and len(name.rsplit("/", 1)[1]) == 32  # opaque names only
            data = rgw.get_object(Bucket=stack.env["RGW_BUCKET"], Key=name)["Body"].read()
            assert _scan(data, needles) == [], name
            blobs += 1
    assert blobs >= 12
    pg_dump = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))[-1]
    dump = subprocess.run([str(pg_dump), "--no-owner", stack.env["PG_URL"]], capture_output=True, timeout=120,
                          check=True).stdout
    assert b"versions" in dump and len(dump) > 10_000
    assert _scan(dump, needles) == []


def test_an_instance_with_another_master_key_refuses_to_start(stack, tmp_path):
    (tmp_path / "other.key").write_text(secrets.token_hex(32))
    (tmp_path / "other.key").chmod(0o600)
    rgw = (stack.dir / "rgw" / "env").read_text()
    creds = dict(line.split("=", 1) for line in rgw.splitlines() if "=" in line)
    env = {**os.environ, "S3PRESIGN_METADATA_URL": stack.env["PG_URL"],
           "S3PRESIGN_BLOB_ACCESS_KEY_ID": creds["RGW_ACCESS_KEY"],
           "S3PRESIGN_BLOB_SECRET_ACCESS_KEY": creds["RGW_SECRET_KEY"]}
    proc = subprocess.run(
        [sys.executable, "-m", "s3presign", "serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
         "--master-key-file", str(tmp_path / "other.key"),
         "--blob-endpoint", stack.env["RGW_ENDPOINT"], "--blob-bucket", stack.env["RGW_BUCKET"],
         "--blob-prefix", "blobs/"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode != 0
    assert "not the master key of the deployment" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_orphan_blobs_are_collected_by_the_lease_holder_only_and_referenced_ones_kept(stack, bucket):
    from s3presign.server.blobs_s3 import S3BlobConfig, S3BlobStore
    from s3presign.server.encryption import Encryption
    from s3presign.server.storage import open_storage
    from s3presign.core.sse import decode_key_file

    rgw = dict(line.split("=", 1) for line in (stack.dir / "rgw" / "env").read_text().splitlines() if "=" in line)
    blobs = S3BlobStore(S3BlobConfig.resolve(bucket=stack.env["RGW_BUCKET"], endpoint=stack.env["RGW_ENDPOINT"],
                                             prefix="blobs/", access_key=rgw["RGW_ACCESS_KEY"],
                                             secret_key=rgw["RGW_SECRET_KEY"], environ={}))
    master = decode_key_file(stack.dir.joinpath("master.key").read_bytes())
    storage = open_storage(stack.dir, Encryption(stack.dir, master).record_key(), blobs,
                           metadata_url=stack.env["PG_URL"])
    writer = blobs.create()
    writer.write(b"ciphertext nobody references")
    writer.commit()
    orphan = writer.name
    assert orphan in set(blobs.names())
    # an instance took the lease at its start: this "instance" does not sweep
    assert storage.collect("test", grace=0, lease=60) is None
    with storage.meta.tx() as t:  # the holder's lease runs out (as when it dies)
        storage.meta.set(t, "gc", "- 0")
    assert storage.collect("test", grace=0, lease=60) >= 1
    assert orphan not in set(blobs.names())
    # everything referenced is still readable through the balancer
    lb = stack.client()
    assert lb.get_object(Bucket=bucket, Key="sdk/sse-kms")["Body"].read().startswith(MARKER)
    storage.meta.close()


def _user_cli(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "s3presign", "user", *args,
                           "--master-key-file", str(stack.dir / "master.key")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "S3PRESIGN_METADATA_URL": stack.env["PG_URL"]})


def _signs_on_every_instance(stack, access: str, secret: str) -> set[str]:
    import boto3
    from botocore.config import Config

    codes = set()
    for url in stack.instances:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=access,
                          aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))
        codes.add(_code(s3.list_buckets))
    return codes


def test_a_user_added_in_the_database_signs_on_every_instance_and_a_removed_one_nowhere(stack):
    made = _user_cli(stack, "add", "--name", "newcomer")
    assert made.returncode == 0, made.stderr
    access, secret = made.stdout.split()
    deadline = time.monotonic() + 5  # each instance polls the users' version row twice a second
    while _signs_on_every_instance(stack, access, secret) != {"OK"}:
        assert time.monotonic() < deadline, "the new user is not accepted by every instance"
        time.sleep(0.1)
    assert _signs_on_every_instance(stack, access, "wrong" + secret[5:]) == {"SignatureDoesNotMatch"}
    assert _user_cli(stack, "disable", access).returncode == 0
    time.sleep(1.5)
    assert _signs_on_every_instance(stack, access, secret) == {"InvalidAccessKeyId"}
    assert _user_cli(stack, "enable", access).returncode == 0
    time.sleep(1.5)
    assert _signs_on_every_instance(stack, access, secret) == {"OK"}
    assert _user_cli(stack, "remove", access).returncode == 0
    time.sleep(1.5)
    assert _signs_on_every_instance(stack, access, secret) == {"InvalidAccessKeyId"}
    # the database dump holds the users' secrets sealed only
    pg_dump = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))[-1]
    dump = subprocess.run([str(pg_dump), "--no-owner", "-t", "s3p_users", stack.env["PG_URL"]],
                          capture_output=True, timeout=120, check=True).stdout
    assert b"s3p_users" in dump
    for _, user_secret in stack.users.values():
        assert user_secret.encode() not in dump


# ------------------------------------------------------------------------- faults (last: they disturb)


def _code(call) -> str:
    """The S3 error code a call ends with ("OK" if none). A closed connection is not
    caught: an SDK must see the 503 itself (HAProxy passes on the instance's close)."""
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return "OK"


def _until_ok(call, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except ClientError as exc:
            if time.monotonic() > deadline:
                raise
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 503, exc.response
            time.sleep(0.5)


def test_postgresql_away_gives_503_then_service_resumes_by_itself(stack, bucket):
    s3 = stack.client(retries=2)  # as SDKs do: a 503 is retried (on a new connection)
    s3.put_object(Bucket=bucket, Key="pg/before", Body=b"committed")
    pg = [str(ROOT / "deploy" / "pg.sh")]
    subprocess.run([*pg, "stop", str(stack.dir / "pg")], check=True, capture_output=True, timeout=120)
    try:
        assert {_code(lambda: s3.get_object(Bucket=bucket, Key="pg/before")) for _ in range(3)} == {
            "ServiceUnavailable"}
        puts = {_code(lambda: s3.put_object(Bucket=bucket, Key="pg/during", Body=b"x")) for _ in range(3)}
        assert puts == {"ServiceUnavailable"}
    finally:
        subprocess.run([*pg, "restart", str(stack.dir / "pg")], check=True, capture_output=True, timeout=120)
    assert _until_ok(lambda: s3.get_object(Bucket=bucket, Key="pg/before"))["Body"].read() == b"committed"
    for _ in range(3):  # every instance reconnected
        s3.put_object(Bucket=bucket, Key="pg/after", Body=b"after")
        assert s3.get_object(Bucket=bucket, Key="pg/after")["Body"].read() == b"after"


def test_rgw_away_gives_503_then_service_resumes_by_itself(stack, bucket):
    s3 = stack.client(retries=2)
    s3.put_object(Bucket=bucket, Key="rgw/before", Body=b"committed" * 100)
    rgw = [str(ROOT / "deploy" / "rgw.sh")]
    subprocess.run([*rgw, "stop-rgw", str(stack.dir / "rgw")], check=True, capture_output=True, timeout=120)
    try:
        assert _code(lambda: s3.get_object(Bucket=bucket, Key="rgw/before")["Body"].read()) == "ServiceUnavailable"
        assert _code(lambda: s3.put_object(Bucket=bucket, Key="rgw/during", Body=b"x")) == "ServiceUnavailable"
        assert s3.list_objects_v2(Bucket=bucket, Prefix="rgw/")["KeyCount"] == 1  # listings need only metadata
    finally:
        subprocess.run([*rgw, "start-rgw", str(stack.dir / "rgw")], check=True, capture_output=True, timeout=180)
    got = _until_ok(lambda: s3.get_object(Bucket=bucket, Key="rgw/before")["Body"].read())
    assert got == b"committed" * 100
    assert _code(lambda: s3.head_object(Bucket=bucket, Key="rgw/during")) in ("404", "NoSuchKey", "Not Found")
    s3.put_object(Bucket=bucket, Key="rgw/after", Body=b"after")


def test_kill_9_of_an_instance_mid_put_others_serve_nothing_partial_retry_works(stack, bucket):
    victim_url, victim_pid = stack.instances[2], stack.pids()[2]
    stack.client().put_object(Bucket=bucket, Key="kill/before", Body=b"committed")
    sent = []

    def body():
        for i in range(64):
            if i == 8:
                os.kill(victim_pid, 9)  # the instance dies with half the body received
            sent.append(i)
            yield MARKER + os.urandom(64 * 1024)
            time.sleep(0.01)

    with pytest.raises(httpx.HTTPError):
        victim = stack.client(victim_url)
        url = victim.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "kill/obj"})
        length = 64 * (len(MARKER) + 64 * 1024)
        httpx.put(url, content=body(), headers={"content-length": str(length)}, timeout=30)
    assert 8 <= len(sent) < 64
    lb = stack.client(retries=3)
    for _ in range(6):  # the balancer routes around the dead one
        assert lb.get_object(Bucket=bucket, Key="kill/before")["Body"].read() == b"committed"
    assert _code(lambda: lb.head_object(Bucket=bucket, Key="kill/obj")) in ("404", "NoSuchKey", "Not Found")
    whole = MARKER + os.urandom(2 * MiB)
    lb.put_object(Bucket=bucket, Key="kill/obj", Body=whole)
    assert lb.get_object(Bucket=bucket, Key="kill/obj")["Body"].read() == whole


def test_kill_9_of_an_instance_mid_complete_multipart_then_retry_elsewhere(stack, bucket):
    import threading

    victim_url, victim_pid = stack.instances[1], stack.pids()[1]
    lb = stack.client(retries=3)
    key = "kill/mp"
    upload = lb.create_multipart_upload(Bucket=bucket, Key=key, ServerSideEncryption="aws:kms")["UploadId"]
    parts = [MARKER + os.urandom(5 * MiB), MARKER + os.urandom(999)]
    etags = [lb.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n + 1, Body=p)["ETag"]
             for n, p in enumerate(parts)]
    spec = {"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]}
    victim = stack.client(victim_url)
    outcome: list = []

    def complete() -> None:
        try:
            outcome.append(victim.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                                            MultipartUpload=spec))
        except Exception as exc:  # the instance died under it
            outcome.append(exc)

    thread = threading.Thread(target=complete)
    thread.start()
    time.sleep(0.005)
    os.kill(victim_pid, 9)  # before, during or after its one transaction: all must be safe
    thread.join(60)
    # whatever the victim managed, the object is whole or absent, never partial ...
    code = _code(lambda: lb.head_object(Bucket=bucket, Key=key))
    assert code in ("OK", "404", "NoSuchKey", "Not Found")
    # ... and the client's retry through the balancer completes it (or answers the stored result)
    done = lb.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload=spec)
    assert done["ETag"].endswith('-2"')
    got = lb.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(b"".join(parts)).digest()
