"""`s3presign inspect` names the cause of each failure S3 would answer, checked
against the real server's answer to the same request."""

from __future__ import annotations

import json
import ssl
import time
from urllib.parse import quote

import httpx
import pytest

from s3presign import SSE
from s3presign.core import sigv2
from tests.server.helpers import MAIN, error_of

SECRET = ["--secret-key", MAIN[1]]


def _inspect(cli, url, *args, env=None):
    out = cli.run("inspect", url, "--output", "json", *args, env=env)
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    assert (out.returncode == 1) == report["will_fail"]
    return report


def _codes(report, level="error"):
    return [f["code"] for f in report["findings"] if f["level"] == level]


def _send(endpoint, method, url, headers=None, content=b""):
    with httpx.Client(verify=ssl.create_default_context(cafile=endpoint.ca), trust_env=False) as client:
        return client.request(method, url, headers=headers or {}, content=content)


def test_valid_url_decodes_everything_and_matches(cli, bucket):
    url = cli.presign("PUT", bucket, "dir/a b.txt", sse=SSE.kms("alias/x")).url
    report = _inspect(cli, url, "--method", "PUT", "--header", "x-amz-server-side-encryption:aws:kms",
                      "--header", "x-amz-server-side-encryption-aws-kms-key-id:alias/x", *SECRET)
    assert report["will_fail"] is False and report["signature"]["matches"] is True
    assert (report["signature_version"], report["bucket"], report["key"], report["region"]) == \
        ("v4", bucket, "dir/a b.txt", "us-east-1")
    assert report["addressing_style"] == "path" and report["access_key"] == MAIN[0]
    assert 3590 <= report["expires_in_seconds"] <= 3600 and report["expires_at"].endswith("Z")
    assert report["signed_headers"] == ["host", "x-amz-server-side-encryption",
                                        "x-amz-server-side-encryption-aws-kms-key-id"]
    assert report["sse"]["mode"] == "kms"
    assert {h["name"]: h["value"] for h in report["headers_to_send"]} == {
        "x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "alias/x"}


def test_text_output_without_a_key(cli, bucket):
    url = cli.presign("GET", bucket, "k", sse=SSE.customer()).url
    out = cli.run("inspect", url, env={"AWS_ACCESS_KEY_ID": "SOMEONE-ELSE"})  # not the signer: no key to check with
    assert out.returncode == 1  # the SSE-C headers are not sent
    text = out.stdout.decode()
    assert "Signature Version 4" in text and f"bucket         {bucket}" in text and "expires in 59 min" in text
    assert "x-amz-server-side-encryption-customer-algorithm: AES256" in text
    assert "x-amz-server-side-encryption-customer-key: <your SSE-C key (base64)>" in text
    assert "Signature: not checked" in text


def test_expired(cli, bucket):
    cli.endpoint.client().put_object(Bucket=bucket, Key="k", Body=b"x")
    url = cli.presign("GET", bucket, "k", now=1577836800, expires_in=60).url
    assert _send(cli.endpoint, "GET", url).status_code == 403
    report = _inspect(cli, url, *SECRET)
    assert _codes(report) == ["expired"] and report["signature"]["matches"] is True
    assert report["expires_at"] == "2020-01-01T00:01:00Z" and report["expires_in_seconds"] < 0


def test_wrong_secret(cli, bucket):
    url = cli.presign("GET", bucket, "k").url
    report = _inspect(cli, url, "--method", "GET", "--secret-key", "not-the-secret")
    assert _codes(report) == ["wrong-secret"]
    assert report["signature"]["canonical_request"].startswith(f"GET\n/{bucket}/k\n")
    assert report["signature"]["string_to_sign"].startswith("AWS4-HMAC-SHA256\n")


def test_wrong_region(cli, bucket):
    url = cli.endpoint.presigner(region="eu-west-1").presign("GET", bucket, "k").url
    response = _send(cli.endpoint, "GET", url)
    assert response.status_code == 400
    report = _inspect(cli, url, "--region", "us-east-1")
    assert _codes(report) == ["wrong-region"]
    (cli.cwd / "err.xml").write_bytes(response.content)  # or from S3's own answer
    report = _inspect(cli, url, "--error-xml", cli.cwd / "err.xml")
    assert _codes(report) == ["wrong-region"]
    assert "signed for eu-west-1 but the endpoint is in us-east-1" in report["findings"][0]["message"]
    assert report["findings"][0]["code"] == "wrong-region"


def test_signed_header_not_sent(cli, bucket):
    presigned = cli.presign("PUT", bucket, "k", sse=SSE.kms())
    assert _send(cli.endpoint, "PUT", presigned.url, content=b"x").status_code == 403
    report = _inspect(cli, presigned.url, "--method", "PUT", *SECRET)
    assert _codes(report) == ["header-not-sent"]
    assert report["findings"][0]["fix"] == "send it as a header with value aws:kms"
    assert report["headers_to_send"][0] == {"name": "x-amz-server-side-encryption", "value": "aws:kms",
                                            "why": "signed: exactly this value (found with the secret key)"}


def test_header_value_changed(cli, bucket):
    presigned = cli.presign("PUT", bucket, "k", sse=SSE.kms())
    changed = {"x-amz-server-side-encryption": "AES256"}
    assert _send(cli.endpoint, "PUT", presigned.url, changed, b"x").status_code == 403
    report = _inspect(cli, presigned.url, "--method", "PUT", "--header", "x-amz-server-side-encryption:AES256", *SECRET)
    assert _codes(report) == ["header-value"]
    assert "sent as 'AES256' but the URL signed 'aws:kms'" in report["findings"][0]["message"]


def test_header_value_changed_seen_in_s3s_error_document(cli, bucket):
    """With the error XML and the headers the URL was made with (--from-json), no key needed."""
    path = cli.presign_json("PUT", bucket, "k", sse=SSE.kms())
    url = json.loads(path.read_text())["url"]
    response = _send(cli.endpoint, "PUT", url, {"x-amz-server-side-encryption": "AES256"}, b"x")
    (cli.cwd / "err.xml").write_bytes(response.content)
    report = _inspect(cli, url, "--from-json", path, "--error-xml", cli.cwd / "err.xml",
                      env={"AWS_ACCESS_KEY_ID": "SOMEONE-ELSE"})
    assert _codes(report) == ["canonical-diff"]
    assert report["findings"][0]["message"].endswith(
        "header x-amz-server-side-encryption: S3 received 'AES256', the URL signed 'aws:kms'")


def test_sigv2_with_kms(cli, bucket):
    """A SigV2 URL that signs x-amz-server-side-encryption: aws:kms (the library refuses to
    make one, so it is signed by hand): the signature is right, and S3 still refuses it."""
    expires = str(int(time.time()) + 600)
    headers = {"x-amz-server-side-encryption": "aws:kms"}
    text = sigv2.string_to_sign("PUT", "", "", expires, headers, f"/{bucket}/k")
    url = (f"{cli.endpoint.url}/{bucket}/k?AWSAccessKeyId={MAIN[0]}&Expires={expires}"
           f"&Signature={quote(sigv2.sign(MAIN[1], text), safe='')}")
    response = _send(cli.endpoint, "PUT", url, headers, b"x")
    assert (response.status_code, error_of(response)["Code"]) == (400, "InvalidArgument")
    report = _inspect(cli, url, "--method", "PUT", "--header", "x-amz-server-side-encryption:aws:kms", *SECRET)
    assert _codes(report) == ["sigv2-kms"] and report["signature"]["matches"] is True
    assert "require AWS Signature Version 4" in report["findings"][0]["message"]


def test_path_encoded_differently(cli, bucket):
    url = cli.presign("PUT", bucket, "dir/a b.txt").url.replace("a%20b", "a+b")
    assert _send(cli.endpoint, "PUT", url, content=b"x").status_code == 403
    report = _inspect(cli, url, "--method", "PUT", *SECRET)
    assert _codes(report) == ["path-encoding"]
    assert "literal plus" in report["findings"][0]["message"] and report["key"] == "dir/a+b.txt"


@pytest.mark.parametrize("tamper, cause", [
    (lambda u: u.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200"), "X-Amz-Expires was changed from 3600 to 7200"),
    (lambda u: u + "&versionId=abc", "the query parameter versionId was added after signing"),
])
def test_tampered_url(cli, bucket, tamper, cause):
    url = tamper(cli.presign("GET", bucket, "k").url)
    assert _send(cli.endpoint, "GET", url).status_code in (400, 403)
    report = _inspect(cli, url, "--method", "GET", *SECRET)
    assert _codes(report) == ["query"] and cause in report["findings"][0]["message"]


def test_method_is_found_with_the_key_and_a_wrong_one_named(cli, bucket):
    url = cli.presign("DELETE", bucket, "k").url
    report = _inspect(cli, url)  # the usual credentials are the signer's: used to check
    assert report["method"] == "DELETE" and report["signature"]["matches"] is True
    report = _inspect(cli, url, "--method", "GET")
    assert _codes(report) == ["method"] and "signed for DELETE, not GET" in report["findings"][0]["message"]


@pytest.mark.parametrize("args, message", [
    (["not a url"], "is not an http(s) URL"),
    (["https://example.com/b/k"], "this URL is not pre-signed"),
    (["https://example.com/b/k?X-Amz-Signature=x", "--error-xml", "/nonexistent.xml"], "cannot read --error-xml"),
])
def test_bad_input(cli, args, message):
    out = cli.run("inspect", *args)
    assert out.returncode == 2
    err = out.stderr.decode()
    assert err.startswith("s3presign: error:") and message in err and err.count("\n") == 1
