"""Multipart checksums against the real server, as S3 defines them ("Checking object
integrity"): boto3's upload_file with ChecksumAlgorithm forced into multipart, the
object's COMPOSITE (``<b64>-N``) or FULL_OBJECT checksum on HEAD/GET with
ChecksumMode=ENABLED and in GetObjectAttributes, each part's on GET ?partNumber,
and S3's refusals at UploadPart and CompleteMultipartUpload."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig
from botocore import httpchecksum

from .helpers import client_error
from .transfer_helpers import CUSTOMER_KEY, MiB, new_bucket

PART = 5 * MiB
SIZES = [PART, PART, 1234]  # the last part short, as in real files
CONFIG = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=2)
SSEC = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY}


def _digest(algorithm: str, data: bytes) -> bytes:
    """Each algorithm computed by botocore (or hashlib), never by the server's code."""
    if algorithm == "SHA1":
        return hashlib.sha1(data).digest()
    if algorithm == "SHA256":
        return hashlib.sha256(data).digest()
    if algorithm == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    cls = {"CRC32C": httpchecksum.CrtCrc32cChecksum, "CRC64NVME": httpchecksum.CrtCrc64NvmeChecksum}[algorithm]
    h = cls()
    h.update(data)
    return h.digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _expected(algorithm: str, ctype: str, parts: list[bytes]) -> str:
    if ctype == "FULL_OBJECT":
        return _b64(_digest(algorithm, b"".join(parts)))
    return f"{_b64(_digest(algorithm, b''.join(_digest(algorithm, p) for p in parts)))}-{len(parts)}"


def _pieces(data: bytes) -> list[bytes]:
    return [data[i:i + PART] for i in range(0, len(data), PART)]


@pytest.mark.parametrize("algorithm,ctype", [
    ("CRC32", "COMPOSITE"), ("CRC32C", "COMPOSITE"), ("SHA1", "COMPOSITE"), ("SHA256", "COMPOSITE"),
    ("CRC64NVME", "FULL_OBJECT"),
])
def test_boto3_upload_file_with_a_checksum_algorithm(tls_endpoint, tmp_path, algorithm, ctype):
    s3 = tls_endpoint.client()
    bucket = new_bucket(tls_endpoint)
    data = os.urandom(sum(SIZES))
    (tmp_path / "f").write_bytes(data)
    s3.upload_file(str(tmp_path / "f"), bucket, "big", Config=CONFIG, ExtraArgs={"ChecksumAlgorithm": algorithm})
    member = f"Checksum{algorithm}"
    expected = _expected(algorithm, ctype, _pieces(data))

    assert member not in s3.head_object(Bucket=bucket, Key="big")  # only when asked for
    head = s3.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert (head[member], head["ChecksumType"]) == (expected, ctype)
    got = s3.get_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert got["Body"].read() == data and got[member] == expected  # boto3 validates a FULL_OBJECT one
    part = s3.get_object(Bucket=bucket, Key="big", PartNumber=2, ChecksumMode="ENABLED")
    assert part["Body"].read() == data[PART:2 * PART]
    assert part[member] == _b64(_digest(algorithm, data[PART:2 * PART])) and part["ChecksumType"] == ctype

    attrs = s3.get_object_attributes(Bucket=bucket, Key="big", ObjectAttributes=["Checksum", "ObjectParts"])
    assert attrs["Checksum"] == {member: expected, "ChecksumType": ctype}
    assert attrs["ObjectParts"]["TotalPartsCount"] == 3
    assert [(p["PartNumber"], p["Size"], p[member]) for p in attrs["ObjectParts"]["Parts"]] == [
        (n, len(p), _b64(_digest(algorithm, p))) for n, p in enumerate(_pieces(data), 1)]

    s3.download_file(bucket, "big", str(tmp_path / "back"), Config=CONFIG)
    assert (tmp_path / "back").read_bytes() == data


def _upload(s3, bucket, key, parts, *, algorithm, ctype=None, send=True, **extra):
    create = {"ChecksumAlgorithm": algorithm, **({"ChecksumType": ctype} if ctype else {}), **extra}
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)
    assert upload["ChecksumAlgorithm"] == algorithm
    done = []
    for n, body in enumerate(parts, 1):
        args = {f"Checksum{algorithm}": _b64(_digest(algorithm, body))} if send else {}
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=n, Body=body,
                           **args, **extra)
        done.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{algorithm}": r[f"Checksum{algorithm}"]})
    return upload["UploadId"], done


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_crc_without_part_checksums_from_the_client(tls_endpoint, algorithm):
    """FULL_OBJECT: the server computes each part's CRC; the object's is the CRC of
    the whole object (combined, no byte read again), checked against the client's."""
    s3 = tls_endpoint.client(request_checksum_calculation="when_required")
    bucket = new_bucket(tls_endpoint)
    parts = [os.urandom(n) for n in SIZES]
    upload_id, done = _upload(s3, bucket, "k", parts, algorithm=algorithm, ctype="FULL_OBJECT", send=False)
    whole = _b64(_digest(algorithm, b"".join(parts)))
    assert [p[f"Checksum{algorithm}"] for p in done] == [_b64(_digest(algorithm, p)) for p in parts]
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    assert listed["ChecksumAlgorithm"] == algorithm and listed["ChecksumType"] == "FULL_OBJECT"
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id, ChecksumType="FULL_OBJECT", MpuObjectSize=sum(SIZES),
        MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in done]},
        **{f"Checksum{algorithm}": whole})
    assert (result[f"Checksum{algorithm}"], result["ChecksumType"]) == (whole, "FULL_OBJECT")
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == whole


