"""Presigner.presign_multipart: S3's part limits, SSE per step, and every URL
equal to botocore's at a fixed clock."""

from __future__ import annotations

import base64
import json

import pytest

from s3presign import SSE, Credentials, PresignError, Presigner
from s3presign.core.multipart import MAX_PARTS, MIN_PART_SIZE, MiB

from .test_botocore_equivalence import FIXED, boto_client, boto_presign

H_KEY = "x-amz-server-side-encryption-customer-key"
H_MD5 = "x-amz-server-side-encryption-customer-key-md5"
H_ALG = "x-amz-server-side-encryption-customer-algorithm"
KEY = bytes(range(32))
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def presigner(version: str = "v4", endpoint: str | None = None) -> Presigner:
    return Presigner(Credentials("AKIDEXAMPLE", SECRET), "eu-west-3", endpoint_url=endpoint,
                     addressing_style="path", signature_version=version)


def test_layout_covers_the_object_exactly():
    plan = presigner().presign_multipart("bkt", "big.bin", size=40 * MiB + 3, part_size=8 * MiB, now=FIXED)
    assert [(p.part_number, p.offset, p.size) for p in plan.parts] == [
        (1, 0, 8 * MiB), (2, 8 * MiB, 8 * MiB), (3, 16 * MiB, 8 * MiB), (4, 24 * MiB, 8 * MiB),
        (5, 32 * MiB, 8 * MiB), (6, 40 * MiB, 3),
    ]
    assert plan.create.method == "POST" and "?uploads=&" in plan.create.url
    # the upload id is signed into every later URL, so they wait for it
    assert plan.upload_id is None and plan.complete is None and plan.abort is None
    assert all(p.request is None for p in plan.parts)


def test_default_part_size_grows_to_fit_ten_thousand_parts():
    small = presigner().presign_multipart("bkt", "k", size=100 * MiB, now=FIXED)
    assert small.part_size == 8 * MiB and len(small.parts) == 13
    huge = presigner().presign_multipart("bkt", "k", size=5 * 1024**4, now=FIXED)
    assert len(huge.parts) <= MAX_PARTS and huge.part_size % MiB == 0
    assert sum(p.size for p in huge.parts) == 5 * 1024**4


def test_part_count_gives_even_parts():
    plan = presigner().presign_multipart("bkt", "k", size=30 * MiB, part_count=3, now=FIXED)
    assert [p.size for p in plan.parts] == [10 * MiB] * 3


def test_empty_object_is_one_empty_part():
    plan = presigner().presign_multipart("bkt", "k", size=0, now=FIXED)
    assert [(p.part_number, p.offset, p.size) for p in plan.parts] == [(1, 0, 0)]


def test_part_count_without_size_leaves_sizes_open():
    plan = presigner().presign_multipart("bkt", "k", part_count=3, part_size=6 * MiB, upload_id="U", now=FIXED)
    assert [(p.offset, p.size) for p in plan.parts] == [(0, 6 * MiB), (6 * MiB, 6 * MiB), (12 * MiB, None)]


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give the object's size"),
    ({"size": 100 * MiB, "part_size": MIN_PART_SIZE - 1}, "at least 5 MiB"),
    ({"size": 12, "part_count": 3}, "size=12 in 3 parts of 4 bytes: every part but the last must be at least 5 MiB"),
    ({"size": 5 * 1024**4 + 1}, "at most 5 TiB"),
    ({"part_count": 0}, "at least 1"),
    ({"part_count": MAX_PARTS + 1}, "1 to 10000 parts"),
    ({"size": 6 * 1024**3, "part_count": 1}, "at most 5 GiB"),
    ({"size": 10 * 1024**3, "part_size": 6 * 1024**3}, "at most 5 GiB"),
    ({"size": 100 * 1024**3, "part_size": 5 * MiB}, "S3 allows at most 10000: use parts of at least 10737419 bytes"),
    ({"size": 30 * MiB, "part_count": 2, "part_size": 6 * MiB}, "makes 5 parts, not part_count=2"),
    ({"size": -1}, "whole number"),
    ({"size": 1.5}, "whole number"),
])
def test_limits_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(PresignError) as info:
        presigner().presign_multipart("bkt", "k", **kwargs)
    assert message in str(info.value)


def test_a_single_small_part_is_fine():
    plan = presigner().presign_multipart("bkt", "k", size=10, part_size=1024, now=FIXED)
    assert len(plan.parts) == 1 and plan.parts[0].size == 10


def test_sse_c_key_fixed_is_signed_on_create_every_part_and_complete():
    plan = presigner().presign_multipart("bkt", "k", size=12 * MiB, part_size=5 * MiB, sse=SSE.customer(KEY),
                                         now=FIXED).for_upload("UPLOAD-1")
    b64 = base64.b64encode(KEY).decode()
    for request in [plan.create, *(p.request for p in plan.parts), plan.complete]:
        assert request.headers[H_KEY] == b64 and request.headers[H_ALG] == "AES256" and H_MD5 in request.headers
        assert "x-amz-server-side-encryption-customer-key" in request.url  # named in X-Amz-SignedHeaders
        assert b64 not in request.url and request.required_headers == ()
    assert plan.abort.headers == {}


