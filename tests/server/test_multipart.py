"""Multipart uploads against the real server: pre-signed parts in every SSE mode,
boto3's upload_file, S3's errors, atomic completion, and uploads that never
become visible."""

from __future__ import annotations

import base64
import hashlib
import io
import os

import botocore.exceptions
import pytest
import urllib3
from boto3.s3.transfer import TransferConfig
from minio import Minio
from minio.commonconfig import ComposeSource, CopySource
from minio.sse import SseCustomerKey, SseS3

from s3presign import SSE

from .helpers import MAIN, Endpoint, client_error, error_of
from .transfer_helpers import (
    CUSTOMER_KEY, SSE_MODES, STORED_AS, MiB, complete_body, headers_for, http, new_bucket, payload,
    presigned_get, presigned_multipart, xml_text,
)

SIZE = 40 * MiB + 12345  # the last part is short, as in real files
SSEC = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY}


@pytest.fixture
def server(request):
    """The plain-HTTP server, or the TLS one for the SSE-C modes (S3 requires TLS there)."""
    def pick(mode: str) -> Endpoint:
        return request.getfixturevalue("tls_endpoint" if SSE_MODES[mode][2] else "endpoint")
    return pick


def _multipart_etag(data: bytes, part_size: int) -> str:
    digests = b"".join(hashlib.md5(data[i:i + part_size]).digest() for i in range(0, len(data), part_size))
    return f'"{hashlib.md5(digests).hexdigest()}-{-(-len(data) // part_size)}"'


@pytest.mark.parametrize("mode", list(SSE_MODES))
def test_presigned_multipart_round_trip(server, mode):
    endpoint = server(mode)
    sse, customer_key, _ = SSE_MODES[mode]
    bucket, data = new_bucket(endpoint), payload(SIZE)
    done = presigned_multipart(endpoint, bucket, "big/file.bin", data, sse, customer_key)
    assert done.status_code == 200, done.text
    etag = xml_text(done.content, "ETag")
    assert etag.endswith('-6"')
    if mode in ("none", "s3"):
        assert etag == _multipart_etag(data, 8 * MiB)  # S3's form, from the plaintext MD5s
    got = presigned_get(endpoint, bucket, "big/file.bin", sse, customer_key)
    assert got.status_code == 200 and got.content == data  # byte for byte
    assert got.headers["etag"] == etag
    assert got.headers.get("x-amz-server-side-encryption") == STORED_AS[mode]
    if sse is not None and sse.is_customer:
        assert got.headers["x-amz-server-side-encryption-customer-key-md5"] == base64.b64encode(
            hashlib.md5(CUSTOMER_KEY).digest()).decode()


@pytest.mark.parametrize("mode", ["none", "s3", "c"])
def test_presigned_multipart_with_sigv2(server, mode):
    endpoint = server(mode)
    sse, customer_key, _ = SSE_MODES[mode]
    bucket, data = new_bucket(endpoint), payload(11 * MiB)
    done = presigned_multipart(endpoint, bucket, "v2.bin", data, sse, customer_key, part_size=5 * MiB, sig="v2")
    assert done.status_code == 200, done.text
    got = presigned_get(endpoint, bucket, "v2.bin", sse, customer_key, sig="v2")
    assert got.content == data


@pytest.mark.parametrize("mode", ["none", "s3", "kms", "dsse", "c"])
def test_boto3_upload_file_multipart(server, mode, tmp_path):
    endpoint = server(mode)
    s3 = endpoint.client()
    bucket, data = new_bucket(endpoint), payload(SIZE)
    path = tmp_path / "up.bin"
    path.write_bytes(data)
    extra = {"none": {}, "s3": {"ServerSideEncryption": "AES256"}, "kms": {"ServerSideEncryption": "aws:kms"},
             "dsse": {"ServerSideEncryption": "aws:kms:dsse"}, "c": SSEC}[mode]
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    s3.upload_file(str(path), bucket, "up.bin", ExtraArgs=extra, Config=config)
    read = SSEC if mode == "c" else {}
    head = s3.head_object(Bucket=bucket, Key="up.bin", **read)
    assert head["ETag"].endswith('-6"') and head["ContentLength"] == SIZE
    assert head.get("ServerSideEncryption") == STORED_AS[mode]
    out = tmp_path / "down.bin"
    s3.download_file(bucket, "up.bin", str(out), ExtraArgs=read, Config=config)
    assert out.read_bytes() == data


# --- GET / HEAD ?partNumber ------------------------------------------------------------


def _upload(s3, bucket, key, parts: list[bytes], **sse) -> dict:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **sse)
    done = [
        {"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=n,
                                                 Body=body, **_read(sse))["ETag"]}
        for n, body in enumerate(parts, 1)
    ]
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": done}, **_read(sse))


