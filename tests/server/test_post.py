"""POST object (browser form uploads) with V4 and V2 policies against the real
server: every policy condition shown to fail with S3's error, the success
actions, SSE form fields (SSE-C over TLS) and a streamed file."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from s3presign import SSE

from .helpers import Endpoint, error_of
from .transfer_helpers import CUSTOMER_KEY, MiB, http, new_bucket, payload, presigned_get


def submit(endpoint: Endpoint, url: str, fields: dict, content: bytes = b"hello form",
           filename: str = "hello.txt") -> httpx.Response:
    """The form as a browser sends it: the fields in order, then the file."""
    with http(endpoint) as client:
        return client.post(url, data=fields, files={"file": (filename, content, "application/octet-stream")})


def form(endpoint: Endpoint, bucket: str, key: str, *, sig: str = "v4", **kwargs):
    return endpoint.presigner(sig).presign_post(bucket, key, **kwargs)


@pytest.mark.parametrize("sig", ["v4", "v2"])
def test_upload_with_filename_placeholder(endpoint, bucket, sig):
    post = form(endpoint, bucket, "uploads/${filename}", sig=sig, content_length_range=(1, MiB))
    sent = submit(endpoint, post.url, post.fields, b"picture bytes", filename="photo.jpg")
    assert sent.status_code == 204, sent.text
    assert sent.headers["etag"] == f'"{hashlib.md5(b"picture bytes").hexdigest()}"'
    assert sent.headers["location"].endswith(f"/{bucket}/uploads/photo.jpg")
    got = endpoint.client().get_object(Bucket=bucket, Key="uploads/photo.jpg")
    assert got["Body"].read() == b"picture bytes" and got["ServerSideEncryption"] == "AES256"


def test_metadata_and_content_type_fields_are_stored(endpoint, bucket):
    fields = {"Content-Type": "image/png", "x-amz-meta-owner": "alice", "Cache-Control": "max-age=60"}
    conditions = [["starts-with", "$Content-Type", "image/"], {"x-amz-meta-owner": "alice"},
                  ["eq", "$Cache-Control", "max-age=60"]]
    post = form(endpoint, bucket, "img.png", fields=fields, conditions=conditions)
    assert submit(endpoint, post.url, post.fields).status_code == 204
    head = endpoint.client().head_object(Bucket=bucket, Key="img.png")
    assert head["ContentType"] == "image/png" and head["Metadata"] == {"owner": "alice"}
    assert head["CacheControl"] == "max-age=60"


def test_success_action_status_201_returns_s3s_document(endpoint, bucket):
    post = form(endpoint, bucket, "doc.txt", fields={"success_action_status": "201"},
                conditions=[{"success_action_status": "201"}])
    sent = submit(endpoint, post.url, post.fields, b"doc")
    assert sent.status_code == 201
    assert sent.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>')
    assert b"<Bucket>" + bucket.encode() + b"</Bucket><Key>doc.txt</Key>" in sent.content
    assert f"<ETag>&quot;{hashlib.md5(b'doc').hexdigest()}&quot;</ETag>".encode() in sent.content
    assert b"<Location>http://" in sent.content


def test_success_action_status_200(endpoint, bucket):
    post = form(endpoint, bucket, "ok.txt", fields={"success_action_status": "200"},
                conditions=[{"success_action_status": "200"}])
    sent = submit(endpoint, post.url, post.fields)
    assert sent.status_code == 200 and sent.content == b""


def test_success_action_redirect(endpoint, bucket):
    target = "https://example.com/done?from=form"
    post = form(endpoint, bucket, "r.txt", fields={"success_action_redirect": target},
                conditions=[{"success_action_redirect": target}])
    sent = submit(endpoint, post.url, post.fields, b"r")
    assert sent.status_code == 303
    location = urlsplit(sent.headers["location"])
    assert location.netloc == "example.com" and location.path == "/done"
    query = parse_qs(location.query)
    assert query == {"from": ["form"], "bucket": [bucket], "key": ["r.txt"],
                     "etag": [f'"{hashlib.md5(b"r").hexdigest()}"']}


# --- every condition fails with S3's error -----------------------------------------------


def _failed(response: httpx.Response, condition: list) -> None:
    error = error_of(response)
    assert (error["status"], error["Code"]) == (403, "AccessDenied")
    assert error["Message"] == f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}"


@pytest.mark.parametrize("sig", ["v4", "v2"])
def test_expired_policy(endpoint, bucket, sig):
    post = form(endpoint, bucket, "late.txt", sig=sig, expires_in=60, now=time.time() - 3600)
    error = error_of(submit(endpoint, post.url, post.fields))
    assert (error["status"], error["Code"]) == (403, "AccessDenied")
    assert error["Message"] == "Invalid according to Policy: Policy expired."


@pytest.mark.parametrize("sig", ["v4", "v2"])
def test_key_eq_condition(endpoint, bucket, sig):
    post = form(endpoint, bucket, "exact.txt", sig=sig)
    _failed(submit(endpoint, post.url, {**post.fields, "key": "other.txt"}), ["eq", "$key", "exact.txt"])


def test_key_starts_with_condition(endpoint, bucket):
    post = form(endpoint, bucket, "uploads/${filename}")
    _failed(submit(endpoint, post.url, {**post.fields, "key": "elsewhere/${filename}"}),
            ["starts-with", "$key", "uploads/"])


def test_bucket_condition(endpoint, bucket):
    other = new_bucket(endpoint)
    post = form(endpoint, bucket, "b.txt")
    _failed(submit(endpoint, post.url.replace(bucket, other), post.fields), ["eq", "$bucket", bucket])


def test_content_type_starts_with_condition(endpoint, bucket):
    post = form(endpoint, bucket, "t.bin", fields={"Content-Type": "text/plain"},
                conditions=[["starts-with", "$Content-Type", "image/"]])
    _failed(submit(endpoint, post.url, post.fields), ["starts-with", "$Content-Type", "image/"])


def test_metadata_eq_condition_and_missing_field(endpoint, bucket):
    post = form(endpoint, bucket, "m.txt", fields={"x-amz-meta-user": "alice"}, conditions=[{"x-amz-meta-user": "alice"}])
    _failed(submit(endpoint, post.url, {**post.fields, "x-amz-meta-user": "bob"}), ["eq", "$x-amz-meta-user", "alice"])
    without = {k: v for k, v in post.fields.items() if k != "x-amz-meta-user"}
    _failed(submit(endpoint, post.url, without), ["eq", "$x-amz-meta-user", "alice"])


@pytest.mark.parametrize("sig", ["v4", "v2"])
def test_content_length_range(endpoint, bucket, sig):
    post = form(endpoint, bucket, "sized.bin", sig=sig, content_length_range=(10, 100))
    large = error_of(submit(endpoint, post.url, post.fields, b"x" * 101))
    assert (large["status"], large["Code"]) == (400, "EntityTooLarge")
    small = error_of(submit(endpoint, post.url, post.fields, b"x" * 9))
    assert (small["status"], small["Code"]) == (400, "EntityTooSmall")
    assert submit(endpoint, post.url, post.fields, b"x" * 100).status_code == 204
    assert submit(endpoint, post.url, post.fields, b"x" * 10).status_code == 204


def test_field_not_in_policy(endpoint, bucket):
    post = form(endpoint, bucket, "extra.txt")
    error = error_of(submit(endpoint, post.url, {**post.fields, "x-amz-meta-sneaky": "1"}))
    assert (error["status"], error["Code"]) == (403, "AccessDenied")
    assert error["Message"] == "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky"


@pytest.mark.parametrize("sig, field", [("v4", "x-amz-signature"), ("v2", "signature")])
def test_bad_signature(endpoint, bucket, sig, field):
    post = form(endpoint, bucket, "sig.txt", sig=sig)
    tampered = dict(post.fields)
    tampered[field] = tampered[field][:-4] + ("AAAA" if sig == "v2" else "0000")
    error = error_of(submit(endpoint, post.url, tampered))
    assert (error["status"], error["Code"]) == (403, "SignatureDoesNotMatch")
    # a policy changed after signing is a bad signature too
    document = json.loads(base64.b64decode(post.fields["policy"]))
    document["conditions"].append(["starts-with", "$x-amz-meta-any", ""])
    changed = {**post.fields, "policy": base64.b64encode(json.dumps(document).encode()).decode(), "x-amz-meta-any": "1"}
    assert error_of(submit(endpoint, post.url, changed))["Code"] == "SignatureDoesNotMatch"


def test_unknown_access_key(endpoint, bucket):
    post = endpoint.presigner(creds=("AKIDNOBODY", "nope")).presign_post(bucket, "k.txt")
    assert error_of(submit(endpoint, post.url, post.fields))["Code"] == "InvalidAccessKeyId"


# --- SSE form fields --------------------------------------------------------------------------


def test_sse_kms_fields(endpoint, bucket):
    post = form(endpoint, bucket, "kms.txt", sse=SSE.kms(context={"app": "forms"}))
    assert post.fields["x-amz-server-side-encryption"] == "aws:kms"
    sent = submit(endpoint, post.url, post.fields, b"secret")
    assert sent.status_code == 204 and sent.headers["x-amz-server-side-encryption"] == "aws:kms"
    head = endpoint.client().head_object(Bucket=bucket, Key="kms.txt")
    assert head["ServerSideEncryption"] == "aws:kms"


def test_sse_kms_under_a_v2_policy_is_refused(endpoint, bucket):
    fields = {"x-amz-server-side-encryption": "aws:kms"}
    post = form(endpoint, bucket, "v2kms.txt", sig="v2", fields=fields, conditions=[fields])
    error = error_of(submit(endpoint, post.url, post.fields))
    assert (error["status"], error["Code"]) == (400, "InvalidArgument")
    assert "AWS Signature Version 4" in error["Message"]


@pytest.mark.parametrize("fixed", [False, True])
def test_sse_c_fields_over_tls(tls_endpoint, fixed):
    bucket = new_bucket(tls_endpoint)
    sse = SSE.customer(CUSTOMER_KEY) if fixed else SSE.customer()
    post = form(tls_endpoint, bucket, "c.txt", sse=sse)
    key_fields = {
        "x-amz-server-side-encryption-customer-key": base64.b64encode(CUSTOMER_KEY).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(hashlib.md5(CUSTOMER_KEY).digest()).decode(),
    }
    assert set(post.required_fields) <= set(key_fields)
    sent = submit(tls_endpoint, post.url, {**post.fields, **key_fields}, b"customer data")
    assert sent.status_code == 204, sent.text
    assert sent.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    assert presigned_get(tls_endpoint, bucket, "c.txt").status_code == 400  # the key is needed to read
    got = presigned_get(tls_endpoint, bucket, "c.txt", SSE.customer(), CUSTOMER_KEY)
    assert got.content == b"customer data"


def test_sse_c_fields_over_plain_http_are_refused(strict_endpoint):
    bucket = new_bucket(strict_endpoint)
    post = form(strict_endpoint, bucket, "c.txt", sse=SSE.customer(CUSTOMER_KEY))
    key = {"x-amz-server-side-encryption-customer-key": base64.b64encode(CUSTOMER_KEY).decode()}
    error = error_of(submit(strict_endpoint, post.url, {**post.fields, **key}))
    assert (error["status"], error["Code"]) == (400, "InvalidRequest")
    assert "must be made over a secure connection" in error["Message"]


# --- the form itself ----------------------------------------------------------------------------


def test_large_file_is_streamed_exactly(endpoint, bucket):
    # boundary-like bytes inside the file must not end it early
    data = payload(20 * MiB)[: 10 * MiB] + b"\r\n--\r\n--boundary" + payload(20 * MiB)[10 * MiB:]
    post = form(endpoint, bucket, "big.bin")
    assert submit(endpoint, post.url, post.fields, data).status_code == 204
    assert endpoint.client().get_object(Bucket=bucket, Key="big.bin")["Body"].read() == data


def _raw_form(fields: dict, file: bytes, after: dict, boundary: str = "XyZ") -> bytes:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'.encode() + file + b"\r\n")
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in after.items()]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


def test_fields_after_the_file_are_ignored(endpoint, bucket):
    post = form(endpoint, bucket, "order.txt")
    body = _raw_form(post.fields, b"file first", {"x-amz-meta-late": "ignored", "key": "elsewhere"})
    with http(endpoint) as client:
        sent = client.post(post.url, content=body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert sent.status_code == 204, sent.text
    head = endpoint.client().head_object(Bucket=bucket, Key="order.txt")
    assert head["Metadata"] == {}


def test_form_errors(endpoint, bucket):
    post = form(endpoint, bucket, "f.txt")
    with http(endpoint) as client:
        no_file = client.post(post.url, data=post.fields, files={"other": ("x", b"x")})
        not_a_form = client.post(post.url, content=b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"})
        broken = client.post(post.url, content=b"--XyZ\r\nnonsense", headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert (error_of(no_file)["status"], error_of(no_file)["Code"]) == (400, "InvalidArgument")
    assert error_of(no_file)["Message"] == "POST requires exactly one file upload per request."
    assert (error_of(not_a_form)["status"], error_of(not_a_form)["Code"]) == (412, "PreconditionFailed")
    assert (error_of(broken)["status"], error_of(broken)["Code"]) == (400, "MalformedPOSTRequest")


def test_anonymous_post_needs_a_publicly_writable_bucket(endpoint):
    """S3: a form without policy and signature is an anonymous request, served only where
    the bucket's ACL (or policy) lets anyone write; its acl and tagging fields apply."""
    import uuid

    s3 = endpoint.client()
    open_bucket, closed = f"t-{uuid.uuid4().hex[:16]}", f"t-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=open_bucket, ACL="public-read-write")
    s3.create_bucket(Bucket=closed)
    fields = {"key": "anon.txt", "acl": "public-read", "Content-Type": "text/plain",
              "tagging": "<Tagging><TagSet><Tag><Key>from</Key><Value>form</Value></Tag></TagSet></Tagging>",
              "success_action_status": "201"}
    sent = submit(endpoint, f"{endpoint.url}/{open_bucket}", fields, b"anonymous bytes")
    assert sent.status_code == 201, sent.text
    assert b"<Key>anon.txt</Key>" in sent.content
    assert httpx.get(f"{endpoint.url}/{open_bucket}/anon.txt").content == b"anonymous bytes"   # public-read
    refused = submit(endpoint, f"{endpoint.url}/{closed}", fields)
    assert (refused.status_code, error_of(refused)["Code"]) == (403, "AccessDenied")
    assert "Contents" not in s3.list_objects_v2(Bucket=closed)
    # a form that is signed but incomplete is still refused as such, not treated as anonymous
    partial = submit(endpoint, f"{endpoint.url}/{open_bucket}", {**fields, "policy": "e30="})
    assert (partial.status_code, error_of(partial)["Code"]) == (400, "InvalidArgument")
    assert "awsaccesskeyid" in error_of(partial)["Message"].lower()


def test_post_tagging_field_feeds_the_request_tag_policy_keys(endpoint, bucket):
    """s3:RequestObjectTag/<key> on a POST comes from its ``tagging`` field."""
    s3 = endpoint.client()
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringNotEquals": {"s3:RequestObjectTag/project": "apollo"}}}]}))

    def tagged(value: str) -> dict:
        return {"tagging": f"<Tagging><TagSet><Tag><Key>project</Key><Value>{value}</Value></Tag></TagSet></Tagging>"}

    for value, status in (("apollo", 204), ("gemini", 403)):
        fields = tagged(value)
        post = form(endpoint, bucket, f"tagged-{value}", fields=fields, conditions=[{"tagging": fields["tagging"]}])
        sent = submit(endpoint, post.url, post.fields)
        assert sent.status_code == status, sent.text
    got = s3.get_object_tagging(Bucket=bucket, Key="tagged-apollo")["TagSet"]
    assert got == [{"Key": "project", "Value": "apollo"}]
    untagged = form(endpoint, bucket, "untagged")
    assert error_of(submit(endpoint, untagged.url, untagged.fields))["Code"] == "AccessDenied"
