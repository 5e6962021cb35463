"""Every authentication rule: a valid request, then each way of getting it wrong.

Requests are signed by independent signers (boto3/botocore, and our presigner
for query auth) and the answers are checked against S3's status, code,
message and diagnostic elements.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
import uuid
from unittest import mock
from urllib.parse import parse_qsl, urlencode, urlsplit

import botocore.auth
import httpx
import pytest
from botocore.exceptions import ClientError

from s3presign import SSE

from .helpers import MAIN, TOKEN_USER, Endpoint, client_error, error_of

BODY = b"authenticated body\n"
SIG_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


@pytest.fixture
def obj(endpoint: Endpoint, bucket: str) -> tuple[str, str]:
    endpoint.client().put_object(Bucket=bucket, Key="o.txt", Body=BODY)
    return bucket, "o.txt"


def _replace_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in changes]
    pairs += [(k, v) for k, v in changes.items() if v is not None]
    return parts._replace(query=urlencode(pairs)).geturl()


def _assert_mismatch(err: dict, v4: bool) -> None:
    assert err["status"] == 403 and err["Code"] == "SignatureDoesNotMatch"
    assert err["Message"] == SIG_MISMATCH
    assert err["AWSAccessKeyId"] == MAIN[0]
    assert err["StringToSign"] and err["SignatureProvided"]
    assert bytes.fromhex(err["StringToSignBytes"].replace(" ", "")).decode() == err["StringToSign"]
    assert ("CanonicalRequest" in err) is v4


# --- SigV4, Authorization header ------------------------------------------------------


def test_v4_header_valid(endpoint, obj):
    bucket, key = obj
    got = endpoint.client().get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == BODY


def test_v4_header_tampered_signature(endpoint, obj):
    def tamper(h):
        h["Authorization"] = h["Authorization"][:-4] + ("0000" if not h["Authorization"].endswith("0000") else "1111")

    err = error_of(endpoint.signed("GET", f"/{obj[0]}/{obj[1]}", tamper=tamper))
    _assert_mismatch(err, v4=True)


def test_v4_header_wrong_secret_shows_canonical_request(endpoint, obj):
    path = f"/{obj[0]}/{obj[1]}"
    err = error_of(endpoint.signed("GET", path, creds=(MAIN[0], "not-the-secret")))
    _assert_mismatch(err, v4=True)
    # What the server canonicalised is what botocore signed: the user can diff it.
    lines = err["CanonicalRequest"].split("\n")
    assert lines[0] == "GET" and lines[1] == path
    assert bytes.fromhex(err["CanonicalRequestBytes"].replace(" ", "")).decode() == err["CanonicalRequest"]


def test_v4_header_wrong_region(endpoint, obj):
    resp = endpoint.signed("GET", f"/{obj[0]}/{obj[1]}", region="eu-west-1")
    err = error_of(resp)
    assert err["status"] == 400 and err["Code"] == "AuthorizationHeaderMalformed"
    assert err["Message"] == (
        "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'"
    )
    assert err["Region"] == "us-east-1"


def test_v4_header_unknown_access_key(endpoint, obj):
    err = error_of(endpoint.signed("GET", f"/{obj[0]}/{obj[1]}", creds=("AKIDUNKNOWN00000", "x")))
    assert (err["status"], err["Code"]) == (403, "InvalidAccessKeyId")
    assert err["Message"] == "The AWS Access Key Id you provided does not exist in our records."


def _shifted_clock(seconds: float):
    moved = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=seconds)
    return mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: moved)


def test_v4_header_clock_skew(endpoint, obj):
    bucket, key = obj
    with _shifted_clock(-14 * 60):  # within S3's 15 minutes: accepted
        assert endpoint.signed("GET", f"/{bucket}/{key}").status_code == 200
    with _shifted_clock(-16 * 60):
        err = error_of(endpoint.signed("GET", f"/{bucket}/{key}"))
    assert (err["status"], err["Code"]) == (403, "RequestTimeTooSkewed")
    assert err["Message"] == "The difference between the request time and the current time is too large."
    assert err["MaxAllowedSkewMilliseconds"] == "900000"
    assert err["RequestTime"] and err["ServerTime"]


def test_v4_header_unsigned_amz_header(endpoint, obj):
    def add(h):
        h["x-amz-meta-smuggled"] = "1"

    err = error_of(endpoint.signed("GET", f"/{obj[0]}/{obj[1]}", tamper=add))
    assert (err["status"], err["Code"]) == (403, "AccessDenied")
    assert err["Message"] == "There were headers present in the request which were not signed"
    assert err["HeadersNotSigned"] == "x-amz-meta-smuggled"


def test_v4_header_missing_and_changed_signed_header(endpoint, bucket):
    path = f"/{bucket}/signed-meta"
    headers = {"x-amz-meta-color": "blue"}
    assert endpoint.signed("PUT", path, body=BODY, headers=headers).status_code == 200

    def drop(h):
        del h["x-amz-meta-color"]

    def change(h):
        h["x-amz-meta-color"] = "red"

    for tamper in (drop, change):
        err = error_of(endpoint.signed("PUT", path, body=BODY, headers=headers, tamper=tamper))
        _assert_mismatch(err, v4=True)


def test_v4_header_payload_hash(endpoint, bucket):
    path = f"/{bucket}/payload"
    assert endpoint.signed("PUT", path, body=BODY).status_code == 200
    # The signature covers x-amz-content-sha256; the body must match it.
    tampered_body = BODY.upper()
    err = error_of(endpoint.signed("PUT", path, body=BODY, send_body=tampered_body))
    assert (err["status"], err["Code"]) == (400, "XAmzContentSHA256Mismatch")
    assert err["ClientComputedContentSHA256"] == hashlib.sha256(BODY).hexdigest()
    assert err["S3ComputedContentSHA256"] == hashlib.sha256(tampered_body).hexdigest()
    got = endpoint.client().get_object(Bucket=bucket, Key="payload")["Body"].read()
    assert got == BODY  # the refused body left the previous version in place


def test_v4_header_unsigned_payload(endpoint, bucket):
    resp = endpoint.signed("PUT", f"/{bucket}/unsigned", body=BODY, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert resp.status_code == 200
    assert endpoint.client().get_object(Bucket=bucket, Key="unsigned")["Body"].read() == BODY


def test_v4_header_missing_content_sha256(endpoint, bucket):
    def drop(h):
        del h["X-Amz-Content-SHA256"]

    err = error_of(endpoint.signed("PUT", f"/{bucket}/x", body=BODY, tamper=drop))
    assert (err["status"], err["Code"]) == (400, "InvalidRequest")
    assert err["Message"] == "Missing required header for this request: x-amz-content-sha256"


def test_ssec_key_headers_may_travel_unsigned(endpoint, bucket):
    key = bytes(range(32))
    unsigned = {
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }

    def add_key(h):
        h.update(unsigned)

    signed = {"x-amz-server-side-encryption-customer-algorithm": "AES256"}
    resp = endpoint.signed("PUT", f"/{bucket}/ssec", body=BODY, headers=signed, tamper=add_key)
    assert resp.status_code == 200, resp.text
    resp = endpoint.signed("GET", f"/{bucket}/ssec", headers=signed, tamper=add_key)
    assert resp.status_code == 200 and resp.content == BODY


# --- SigV4, pre-signed query -------------------------------------------------------------


def test_v4_query_valid_from_boto3_and_presigner(endpoint, obj):
    bucket, key = obj
    boto_url = endpoint.client().generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    assert httpx.get(boto_url).content == BODY
    ours = endpoint.presigner().presign("GET", bucket, key, expires_in=604800)
    assert httpx.get(ours.url, headers=ours.headers).content == BODY


def test_v4_query_expired(endpoint, obj):
    url = endpoint.presigner().presign("GET", *obj, expires_in=60, now=time.time() - 120).url
    err = error_of(httpx.get(url))
    assert (err["status"], err["Code"], err["Message"]) == (403, "AccessDenied", "Request has expired")
    assert err["X-Amz-Expires"] == "60"
    assert err["Expires"].endswith("Z") and err["ServerTime"].endswith("Z")
    assert err["Expires"] < err["ServerTime"]


def test_v4_query_not_yet_valid(endpoint, obj):
    url = endpoint.presigner().presign("GET", *obj, now=time.time() + 3600).url
    err = error_of(httpx.get(url))
    assert (err["status"], err["Code"], err["Message"]) == (403, "AccessDenied", "Request is not yet valid")


def test_v4_query_expires_limits(endpoint, obj):
    url = endpoint.presigner().presign("GET", *obj, expires_in=604800).url
    assert httpx.get(url).status_code == 200
    err = error_of(httpx.get(_replace_query(url, **{"X-Amz-Expires": "604801"})))
    assert (err["status"], err["Code"]) == (400, "AuthorizationQueryParametersError")
    assert err["Message"].startswith("X-Amz-Expires must be less than a week")


def test_v4_query_wrong_region(endpoint, obj):
    url = endpoint.presigner(region="eu-west-1").presign("GET", *obj).url
    err = error_of(httpx.get(url))
    assert (err["status"], err["Code"]) == (400, "AuthorizationQueryParametersError")
    assert err["Message"] == (
        "Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'"
    )
    assert err["Region"] == "us-east-1"


def test_v4_query_malformed_credential_and_missing_parameters(endpoint, obj):
    url = endpoint.presigner().presign("GET", *obj).url
    err = error_of(httpx.get(_replace_query(url, **{"X-Amz-Credential": f"{MAIN[0]}/20260101/us-east-1"})))
    assert (err["status"], err["Code"]) == (400, "AuthorizationQueryParametersError")
    assert "the Credential is mal-formed" in err["Message"]
    err = error_of(httpx.get(_replace_query(url, **{"X-Amz-Signature": None})))
    assert (err["status"], err["Code"]) == (400, "AuthorizationQueryParametersError")
    assert err["Message"].startswith("Query-string authentication version 4 requires the X-Amz-Algorithm")


def test_v4_query_tampered_and_wrong_secret(endpoint, obj):
    bucket, key = obj
    url = endpoint.presigner().presign("GET", bucket, key).url
    signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    _assert_mismatch(error_of(httpx.get(_replace_query(url, **{"X-Amz-Signature": flipped}))), v4=True)
    other_key = url.replace(f"/{key}?", "/other.txt?")
    _assert_mismatch(error_of(httpx.get(other_key)), v4=True)
    wrong = endpoint.presigner(creds=(MAIN[0], "wrong-secret")).presign("GET", bucket, key).url
    _assert_mismatch(error_of(httpx.get(wrong)), v4=True)


def test_v4_query_unsigned_header(endpoint, obj):
    url = endpoint.presigner().presign("GET", *obj).url
    err = error_of(httpx.get(url, headers={"x-amz-meta-extra": "1"}))
    assert (err["status"], err["Code"]) == (403, "AccessDenied")
    assert err["HeadersNotSigned"] == "x-amz-meta-extra"


def test_v4_query_missing_signed_header(endpoint, bucket):
    signed = endpoint.presigner().presign("PUT", bucket, "typed.txt", headers={"Content-Type": "text/plain"})
    assert httpx.put(signed.url, content=BODY, headers=signed.headers).status_code == 200
    err = error_of(httpx.put(signed.url, content=BODY))
    _assert_mismatch(err, v4=True)


# --- SigV2 -------------------------------------------------------------------------------


def test_v2_header_valid_and_tampered(endpoint, obj):
    bucket, key = obj
    assert endpoint.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == BODY

    def tamper(h):
        h["Authorization"] = h["Authorization"][:-3] + "AAA="

    _assert_mismatch(error_of(endpoint.signed("GET", f"/{bucket}/{key}", sig="v2", tamper=tamper)), v4=False)
    wrong = endpoint.signed("GET", f"/{bucket}/{key}", sig="v2", creds=(MAIN[0], "wrong"))
    _assert_mismatch(error_of(wrong), v4=False)


def test_v2_header_amz_headers_are_signed(endpoint, obj):
    def add(h):
        h["x-amz-meta-smuggled"] = "1"

    _assert_mismatch(error_of(endpoint.signed("GET", f"/{obj[0]}/{obj[1]}", sig="v2", tamper=add)), v4=False)


def test_v2_header_clock_skew(endpoint, obj):
    stale = time.time() - 16 * 60
    from email.utils import formatdate

    with mock.patch.object(botocore.auth, "formatdate", lambda usegmt=True: formatdate(stale, usegmt=True)):
        err = error_of(endpoint.signed("GET", f"/{obj[0]}/{obj[1]}", sig="v2"))
    assert (err["status"], err["Code"]) == (403, "RequestTimeTooSkewed")


def test_v2_query_valid_expired_missing_tampered(endpoint, obj):
    bucket, key = obj
    boto_url = endpoint.client("s3").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    assert httpx.get(boto_url).content == BODY
    ours = endpoint.presigner("v2").presign("GET", bucket, key)
    assert httpx.get(ours.url).content == BODY

    expired = endpoint.presigner("v2").presign("GET", bucket, key, expires_in=60, now=time.time() - 120).url
    err = error_of(httpx.get(expired))
    assert (err["status"], err["Code"], err["Message"]) == (403, "AccessDenied", "Request has expired")
    assert err["Expires"] and err["ServerTime"]

    err = error_of(httpx.get(_replace_query(ours.url, Signature=None)))
    assert (err["status"], err["Code"]) == (403, "AccessDenied")
    assert err["Message"] == (
        "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
    )
    _assert_mismatch(error_of(httpx.get(_replace_query(ours.url, Signature="AAAA" + "B" * 24))), v4=False)


def test_v2_query_leaves_ssec_key_to_the_user(endpoint, bucket):
    """SigV2 leaves the SSE-C key headers out of the string to sign (S3's SSE table)."""
    key = b"k" * 32
    endpoint.client().put_object(Bucket=bucket, Key="c.txt", Body=BODY, SSECustomerAlgorithm="AES256", SSECustomerKey=key.decode())
    signed = endpoint.presigner("v2").presign("GET", bucket, "c.txt", sse=SSE.customer())
    resp = httpx.get(signed.url, headers=signed.headers_with_key(key))
    assert resp.status_code == 200 and resp.content == BODY
    err = error_of(httpx.get(signed.url, headers=signed.headers_with_key(b"x" * 32)))
    assert (err["status"], err["Code"]) == (403, "AccessDenied")


# --- who may ask ---------------------------------------------------------------------------


def test_session_tokens_are_verified(endpoint):
    with_token = endpoint.client(creds=TOKEN_USER)
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    with_token.create_bucket(Bucket=bucket)  # its own: another account's bucket would refuse it
    with_token.put_object(Bucket=bucket, Key="t", Body=BODY)
    with pytest.raises(ClientError) as missing:
        endpoint.client(creds=TOKEN_USER[:2]).get_object(Bucket=bucket, Key="t")
    assert client_error(missing.value)["status"] == 403
    assert client_error(missing.value)["Code"] == "InvalidAccessKeyId"
    with pytest.raises(ClientError) as wrong:
        endpoint.client(creds=(*TOKEN_USER[:2], "forged-token")).get_object(Bucket=bucket, Key="t")
    assert (client_error(wrong.value)["status"], client_error(wrong.value)["Code"]) == (400, "InvalidToken")


def test_anonymous_and_unknown_schemes_are_refused(endpoint, obj):
    err = error_of(httpx.get(f"{endpoint.url}/{obj[0]}/{obj[1]}"))
    assert (err["status"], err["Code"], err["Message"]) == (403, "AccessDenied", "Access Denied")
    err = error_of(httpx.get(f"{endpoint.url}/{obj[0]}/{obj[1]}", headers={"Authorization": "Bearer abc"}))
    assert (err["status"], err["Code"]) == (400, "InvalidArgument")


def test_v2_query_missing_signed_header(endpoint, bucket):
    signed = endpoint.presigner("v2").presign("PUT", bucket, "typed-v2.txt", headers={"Content-Type": "text/plain"})
    assert httpx.put(signed.url, content=BODY, headers=signed.headers).status_code == 200
    _assert_mismatch(error_of(httpx.put(signed.url, content=BODY, headers={"Content-Type": "text/csv"})), v4=False)
    _assert_mismatch(error_of(httpx.put(signed.url, content=BODY)), v4=False)