def _read(sse: dict) -> dict:
    return {k: v for k, v in sse.items() if k.startswith("SSECustomer")}


def test_get_part_number_returns_that_part(endpoint, bucket):
    s3 = endpoint.client()
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"tail"]
    _upload(s3, bucket, "p", parts)
    for n, body in enumerate(parts, 1):
        got = s3.get_object(Bucket=bucket, Key="p", PartNumber=n)
        assert got["Body"].read() == body and got["PartsCount"] == 3
        assert got["ContentRange"] == f"bytes {(n - 1) * 5 * MiB}-{(n - 1) * 5 * MiB + len(body) - 1}/{10 * MiB + 4}"
    head = s3.head_object(Bucket=bucket, Key="p", PartNumber=3)
    assert head["ContentLength"] == 4 and head["PartsCount"] == 3
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_object(Bucket=bucket, Key="p", PartNumber=4)
    assert client_error(info.value)["Code"] == "InvalidPartNumber" and client_error(info.value)["status"] == 416
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_object(Bucket=bucket, Key="p", PartNumber=1, Range="bytes=0-1")
    assert client_error(info.value)["Code"] == "InvalidRequest"


def test_get_part_of_a_single_part_object_is_the_object(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="one", Body=b"whole")
    assert s3.get_object(Bucket=bucket, Key="one", PartNumber=1)["Body"].read() == b"whole"


def test_get_part_of_an_sse_c_object_needs_the_key(tls_endpoint):
    s3 = tls_endpoint.client()
    bucket = new_bucket(tls_endpoint)
    parts = [os.urandom(5 * MiB), b"end"]
    _upload(s3, bucket, "c", parts, **SSEC)
    assert s3.get_object(Bucket=bucket, Key="c", PartNumber=2, **SSEC)["Body"].read() == b"end"
    got = presigned_get(tls_endpoint, bucket, "c", query={"partNumber": "2"})
    assert error_of(got)["Code"] == "InvalidRequest"  # stored with SSE-C: the key is required


# --- S3's errors ---------------------------------------------------------------------------


def _create(s3, bucket, key="k", **extra) -> str:
    return s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]


def _part(s3, bucket, upload_id, n, body, key="k", **extra) -> str:
    return s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=body, **extra)["ETag"]


def _complete_error(s3, bucket, upload_id, parts, key="k", **extra) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                     MultipartUpload={"Parts": parts}, **extra)
    return client_error(info.value)


def test_invalid_part_wrong_etag_or_missing(endpoint, bucket):
    s3 = endpoint.client()
    upload_id = _create(s3, bucket)
    etag = _part(s3, bucket, upload_id, 1, b"a" * 100)
    wrong = _complete_error(s3, bucket, upload_id, [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}])
    assert (wrong["status"], wrong["Code"]) == (400, "InvalidPart")
    assert "One or more of the specified parts could not be found" in wrong["Message"]
    missing = _complete_error(s3, bucket, upload_id, [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 2, "ETag": etag}])
    assert missing["Code"] == "InvalidPart"


def test_invalid_part_order(endpoint, bucket):
    s3 = endpoint.client()
    upload_id = _create(s3, bucket)
    one = _part(s3, bucket, upload_id, 1, os.urandom(5 * MiB))
    two = _part(s3, bucket, upload_id, 2, b"x")
    error = _complete_error(s3, bucket, upload_id, [{"PartNumber": 2, "ETag": two}, {"PartNumber": 1, "ETag": one}])
    assert (error["status"], error["Code"]) == (400, "InvalidPartOrder")


def test_entity_too_small_and_the_upload_survives(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="k", Body=b"the old version")
    upload_id = _create(s3, bucket)
    small = _part(s3, bucket, upload_id, 1, b"s" * 1000)
    last = _part(s3, bucket, upload_id, 2, b"t")
    error = _complete_error(s3, bucket, upload_id, [{"PartNumber": 1, "ETag": small}, {"PartNumber": 2, "ETag": last}])
    assert (error["status"], error["Code"]) == (400, "EntityTooSmall")
    assert error["ProposedSize"] == "1000" and error["MinSizeAllowed"] == str(5 * MiB)
    # a failed completion changes nothing: the old object is whole, the upload intact
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"the old version"
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]] == [1, 2]
    big = _part(s3, bucket, upload_id, 1, b"b" * (5 * MiB))  # a re-sent part replaces the first
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": big}, {"PartNumber": 2, "ETag": last}]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"b" * (5 * MiB) + b"t"


