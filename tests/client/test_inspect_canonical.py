"""`inspect` shows exactly the canonical request and string to sign the verifier
builds: both come from the same core functions, so they cannot drift."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from s3presign import Credentials, Presigner
from s3presign.client.inspect import canonical_request, parse_signed_url, string_to_sign
from s3presign.core.s3errors import S3Error
from s3presign.core.verify import verify_request

CREDS = Credentials("AKIDINSPECT", "inspect-secret")


def _verifier_strings(url: str, method: str = "GET") -> dict[str, str]:
    """What the verifier computed, read back from its SignatureDoesNotMatch (wrong secret)."""
    parts = urlsplit(url)
    with pytest.raises(S3Error) as info:
        verify_request(method, parts.path or "/", parts.query, {"host": parts.netloc},
                       lookup=lambda key: Credentials(key, "another-secret"), region="us-east-1")
    assert info.value.code == "SignatureDoesNotMatch"
    return info.value.elements


def test_v2_bucket_url_string_to_sign_matches_the_verifier():
    url = "http://127.0.0.1:9000/bkt?AWSAccessKeyId=AKIDINSPECT&Expires=4102444800&Signature=abc%3D"
    ours = string_to_sign(parse_signed_url(url), "GET", {})
    assert ours == _verifier_strings(url)["StringToSign"]
    assert ours.endswith("\n/bkt/")


@pytest.mark.parametrize("key", ["a/b c.txt", "ü~x", "a+b"])
@pytest.mark.parametrize("version", ["v2", "v4"])
def test_object_urls_match_the_verifier(key, version):
    url = Presigner(CREDS, "us-east-1", "http://127.0.0.1:9000", signature_version=version).presign(
        "GET", "bkt", key, response_overrides={"content-type": "text/plain"}).url
    u = parse_signed_url(url)
    elements = _verifier_strings(url)
    assert string_to_sign(u, "GET", {}) == elements["StringToSign"]
    if version == "v4":
        assert canonical_request(u, "GET", {}) == elements["CanonicalRequest"]