def _complete_error(s3, bucket, upload_id, parts, **extra) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                     MultipartUpload={"Parts": parts}, **extra)
    return client_error(info.value)


def test_completion_checks_every_checksum_as_s3_does(tls_endpoint):
    s3 = tls_endpoint.client(request_checksum_calculation="when_required")
    bucket = new_bucket(tls_endpoint)
    parts = [os.urandom(PART), os.urandom(100)]
    upload_id, done = _upload(s3, bucket, "k", parts, algorithm="SHA256")
    composite = _expected("SHA256", "COMPOSITE", parts)

    wrong_part = [dict(done[0]), dict(done[1], ChecksumSHA256=done[0]["ChecksumSHA256"])]
    assert _complete_error(s3, bucket, upload_id, wrong_part)["Code"] == "InvalidPart"
    missing = [dict(done[0]), {k: v for k, v in done[1].items() if k != "ChecksumSHA256"}]
    error = _complete_error(s3, bucket, upload_id, missing)
    assert (error["status"], error["Code"]) == (400, "InvalidRequest")
    assert "must include the checksum for each part. It was missing for part 2" in error["Message"]
    error = _complete_error(s3, bucket, upload_id, done, ChecksumSHA256=composite.replace("-2", "-3"))
    assert (error["status"], error["Code"]) == (400, "BadDigest")
    assert _complete_error(s3, bucket, upload_id, done, ChecksumType="FULL_OBJECT")["Code"] == "BadDigest"

    result = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, ChecksumSHA256=composite,
                                          MultipartUpload={"Parts": done})
    assert (result["ChecksumSHA256"], result["ChecksumType"]) == (composite, "COMPOSITE")
    again = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": done})
    assert again["ChecksumSHA256"] == composite and again["ETag"] == result["ETag"]  # the first one's answer


def test_refusals_at_create_and_upload_part(tls_endpoint):
    s3 = tls_endpoint.client(request_checksum_calculation="when_required")
    bucket = new_bucket(tls_endpoint)
    for algorithm, ctype in (("SHA256", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE")):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm, ChecksumType=ctype)
        assert client_error(info.value)["Code"] == "InvalidRequest"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32C")
    for extra in ({"ChecksumCRC32": _b64(_digest("CRC32", b"x"))}, {}):  # other algorithm; none for COMPOSITE
        with pytest.raises(botocore.exceptions.ClientError) as info:
            s3.upload_part(Bucket=bucket, Key="k", UploadId=upload["UploadId"], PartNumber=1, Body=b"x", **extra)
        error = client_error(info.value)
        assert (error["Code"], error["Message"].split(",")[0]) == (
            "InvalidRequest", "Checksum Type mismatch occurred")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload["UploadId"], PartNumber=1, Body=b"x",
                       ChecksumCRC32C=_b64(_digest("CRC32C", b"y")))
    assert client_error(info.value)["Code"] == "BadDigest"


def test_sse_c_completion_needs_the_key_only_with_a_checksum_algorithm(tls_endpoint):
    """S3 asks an SSE-C client for its key at CompleteMultipartUpload only when the
    upload has a checksum algorithm."""
    s3 = tls_endpoint.client(request_checksum_calculation="when_required")
    bucket = new_bucket(tls_endpoint)
    upload_id, done = _upload(s3, bucket, "k", [b"abc"], algorithm="CRC32", **SSEC)
    error = _complete_error(s3, bucket, upload_id, done)
    assert (error["status"], error["Code"]) == (400, "InvalidRequest")
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": done}, **SSEC)
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED", **SSEC)
    assert head["ChecksumCRC32"] == _expected("CRC32", "COMPOSITE", [b"abc"])

    plain = s3.create_multipart_upload(Bucket=bucket, Key="p", **SSEC)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="p", UploadId=plain, PartNumber=1, Body=b"xyz", **SSEC)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="p", UploadId=plain,  # no SSE-C headers: as rclone, AWS CLI
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket=bucket, Key="p", **SSEC)["Body"].read() == b"xyz"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_object(Bucket=bucket, Key="p")
    assert client_error(info.value)["status"] == 400


def test_single_put_checksum_type_is_full_object(tls_endpoint):
    s3 = tls_endpoint.client()
    bucket = new_bucket(tls_endpoint)
    s3.put_object(Bucket=bucket, Key="one", Body=b"hello", ChecksumAlgorithm="CRC64NVME")
    head = s3.head_object(Bucket=bucket, Key="one", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC64NVME"], head["ChecksumType"]) == (_b64(_digest("CRC64NVME", b"hello")), "FULL_OBJECT")


def test_upload_part_copy_into_a_checksum_upload(tls_endpoint):
    s3 = tls_endpoint.client(request_checksum_calculation="when_required")
    bucket = new_bucket(tls_endpoint)
    source = os.urandom(PART + 10)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    copied = s3.upload_part_copy(Bucket=bucket, Key="k", UploadId=upload["UploadId"], PartNumber=1,
                                 CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes=0-{PART - 1}")
    assert copied["CopyPartResult"]["ChecksumCRC32"] == _b64(_digest("CRC32", source[:PART]))
    tail = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload["UploadId"], PartNumber=2, Body=source[PART:])
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload["UploadId"], MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": tail["ETag"]}]})
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == _b64(_digest("CRC32", source))