def test_sse_c_key_at_use_is_required_on_every_part():
    plan = presigner("v2").presign_multipart("bkt", "k", size=12 * MiB, part_size=5 * MiB, sse=SSE.customer(),
                                             now=FIXED).for_upload("U")
    for request in [plan.create, *(p.request for p in plan.parts), plan.complete]:
        assert request.headers == {H_ALG: "AES256"}
        assert request.required_headers == (H_KEY, H_MD5)
        sent = request.headers_with_key(KEY)
        assert sent[H_KEY] == base64.b64encode(KEY).decode()


@pytest.mark.parametrize("sse, header", [
    (SSE.kms("alias/reports", {"project": "x"}), "aws:kms"),
    (SSE.dsse("alias/reports"), "aws:kms:dsse"),
    (SSE.s3(), "AES256"),
])
def test_kms_dsse_and_s3_headers_go_on_create_only(sse, header):
    plan = presigner().presign_multipart("bkt", "k", size=12 * MiB, part_size=5 * MiB, sse=sse, now=FIXED)
    assert plan.create.headers["x-amz-server-side-encryption"] == header
    done = plan.for_upload("U")
    assert all(p.request.headers == {} for p in done.parts)
    assert done.complete.headers == {} and done.abort.headers == {}


def test_kms_under_sigv2_is_refused():
    with pytest.raises(PresignError, match="Signature Version 4"):
        presigner("v2").presign_multipart("bkt", "k", size=1, sse=SSE.kms())


def test_existing_upload_id_gives_every_request_but_create():
    plan = presigner().presign_multipart("bkt", "k", size=11 * MiB, part_size=5 * MiB, upload_id="abc", now=FIXED)
    assert plan.create is None and plan.upload_id == "abc"
    assert [p.request.method for p in plan.parts] == ["PUT"] * 3
    assert plan.complete.method == "POST" and plan.abort.method == "DELETE"
    assert plan.part_requests("abc")[0].url == plan.parts[0].request.url
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["part_count"] == 3 and data["create"] is None
    assert data["parts"][2] == {**data["parts"][2], "part_number": 3, "offset": 10 * MiB, "size": MiB, "method": "PUT"}
    assert "uploadId=abc" in data["complete"]["url"] and data["abort"]["method"] == "DELETE"


def test_bad_upload_id_is_refused():
    plan = presigner().presign_multipart("bkt", "k", size=1, now=FIXED)
    with pytest.raises(PresignError, match="UploadId"):
        plan.for_upload("")


# --- byte-for-byte equality with botocore -------------------------------------------


@pytest.mark.parametrize("version", ["v4", "v2"])
@pytest.mark.parametrize("sse_kind", ["none", "c", "c-key", "kms"])
def test_every_url_equals_botocore(version, sse_kind):
    if version == "v2" and sse_kind in ("c-key", "kms"):
        pytest.skip("refused under SigV2 (test_kms_under_sigv2_is_refused, core/sse.py's table)")
    endpoint = "http://127.0.0.1:9000"
    client = boto_client("eu-west-3", endpoint, "path", version, None)
    sse, extra, write_extra = None, {}, {}
    if sse_kind == "c":
        sse, extra = SSE.customer(), {"SSECustomerAlgorithm": "AES256"}
    elif sse_kind == "c-key":
        sse, extra = SSE.customer(KEY), {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}
    elif sse_kind == "kms":
        sse, write_extra = SSE.kms("alias/reports"), {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/reports"}
    ours = presigner(version, endpoint)
    plan = ours.presign_multipart("bkt", "dir/big file.bin", size=17 * MiB, part_size=5 * MiB, sse=sse,
                                  expires_in=900, now=FIXED)
    base = {"Bucket": "bkt", "Key": "dir/big file.bin"}

    def boto(operation, **params):
        url = boto_presign(client, operation, {**base, **params}, 900)
        if version == "v2":  # botocore moves signed x-amz-* headers into a SigV2 query; we send them
            url = "&".join(p for p in url.split("&") if not p.startswith("x-amz-"))
        return url

    assert plan.create.url == boto("create_multipart_upload", **extra, **write_extra)
    done = plan.for_upload("VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA")
    for part in done.parts:
        assert part.request.url == boto("upload_part", UploadId=done.upload_id, PartNumber=part.part_number, **extra)
    assert done.complete.url == boto("complete_multipart_upload", UploadId=done.upload_id, **extra)
    assert done.abort.url == boto("abort_multipart_upload", UploadId=done.upload_id)