def test_no_such_upload(endpoint, bucket):
    s3 = endpoint.client()
    for upload_id in ("nonsense", "0" * 64, "../../etc"):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
        assert (client_error(info.value)["status"], client_error(info.value)["Code"]) == (404, "NoSuchUpload")
    upload_id = _create(s3, bucket, "k")
    with pytest.raises(botocore.exceptions.ClientError) as info:  # an upload is for one key only
        s3.upload_part(Bucket=bucket, Key="other", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert client_error(info.value)["Code"] == "NoSuchUpload"
    etag = _part(s3, bucket, upload_id, 1, b"x")
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    # a repeated completion answers as the first did (S3 does: a client may retry after a lost answer)
    again = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert again["ETag"] == s3.head_object(Bucket=bucket, Key="k")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as info:  # but no more parts
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"x")
    assert client_error(info.value)["Code"] == "NoSuchUpload"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert client_error(info.value)["Code"] == "NoSuchUpload"


def test_part_number_out_of_range(endpoint, bucket):
    s3 = endpoint.client()
    upload_id = _create(s3, bucket)
    for n in (0, 10001):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=n, Body=b"x")
        assert client_error(info.value)["Code"] == "InvalidArgument"


def test_sse_c_same_key_on_every_part_and_completion(tls_endpoint):
    s3 = tls_endpoint.client()
    bucket = new_bucket(tls_endpoint)
    upload_id = _create(s3, bucket, **SSEC)
    other = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
    for extra in (other, {}):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            _part(s3, bucket, upload_id, 1, b"x", **extra)
        error = client_error(info.value)
        assert (error["status"], error["Code"]) == (400, "InvalidRequest")
        assert error["Message"] == "The provided encryption parameters did not match the ones used originally."
    etag = _part(s3, bucket, upload_id, 1, b"x", **SSEC)
    error = _complete_error(s3, bucket, upload_id, [{"PartNumber": 1, "ETag": etag}], **other)
    assert error["Code"] == "InvalidRequest"
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}, **SSEC)
    assert s3.get_object(Bucket=bucket, Key="k", **SSEC)["Body"].read() == b"x"


def test_sse_kms_upload_part_under_sigv2_is_refused(endpoint, bucket):
    upload_id = _create(endpoint.client(), bucket, ServerSideEncryption="aws:kms")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        _part(endpoint.client("s3"), bucket, upload_id, 1, b"x")
    assert client_error(info.value)["Code"] == "InvalidArgument"
    assert "AWS Signature Version 4" in client_error(info.value)["Message"]


# --- never visible until complete; abort frees the space --------------------------------------


def _blob_bytes(endpoint: Endpoint) -> int:
    root = endpoint.data_dir / "blobs"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_unfinished_upload_is_never_an_object_and_abort_frees_space(endpoint, bucket):
    s3 = endpoint.client()
    before = _blob_bytes(endpoint)
    upload_id = _create(s3, bucket, "hidden")
    _part(s3, bucket, upload_id, 1, os.urandom(6 * MiB), key="hidden")
    assert _blob_bytes(endpoint) > before + 6 * MiB
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.head_object(Bucket=bucket, Key="hidden")
    assert client_error(info.value)["status"] == 404
    assert presigned_get(endpoint, bucket, "hidden").status_code == 404
    listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("hidden", upload_id)]
    s3.abort_multipart_upload(Bucket=bucket, Key="hidden", UploadId=upload_id)
    assert _blob_bytes(endpoint) == before
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_completion_moves_the_parts_and_frees_the_unused_ones(endpoint, bucket):
    s3 = endpoint.client()
    before = _blob_bytes(endpoint)
    upload_id = _create(s3, bucket, "done")
    first = _part(s3, bucket, upload_id, 1, os.urandom(5 * MiB), key="done")
    _part(s3, bucket, upload_id, 1, os.urandom(5 * MiB), key="done")  # replaced: freed at once
    last = _part(s3, bucket, upload_id, 2, b"z", key="done")
    unused = _part(s3, bucket, upload_id, 3, os.urandom(MiB), key="done")
    assert first and unused
    parts = {p["PartNumber"]: p["ETag"] for p in s3.list_parts(Bucket=bucket, Key="done", UploadId=upload_id)["Parts"]}
    s3.complete_multipart_upload(Bucket=bucket, Key="done", UploadId=upload_id, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": parts[1]}, {"PartNumber": 2, "ETag": last}]})
    stored = _blob_bytes(endpoint) - before
    assert 5 * MiB < stored < 5 * MiB + 64 * 1024  # the object is the parts' blobs, no copy, no leftovers
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="done")
    assert _blob_bytes(endpoint) == before


