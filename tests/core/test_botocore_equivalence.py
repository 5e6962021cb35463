"""Byte-for-byte equality with botocore, at a fixed clock, over generated inputs.

Where s3presign deliberately differs, the difference is asserted precisely:
- SigV2: botocore moves every signed header into the query string (where S3
  does not honour SSE); s3presign keeps them as headers to send. The URL is
  botocore's minus those parameters, and the signature is the same.
- The invalid cells of the SSE table (SigV2 + KMS/DSSE, SigV2 + fixed SSE-C
  key) are refused (test_refusals.py); botocore signs them anyway.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from unittest import mock
from urllib.parse import parse_qsl, urlsplit

import boto3
import botocore.auth
import botocore.signers
from botocore.config import Config
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from s3presign import SSE, Credentials, Presigner

FIXED = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
REGIONS = ["us-east-1", "us-west-2", "eu-central-1", "ap-south-1", "sa-east-1", "eu-west-3"]
ENDPOINTS = [None, "http://127.0.0.1:9000", "https://minio.example.com", "http://localhost:9000"]

SPECIAL_KEYS = [
    "a b", "a+b", "a~b", "100%", "x=y&z", "a//b", "/leading", "emoji-\U0001f600", "ünïcödé/ключ",
    "..", "../x", "a/./b", "?q", "#frag", "tab\there", "semi;colon", "trailing/", "*star", "(paren)",
]
keys = st.one_of(
    st.sampled_from(SPECIAL_KEYS),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
).filter(lambda k: 0 < len(k.encode()) <= 1024)
buckets = st.one_of(
    st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,20}[a-z0-9]\Z"),
    st.sampled_from(["my.dotted.bucket", "logs.example.com"]),
).filter(lambda b: "--" not in b and not b.startswith("xn--"))
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20).map(str.strip).filter(bool)
tokens = st.one_of(st.none(), st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=8, max_size=60))


@functools.lru_cache(maxsize=None)
def boto_client(region, endpoint, style, version, token):
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token=token, region_name=region,
    )
    return session.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(signature_version="s3v4" if version == "v4" else "s3", s3={"addressing_style": style}),
    )


def ours(region, endpoint, style, version, token):
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    return Presigner(creds, region, endpoint_url=endpoint, addressing_style=style, signature_version=version)


def frozen_botocore():
    naive = FIXED.replace(tzinfo=None)
    return [
        # With awscrt installed botocore swaps in CRT signers, which read their own clock;
        # the reference here is botocore's Python signers.
        mock.patch.dict(botocore.auth.AUTH_TYPE_MAPS, {
            "v4": botocore.auth.SigV4Auth, "v4-query": botocore.auth.SigV4QueryAuth,
            "s3v4": botocore.auth.S3SigV4Auth, "s3v4-query": botocore.auth.S3SigV4QueryAuth,
            "s3v4-presign-post": botocore.auth.S3SigV4PostAuth,
        }),
        mock.patch.object(botocore.auth, "get_current_datetime", return_value=naive),
        mock.patch.object(botocore.signers, "get_current_datetime", return_value=naive),
        mock.patch.object(
            botocore.auth.HmacV1QueryAuth, "_get_date",
            lambda self: str(int(FIXED.timestamp() + int(self._expires))),
        ),
    ]


def boto_presign(client, operation, params, expires, method=None):
    patches = frozen_botocore()
    for p in patches:
        p.start()
    try:
        return client.generate_presigned_url(operation, Params=params, ExpiresIn=expires, HttpMethod=method)
    finally:
        for p in patches:
            p.stop()


# operation -> (method, our query builder, botocore params builder)
OPERATIONS = {
    "get_object": ("GET", {}),
    "head_object": ("HEAD", {}),
    "put_object": ("PUT", {}),
    "delete_object": ("DELETE", {}),
    "upload_part": ("PUT", {"UploadId": "uploadId", "PartNumber": "partNumber"}),
    "create_multipart_upload": ("POST", {"": "uploads"}),
    "complete_multipart_upload": ("POST", {"UploadId": "uploadId"}),
    "abort_multipart_upload": ("DELETE", {"UploadId": "uploadId"}),
}
WRITES = {"put_object", "create_multipart_upload"}
OVERRIDES = {
    "ResponseContentType": "content-type",
    "ResponseContentDisposition": "content-disposition",
    "ResponseCacheControl": "cache-control",
    "ResponseContentEncoding": "content-encoding",
    "ResponseContentLanguage": "content-language",
}


@st.composite
def cases(draw):
    version = draw(st.sampled_from(["v4", "v2"]))
    endpoint = draw(st.sampled_from(ENDPOINTS))
    style = draw(st.sampled_from(["auto", "virtual", "path"]))
    bucket = draw(buckets)
    scheme = "https" if endpoint is None or endpoint.startswith("https") else "http"
    assume(not (style == "virtual" and "." in bucket and scheme == "https"))
    assume(not (style == "virtual" and endpoint == "http://127.0.0.1:9000"))
    operation = draw(st.sampled_from(sorted(OPERATIONS)))
    params = {"Bucket": bucket, "Key": draw(keys)}
    query = {}
    for boto_name, s3_name in OPERATIONS[operation][1].items():
        if not boto_name:  # a bare sub-resource such as ?uploads
            query[s3_name] = ""
            continue
        value = draw(st.integers(1, 10000)) if boto_name == "PartNumber" else draw(st.from_regex(r"\A[A-Za-z0-9._~+/=-]{1,30}\Z"))
        params[boto_name] = value
        query[s3_name] = str(value)
    overrides = {}
    if operation == "get_object":
        for boto_name in draw(st.lists(st.sampled_from(sorted(OVERRIDES)), unique=True, max_size=3)):
            params[boto_name] = value = draw(header_text)
            overrides[OVERRIDES[boto_name]] = value
    headers = {}
    if operation in WRITES and draw(st.booleans()):
        params["ContentType"] = headers["content-type"] = draw(header_text)
    if operation in WRITES and draw(st.booleans()):
        value = draw(header_text)
        params["Metadata"] = {"note": value}
        headers["x-amz-meta-note"] = value
    sse_choices = ["none", "c", "c-key"]
    if operation in WRITES:
        sse_choices += ["s3", "kms", "dsse"]
    sse_kind = draw(st.sampled_from(sse_choices))
    if operation in ("delete_object", "abort_multipart_upload"):
        sse_kind = "none"
    if version == "v2":
        assume(sse_kind not in ("kms", "dsse", "c-key"))
    sse = None
    if sse_kind == "s3":
        sse = SSE.s3()
        params["ServerSideEncryption"] = "AES256"
    elif sse_kind in ("kms", "dsse"):
        key_id = draw(st.one_of(st.none(), st.sampled_from(["alias/reports", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:us-east-1:111122223333:key/abc"])))
        context = draw(st.one_of(st.none(), st.dictionaries(st.sampled_from(["project", "team"]), header_text, min_size=1)))
        bucket_key = draw(st.sampled_from([None, True, False])) if sse_kind == "kms" else None
        sse = SSE.kms(key_id, context, bucket_key) if sse_kind == "kms" else SSE.dsse(key_id, context)
        params["ServerSideEncryption"] = "aws:kms" if sse_kind == "kms" else "aws:kms:dsse"
        if key_id:
            params["SSEKMSKeyId"] = key_id
        if context:
            params["SSEKMSEncryptionContext"] = sse.context
        if bucket_key is not None:
            params["BucketKeyEnabled"] = bucket_key
    elif sse_kind == "c":
        sse = SSE.customer()
        params["SSECustomerAlgorithm"] = "AES256"
    elif sse_kind == "c-key":
        key = draw(st.binary(min_size=32, max_size=32))
        sse = SSE.customer(key)
        params["SSECustomerAlgorithm"] = "AES256"
        params["SSECustomerKey"] = key
    return {
        "version": version, "endpoint": endpoint, "style": style,
        "region": draw(st.sampled_from(REGIONS)), "token": draw(tokens),
        "operation": operation, "params": params, "query": query, "overrides": overrides,
        "headers": headers, "sse": sse, "expires": draw(st.integers(1, 604800)),
    }


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(cases())
def test_equal_to_botocore(case):
    boto_style = case["style"]
    if case["endpoint"] is None and case["style"] == "auto" and "." not in case["params"]["Bucket"]:
        # Deliberate difference: botocore's "auto" uses the legacy global endpoint
        # (bucket.s3.amazonaws.com) for every region, which S3 answers with 307
        # redirects for new buckets outside us-east-1; s3presign uses the
        # regional endpoint, i.e. what botocore makes with addressing_style="virtual".
        boto_style = "virtual"
    client = boto_client(case["region"], case["endpoint"], boto_style, case["version"], case["token"])
    expected = boto_presign(client, case["operation"], dict(case["params"]), case["expires"])
    method = OPERATIONS[case["operation"]][0]
    presigner = ours(case["region"], case["endpoint"], case["style"], case["version"], case["token"])
    got = presigner.presign(
        method, case["params"]["Bucket"], case["params"]["Key"], sse=case["sse"], expires_in=case["expires"],
        headers=case["headers"] or None, query=case["query"] or None,
        response_overrides=case["overrides"] or None, now=FIXED,
    )
    assert got.method == method
    if case["version"] == "v4":
        assert got.url == expected
        signed = dict(parse_qsl(urlsplit(expected).query))["X-Amz-SignedHeaders"].split(";")
        assert sorted(["host", *got.headers]) == signed
    else:
        # botocore's URL minus the headers it moved into the query = ours.
        moved = {"content-type", "content-md5"}
        exp = urlsplit(expected)
        kept = [p for p in exp.query.split("&") if not (p.split("=")[0].startswith("x-amz-") and p.split("=")[0] != "x-amz-security-token") and p.split("=")[0] not in moved]
        assert got.url == exp._replace(query="&".join(kept)).geturl()
        moved_pairs = {k: v for k, v in parse_qsl(exp.query, keep_blank_values=True) if (k.startswith("x-amz-") and k != "x-amz-security-token") or k in moved}
        assert got.headers == moved_pairs
    if case["sse"] is not None and case["sse"].mode == "c":
        assert got.required_headers == (
            "x-amz-server-side-encryption-customer-key",
            "x-amz-server-side-encryption-customer-key-md5",
        )
    # SSE-C key material is never in any URL we make.
    if case["sse"] is not None and case["sse"].customer_key:
        assert base64.b64encode(case["sse"].customer_key).decode() not in got.url
        assert not any("customer-key" in name for name, _ in parse_qsl(urlsplit(got.url).query))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bucket=buckets.filter(lambda b: "." not in b),
    key=keys,
    version=st.sampled_from(["v4", "v2"]),
    region=st.sampled_from(REGIONS),
    token=tokens,
    expires=st.integers(1, 604800),
    length=st.one_of(st.none(), st.tuples(st.integers(0, 100), st.integers(100, 10**9))),
    sse_kind=st.sampled_from(["none", "s3", "kms"]),
)
def test_post_equal_to_botocore(bucket, key, version, region, token, expires, length, sse_kind):
    assume(not (version == "v2" and sse_kind == "kms"))
    # "virtual": the regional endpoint (see the deliberate difference above).
    client = boto_client(region, None, "virtual", version, token)
    sse = {"none": None, "s3": SSE.s3(), "kms": SSE.kms("alias/x")}[sse_kind]
    fields, conditions = {}, []
    if sse is not None:
        for name, value in sse.headers_for("PostObject", version)[0].items():
            fields[name] = value
            conditions.append({name: value})
    if length:
        conditions.append(["content-length-range", *length])
    patches = frozen_botocore()
    for p in patches:
        p.start()
    try:
        expected = client.generate_presigned_post(bucket, key, Fields=dict(fields), Conditions=list(conditions), ExpiresIn=expires)
    finally:
        for p in patches:
            p.stop()
    got = ours(region, None, "auto", version, token).presign_post(
        bucket, key, sse=sse, expires_in=expires, content_length_range=length, now=FIXED
    )
    assert got.url == expected["url"]
    assert got.fields == expected["fields"]
    assert list(got.fields) == list(expected["fields"])


# --- bucket-level operations and bound uploads ---------------------------------------

listing_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    bucket=buckets, version=st.sampled_from(["v4", "v2"]), endpoint=st.sampled_from(ENDPOINTS),
    style=st.sampled_from(["virtual", "path"]), region=st.sampled_from(REGIONS), token=tokens,
    expires=st.integers(1, 604800), prefix=st.one_of(st.none(), listing_text),
    delimiter=st.one_of(st.none(), st.sampled_from(["/", "-", "|"])), max_keys=st.one_of(st.none(), st.integers(0, 1000)),
    continuation=st.one_of(st.none(), st.from_regex(r"\A[A-Za-z0-9+/=]{1,40}\Z")),
    start_after=st.one_of(st.none(), listing_text), encoding=st.sampled_from([None, "url"]),
)
def test_list_objects_v2_equal_to_botocore(bucket, version, endpoint, style, region, token, expires, prefix,
                                           delimiter, max_keys, continuation, start_after, encoding):
    scheme = "https" if endpoint is None or endpoint.startswith("https") else "http"
    assume(not (style == "virtual" and "." in bucket and scheme == "https"))
    assume(not (style == "virtual" and endpoint == "http://127.0.0.1:9000"))
    params = {"Bucket": bucket}
    for name, value in (("Prefix", prefix), ("Delimiter", delimiter), ("MaxKeys", max_keys),
                        ("ContinuationToken", continuation), ("StartAfter", start_after)):
        if value is not None:
            params[name] = value
    expected = boto_presign(boto_client(region, endpoint, style, version, token), "list_objects_v2", params, expires)
    # botocore always asks for encoding-type=url (and decodes the answer itself);
    # s3presign adds it only when asked, so a URL handed to anyone lists raw keys.
    got = ours(region, endpoint, style, version, token).presign_list_objects(
        bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys, continuation_token=continuation,
        start_after=start_after, encoding_type="url", expires_in=expires, now=FIXED,
    )
    assert got.url == expected and got.method == "GET" and got.headers == {}
    if encoding is None:
        plain = ours(region, endpoint, style, version, token).presign_list_objects(
            bucket, prefix=prefix, expires_in=expires, now=FIXED)
        assert "encoding-type" not in plain.url and "list-type=2" in plain.url


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(bucket=buckets, version=st.sampled_from(["v4", "v2"]), endpoint=st.sampled_from(ENDPOINTS),
       style=st.sampled_from(["virtual", "path"]), region=st.sampled_from(REGIONS), token=tokens,
       expires=st.integers(1, 604800))
def test_head_bucket_and_location_equal_to_botocore(bucket, version, endpoint, style, region, token, expires):
    scheme = "https" if endpoint is None or endpoint.startswith("https") else "http"
    assume(not (style == "virtual" and "." in bucket and scheme == "https"))
    assume(not (style == "virtual" and endpoint == "http://127.0.0.1:9000"))
    presigner = ours(region, endpoint, style, version, token)
    expected = boto_presign(boto_client(region, endpoint, style, version, token), "head_bucket", {"Bucket": bucket}, expires)
    assert presigner.presign_head_bucket(bucket, expires_in=expires, now=FIXED).url == expected
    # botocore always signs GetBucketLocation path-style (it must work before the
    # region is known); s3presign follows the addressing style, so compare path-style.
    expected = boto_presign(boto_client(region, endpoint, "path", version, token), "get_bucket_location",
                            {"Bucket": bucket}, expires)
    path = ours(region, endpoint, "path", version, token)
    assert path.presign_bucket_location(bucket, expires_in=expires, now=FIXED).url == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(bucket=buckets.filter(lambda b: "." not in b), key=keys, region=st.sampled_from(REGIONS), token=tokens,
       length=st.one_of(st.none(), st.integers(0, 5 * 1024**3)),
       md5=st.one_of(st.none(), st.binary(min_size=16, max_size=16)),
       checksum=st.one_of(st.none(), st.tuples(st.sampled_from(["crc32", "crc32c", "sha1", "sha256", "crc64nvme"]),
                                                st.binary(min_size=32, max_size=32))))
def test_bound_put_equal_to_botocore(bucket, key, region, token, length, md5, checksum):
    sizes = {"crc32": 4, "crc32c": 4, "sha1": 20, "sha256": 32, "crc64nvme": 8}
    params = {"Bucket": bucket, "Key": key}
    kwargs = {}
    if length is not None:
        params["ContentLength"] = kwargs["content_length"] = length
    if md5 is not None:
        params["ContentMD5"] = kwargs["content_md5"] = base64.b64encode(md5).decode()
    if checksum is not None:
        value = base64.b64encode(checksum[1][: sizes[checksum[0]]]).decode()
        params["Checksum" + checksum[0].upper()] = value
        kwargs["checksum"] = (checksum[0], value)
    expected = boto_presign(boto_client(region, None, "virtual", "v4", token), "put_object", params, 3600)
    got = ours(region, None, "auto", "v4", token).presign("PUT", bucket, key, now=FIXED, **kwargs)
    assert got.url == expected
    signed = dict(parse_qsl(urlsplit(expected).query))["X-Amz-SignedHeaders"].split(";")
    assert sorted(["host", *got.headers]) == signed
