"""CRC64NVME through the real server with boto3: header, aws-chunked trailer, HEAD/GET
with ChecksumMode."""

from __future__ import annotations

import uuid

from botocore import httpchecksum as boto


def _crc64(data: bytes) -> str:
    h = boto.CrtCrc64NvmeChecksum()
    h.update(data)
    return h.b64digest()


def _sent_headers(client):
    seen = []
    client.meta.events.register("before-send.s3.PutObject", lambda request, **_: seen.append(dict(request.headers)))
    return seen


def test_crc64nvme_round_trips_as_a_header_and_as_a_trailer(tls_server):
    client = tls_server.client()
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    data = b"pyarrow writes every part with this trailer" * 1000
    seen = _sent_headers(client)

    client.put_object(Bucket=bucket, Key="header", Body=data, ChecksumCRC64NVME=_crc64(data))
    client.put_object(Bucket=bucket, Key="trailer", Body=data, ChecksumAlgorithm="CRC64NVME")
    sent = [{k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in h.items()} for h in seen]
    assert sent[0]["x-amz-checksum-crc64nvme"] == _crc64(data)
    assert sent[1].get("x-amz-trailer") == "x-amz-checksum-crc64nvme"

    for key in ("header", "trailer"):
        head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumCRC64NVME"] == _crc64(data)
        got = client.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert got["Body"].read() == data and got["ChecksumCRC64NVME"] == _crc64(data)


def test_a_wrong_crc64nvme_is_bad_digest(tls_server):
    import pytest
    from botocore.exceptions import ClientError

    client = tls_server.client()
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="k", Body=b"abc", ChecksumCRC64NVME=_crc64(b"abd"))
    assert e.value.response["Error"]["Code"] == "BadDigest"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