def test_list_parts_pages(endpoint, bucket):
    s3 = endpoint.client()
    upload_id = _create(s3, bucket)
    etags = {n: _part(s3, bucket, upload_id, n, bytes([n]) * n) for n in (1, 2, 3, 5)}
    first = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in first["Parts"]] == [(1, etags[1], 1), (2, etags[2], 2)]
    assert first["IsTruncated"] and first["NextPartNumberMarker"] == 2
    rest = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, PartNumberMarker=2)
    assert [p["PartNumber"] for p in rest["Parts"]] == [3, 5] and not rest["IsTruncated"]


def test_list_uploads_by_prefix_and_delimiter(endpoint, bucket):
    s3 = endpoint.client()
    ids = {key: _create(s3, bucket, key) for key in ("a/1", "a/2", "b/1", "top")}
    listed = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("a/1", ids["a/1"]), ("a/2", ids["a/2"])]
    rolled = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["a/", "b/"]
    assert [u["Key"] for u in rolled["Uploads"]] == ["top"]
    page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1)
    assert page["IsTruncated"] and page["NextKeyMarker"] == "a/1"
    after = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a/1", UploadIdMarker=page["NextUploadIdMarker"])
    assert [u["Key"] for u in after["Uploads"]] == ["a/2", "b/1", "top"]


def test_upload_part_copy_from_an_sse_c_object(tls_endpoint):
    s3 = tls_endpoint.client()
    bucket = new_bucket(tls_endpoint)
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=source, **SSEC)
    upload_id = _create(s3, bucket, "dst", ServerSideEncryption="aws:kms")
    copy_key = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": CUSTOMER_KEY}
    first = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "src"}, **copy_key)["CopyPartResult"]
    second = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=2,
                                 CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange="bytes=10-19",
                                 **copy_key)["CopyPartResult"]
    assert len(first["ETag"]) == 34 and first["ETag"] != second["ETag"]  # KMS: a keyed digest, not the MD5
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=3,
                            CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes=0-{6 * MiB}",
                            **copy_key)
    assert client_error(info.value)["Code"] == "InvalidArgument"
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]}]})
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == source + source[10:20] and got["ServerSideEncryption"] == "aws:kms"


def test_presigned_part_urls_carry_sse_c_headers_the_server_checks(tls_endpoint):
    """A part sent without the key its URL names is refused by the signature itself."""
    bucket = new_bucket(tls_endpoint)
    plan = tls_endpoint.presigner().presign_multipart(bucket, "k", size=10, sse=SSE.customer(CUSTOMER_KEY))
    with http(tls_endpoint) as client:
        created = client.post(plan.create.url, headers=headers_for(plan.create, None))
        plan = plan.for_upload(xml_text(created.content, "UploadId"))
        part = plan.parts[0].request
        bare = client.put(part.url, content=b"0123456789")
        assert bare.status_code == 403 and error_of(bare)["Code"] == "SignatureDoesNotMatch"
        sent = client.put(part.url, headers=headers_for(part, None), content=b"0123456789")
        done = client.post(plan.complete.url, headers=headers_for(plan.complete, None),
                           content=complete_body([(1, sent.headers["etag"])]))
    assert done.status_code == 200
    assert presigned_get(tls_endpoint, bucket, "k", SSE.customer(CUSTOMER_KEY)).content == b"0123456789"


# --- minio-py, an independent client -----------------------------------------------------------


def test_minio_multipart_sse_c_and_compose(tls_endpoint):
    mc = Minio(f"127.0.0.1:{tls_endpoint.port}", access_key=MAIN[0], secret_key=MAIN[1], secure=True,
               http_client=urllib3.PoolManager(ca_certs=tls_endpoint.ca))
    bucket = new_bucket(tls_endpoint)
    ssec = SseCustomerKey(CUSTOMER_KEY)
    data = os.urandom(11 * MiB + 1)
    mc.put_object(bucket, "mc.bin", io.BytesIO(data), -1, part_size=5 * MiB, sse=ssec)  # unknown length: multipart
    stat = mc.stat_object(bucket, "mc.bin", ssec=ssec)
    assert stat.size == len(data) and stat.etag.endswith("-3")
    response = mc.get_object(bucket, "mc.bin", ssec=ssec)
    try:
        assert response.read() == data
    finally:
        response.close()
        response.release_conn()
    mc.put_object(bucket, "tail.bin", io.BytesIO(b"tail"), 4, sse=SseS3())
    mc.compose_object(bucket, "joined.bin", [ComposeSource(bucket, "mc.bin", ssec=ssec), ComposeSource(bucket, "tail.bin")],
                      sse=SseS3())
    joined = mc.get_object(bucket, "joined.bin")
    try:
        assert joined.read() == data + b"tail"
    finally:
        joined.close()
        joined.release_conn()
    mc.copy_object(bucket, "copied.bin", CopySource(bucket, "mc.bin", ssec=ssec))
    assert mc.stat_object(bucket, "copied.bin").size == len(data)
