"""One canonicalization signs and verifies: presigned requests round-trip through
verify_request, and every tampering is refused with S3's error."""

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3presign import SSE, Credentials, Presigner
from s3presign.core.s3errors import S3Error
from s3presign.core.verify import verify_request

CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
TOKEN_CREDS = Credentials("ASIATEMP", "tempsecret", "the-session-token")
USERS = {c.access_key: c for c in (CREDS, TOKEN_CREDS)}
NOW = 1_780_000_000
ENDPOINT = "http://127.0.0.1:9000"


def verify(request, *, method=None, headers=None, url=None, now=NOW + 10, region="us-east-1"):
    parts = urlsplit(url or request.url)
    sent = {"host": parts.netloc}
    sent.update(request.headers if headers is None else headers)
    return verify_request(
        method or request.method, parts.path, parts.query, {k.lower(): v for k, v in sent.items()},
        lookup=USERS.get, region=region, now=now,
    )


def presigner(version="v4", creds=CREDS):
    return Presigner(creds, "us-east-1", ENDPOINT, signature_version=version)


@settings(max_examples=150, deadline=None)
@given(
    key=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30),
    version=st.sampled_from(["v4", "v2"]),
    method=st.sampled_from(["GET", "PUT", "HEAD", "DELETE"]),
    overrides=st.dictionaries(st.sampled_from(["content-type", "content-disposition"]), st.text(min_size=1, max_size=10), max_size=2),
)
def test_every_presigned_request_verifies(key, version, method, overrides):
    request = presigner(version).presign(
        method, "bucket", key, now=NOW, response_overrides=overrides if method == "GET" else None
    )
    result = verify(request)
    assert result.access_key == CREDS.access_key
    assert result.signature_version == version and result.presigned


@pytest.mark.parametrize("version", ["v4", "v2"])
def test_tampered_expired_wrong_secret(version):
    request = presigner(version).presign("PUT", "bucket", "k", sse=SSE.s3(), now=NOW, expires_in=60)
    assert verify(request).signature_version == version
    tampered = request.url.replace("/bucket/k?", "/bucket/other?")
    with pytest.raises(S3Error) as info:
        verify(request, url=tampered)
    assert (info.value.status, info.value.code) == (403, "SignatureDoesNotMatch")
    assert "StringToSign" in info.value.elements and "SignatureProvided" in info.value.elements
    if version == "v4":
        assert "CanonicalRequest" in info.value.elements and "CanonicalRequestBytes" in info.value.elements
    with pytest.raises(S3Error) as info:
        verify(request, now=NOW + 61)
    assert (info.value.status, info.value.code, info.value.message) == (403, "AccessDenied", "Request has expired")
    assert {"Expires", "ServerTime"} <= set(info.value.elements)
    wrong = Presigner(Credentials(CREDS.access_key, "not-the-secret"), "us-east-1", ENDPOINT, signature_version=version)
    with pytest.raises(S3Error) as info:
        verify(wrong.presign("PUT", "bucket", "k", sse=SSE.s3(), now=NOW))
    assert info.value.code == "SignatureDoesNotMatch"
    # a signed header not sent, or sent with another value
    with pytest.raises(S3Error) as info:
        verify(request, headers={})
    assert info.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as info:
        verify(request, headers={"x-amz-server-side-encryption": "aws:kms"})
    assert info.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as info:
        verify(request, method="GET")
    assert info.value.code == "SignatureDoesNotMatch"


def test_v4_specific_rules():
    request = presigner().presign("GET", "bucket", "k", now=NOW)
    with pytest.raises(S3Error) as info:
        verify(request, region="ap-south-1")
    assert info.value.code == "AuthorizationQueryParametersError"
    assert info.value.message.endswith("the region 'us-east-1' is wrong; expecting 'ap-south-1'")
    assert info.value.elements["Region"] == "ap-south-1"
    with pytest.raises(S3Error) as info:
        verify(request, headers={"x-amz-meta-extra": "1"})
    assert info.value.message == "There were headers present in the request which were not signed"
    assert info.value.elements["HeadersNotSigned"] == "x-amz-meta-extra"
    # SSE-C key headers are exempt: that is what makes "key at use" possible
    at_use = presigner().presign("PUT", "bucket", "k", sse=SSE.customer(), now=NOW)
    assert verify(at_use, headers=at_use.headers_with_key(bytes(32)))
    too_long = request.url.replace("X-Amz-Expires=3600", "X-Amz-Expires=604801")
    with pytest.raises(S3Error) as info:
        verify(request, url=too_long)
    assert info.value.code == "AuthorizationQueryParametersError" and "604800" in info.value.message
    missing = request.url.replace("X-Amz-Date=", "X-Amz-Nope=")
    with pytest.raises(S3Error) as info:
        verify(request, url=missing)
    assert info.value.message.startswith("Query-string authentication version 4 requires")
    bad_credential = request.url.replace("AKIDEXAMPLE%2F", "AKIDEXAMPLE%2Fx%2F")
    with pytest.raises(S3Error) as info:
        verify(request, url=bad_credential)
    assert "the Credential is mal-formed" in info.value.message
    with pytest.raises(S3Error) as info:
        verify(request, now=NOW - 3600)
    assert info.value.message == "Request is not yet valid"
    unknown = request.url.replace("AKIDEXAMPLE", "AKIDUNKNOWN")
    with pytest.raises(S3Error) as info:
        verify(request, url=unknown)
    assert (info.value.status, info.value.code) == (403, "InvalidAccessKeyId")


def test_v2_specific_rules():
    request = presigner("v2").presign("GET", "bucket", "k", now=NOW)
    missing = request.url.replace("Expires=", "Nope=")
    with pytest.raises(S3Error) as info:
        verify(request, url=missing)
    assert (info.value.status, info.value.code) == (403, "AccessDenied")
    assert info.value.message == "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
    # SSE-C key headers stay out of the SigV2 string to sign
    at_use = presigner("v2").presign("PUT", "bucket", "k", sse=SSE.customer(), now=NOW)
    assert verify(at_use, headers=at_use.headers_with_key(bytes(range(32))))


@pytest.mark.parametrize("version", ["v4", "v2"])
def test_session_tokens_are_verified(version):
    request = presigner(version, TOKEN_CREDS).presign("GET", "bucket", "k", now=NOW)
    assert verify(request).access_key == "ASIATEMP"
    name = "X-Amz-Security-Token" if version == "v4" else "x-amz-security-token"
    with pytest.raises(S3Error) as info:
        verify(request, url=request.url.replace(f"{name}=the-session-token", f"{name}=forged"))
    assert info.value.code in ("InvalidToken", "SignatureDoesNotMatch")


def test_anonymous_is_refused():
    with pytest.raises(S3Error) as info:
        verify_request("GET", "/bucket/k", "", {"host": "x"}, lookup=USERS.get, region="us-east-1")
    assert (info.value.status, info.value.code) == (403, "AccessDenied")
