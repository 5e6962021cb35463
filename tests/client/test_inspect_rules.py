"""inspect's warnings that need no server: each rule on a URL made to break it
(in-process; the CLI and the server's answers are covered in test_inspect.py)."""

from __future__ import annotations

import pytest

from s3presign import SSE, Credentials, PresignError, Presigner
from s3presign.client.inspect import inspect_url, parse_signed_url

CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
NOW = 1767225600  # 2026-01-01T00:00:00Z


def codes(report, level="error"):
    return sorted(f.code for f in report.findings if f.level == level)


def aws(region="eu-west-1", **kwargs):
    return Presigner(CREDS, region, **kwargs)


def test_amazon_virtual_hosted_url_is_decoded():
    url = aws().presign("GET", "my-bucket", "a/b c.txt", now=NOW).url
    u = parse_signed_url(url)
    assert (u.bucket, u.key, u.addressing, u.aws, u.aws_region, u.region) == (
        "my-bucket", "a/b c.txt", "virtual", True, "eu-west-1", "eu-west-1")
    report = inspect_url(url, method="GET", secret_key=CREDS.secret_key, now=NOW + 10)
    assert report.findings[0].code == "signature" and not report.will_fail


def test_expiry_over_seven_days():
    url = aws().presign("GET", "my-bucket", "k", now=NOW).url.replace("X-Amz-Expires=3600", "X-Amz-Expires=700000")
    assert "expiry-too-long" in codes(inspect_url(url, now=NOW))
    v2 = aws(signature_version="v2").presign("GET", "my-bucket", "k", now=NOW, expires_in=30 * 86400).url
    report = inspect_url(v2, now=NOW)
    assert "expiry-too-long" in codes(report, "warning") and not report.will_fail


def test_ssec_over_plain_http():
    presigner = Presigner(CREDS, endpoint_url="http://127.0.0.1:9000")
    url = presigner.presign("PUT", "bkt", "k", sse=SSE.customer(bytes(32)), now=NOW).url
    assert "ssec-over-http" in codes(inspect_url(url, method="PUT", now=NOW))


def test_sse_parameters_in_the_query_string():
    url = aws().presign("PUT", "my-bucket", "k", now=NOW).url + "&x-amz-server-side-encryption=aws%3Akms"
    report = inspect_url(url, method="PUT", now=NOW)
    assert "sse-in-query" in codes(report, "warning") and report.sse_mode == "kms"


def test_wrong_region_for_an_amazon_endpoint():
    url = aws("eu-west-1").presign("GET", "my-bucket", "k", now=NOW).url.replace(
        "s3.eu-west-1.amazonaws.com", "s3.us-east-2.amazonaws.com")
    report = inspect_url(url, now=NOW)
    assert codes(report) == ["wrong-region"] and "(--region us-east-2)" in report.findings[0].fix


def test_addressing_that_does_not_fit_the_bucket_or_endpoint():
    url = aws().presign("GET", "my.dotted.bucket", "k", now=NOW).url
    assert parse_signed_url(url).addressing == "path"  # auto picks path for dots: only a warning on AWS
    assert codes(inspect_url(url, now=NOW), "warning") == ["addressing"]
    forced = url.replace("s3.eu-west-1.amazonaws.com/my.dotted.bucket/", "my.dotted.bucket.s3.eu-west-1.amazonaws.com/")
    assert "addressing" in codes(inspect_url(forced, now=NOW))  # TLS name mismatch
    local = Presigner(CREDS, endpoint_url="http://127.0.0.1:9000").presign("GET", "bkt", "k", now=NOW).url
    report = inspect_url(local, now=NOW, endpoint_url="http://localhost:9000")
    assert "addressing" in codes(report)


def test_sigv2_read_of_a_kms_object_is_explained_from_s3s_answer():
    url = aws(signature_version="v2").presign("GET", "my-bucket", "k", now=NOW).url
    error = {"Code": "InvalidArgument",
             "Message": "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4."}
    report = inspect_url(url, method="GET", error=error, now=NOW)
    assert codes(report) == ["sigv2-kms"]


def test_date_and_scope():
    url = aws().presign("GET", "my-bucket", "k", now=NOW).url.replace("%2F20260101%2F", "%2F20251231%2F")
    assert "date-scope" in codes(inspect_url(url, now=NOW))


@pytest.mark.parametrize("url", ["ftp://x/y", "https://bucket.s3.amazonaws.com/k", "not a url"])
def test_not_a_presigned_url(url):
    with pytest.raises(PresignError):
        inspect_url(url)


def test_js_sdk_empty_body_checksum_in_a_put_url():
    """What aws-sdk-js-v3 makes by default (#6994): the CRC32 of an empty body, hoisted into the query."""
    url = aws().presign("PUT", "my-bucket", "k", now=NOW, query=None).url
    url = url.replace("X-Amz-Algorithm", "x-amz-checksum-crc32=AAAAAA%3D%3D&x-amz-sdk-checksum-algorithm=CRC32&X-Amz-Algorithm")
    report = inspect_url(url, method="PUT", now=NOW)
    assert "js-sdk-empty-checksum" in codes(report, "warning")
    assert "#6994" in next(f.message for f in report.findings if f.code == "js-sdk-empty-checksum")
    # signed as a header, too
    signed = aws().presign("PUT", "my-bucket", "k", now=NOW, checksum=("crc32", "AAAAAA=="))
    report = inspect_url(signed.url, method="PUT", headers=signed.headers, now=NOW)
    assert "js-sdk-empty-checksum" in codes(report, "warning")
    real = aws().presign("PUT", "my-bucket", "k", now=NOW, checksum=("crc32", "y/Q5Jg=="))
    assert "js-sdk-empty-checksum" not in codes(inspect_url(real.url, method="PUT", headers=real.headers, now=NOW), "warning")


def test_ssec_write_blocked_on_new_aws_buckets():
    put = aws().presign("PUT", "my-bucket", "k", sse=SSE.customer(), now=NOW)
    report = inspect_url(put.url, method="PUT", headers=put.headers, now=NOW)
    finding = next(f for f in report.findings if f.code == "ssec-blocked")
    assert "April 2026" in finding.message and "BlockedEncryptionTypes NONE" in finding.message
    get = aws().presign("GET", "my-bucket", "k", sse=SSE.customer(), now=NOW)
    assert "ssec-blocked" not in codes(inspect_url(get.url, method="GET", headers=get.headers, now=NOW), "warning")
    local = Presigner(CREDS, "us-east-1", endpoint_url="https://127.0.0.1:9000").presign(
        "PUT", "my-bucket", "k", sse=SSE.customer(), now=NOW)
    assert "ssec-blocked" not in codes(inspect_url(local.url, method="PUT", headers=local.headers, now=NOW), "warning")


def test_session_token_is_reported_and_long_expiry_flagged():
    temp = Credentials("ASIAEXAMPLE", "secret", "token")
    url = Presigner(temp, "eu-west-1").presign("GET", "my-bucket", "k", now=NOW, expires_in="2d").url
    finding = next(f for f in inspect_url(url, now=NOW).findings if f.code == "session-token")
    assert "STS temporary credentials" in finding.message and "dies early" in finding.message
    short = Presigner(temp, "eu-west-1").presign("GET", "my-bucket", "k", now=NOW, expires_in="1h").url
    finding = next(f for f in inspect_url(short, now=NOW).findings if f.code == "session-token")
    assert "dies early" not in finding.message
    assert "session-token" not in codes(inspect_url(aws().presign("GET", "my-bucket", "k", now=NOW).url, now=NOW), "warning")
