"""S3's SSE header rules: each case and the exact S3 error it gets."""

import base64
import hashlib
import json
import os

import pytest

from s3presign.server import sse
from s3presign.server.sse import SseRequest

from .helpers import refused

KEY = os.urandom(32)


def ssec(secret=KEY, prefix="x-amz-server-side-encryption-customer-", **over):
    headers = {
        prefix + "algorithm": "AES256",
        prefix + "key": base64.b64encode(secret).decode(),
        prefix + "key-MD5": base64.b64encode(hashlib.md5(secret).digest()).decode(),
    }
    headers.update({prefix + k.replace("_", "-"): v for k, v in over.items()})
    return {k: v for k, v in headers.items() if v is not None}


def write(headers, secure=True, allow=False, sv="v4"):
    return sse.parse_write_sse(headers, secure=secure, allow_insecure_ssec=allow, signature_version=sv)


def read(headers, secure=True, allow=False, sv="v4"):
    return sse.parse_read_sse(headers, secure=secure, allow_insecure_ssec=allow, signature_version=sv)


def ctx(value):
    return base64.b64encode(json.dumps(value).encode()).decode()


def test_no_headers_means_no_choice():
    assert write({}) == SseRequest()
    assert read({}) is None


@pytest.mark.parametrize("mode", ["AES256", "aws:kms", "aws:kms:dsse"])
def test_valid_modes(mode):
    assert write({"X-Amz-Server-Side-Encryption": mode}).mode == mode


def test_kms_fields():
    request = write({
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "alias/reports",
        "x-amz-server-side-encryption-context": ctx({"project": "x"}),
        "x-amz-server-side-encryption-bucket-key-enabled": "true",
    })
    assert (request.kms_key_id, request.context, request.bucket_key_enabled) == ("alias/reports", {"project": "x"}, True)


@pytest.mark.parametrize("mode", ["aws:kms", "aws:kms:dsse"])
def test_kms_under_sigv2_is_refused(mode):
    error = refused("KmsRequiresSigV4", write, {"x-amz-server-side-encryption": mode}, sv="v2")
    assert (error.status, error.code) == (400, "InvalidArgument")
    assert error.elements == {"ArgumentName": "Authorization", "ArgumentValue": "null"}


def test_sse_s3_under_sigv2_is_fine():
    assert write({"x-amz-server-side-encryption": "AES256"}, sv="v2").mode == "AES256"


def test_ssec_parsed_and_echoed():
    request = write(ssec())
    assert request.mode == sse.SSE_C and request.customer_key.key == KEY
    assert KEY.hex() not in repr(request) and base64.b64encode(KEY).decode() not in repr(request)
    assert request.customer_key.headers()["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    assert read(ssec()).key == KEY


def test_ssec_over_plain_http():
    error = refused("SseCRequiresHttps", write, ssec(), secure=False)
    assert (error.status, error.code) == (400, "InvalidRequest")
    refused("SseCRequiresHttps", read, ssec(), secure=False)
    assert write(ssec(), secure=False, allow=True).customer_key.key == KEY


@pytest.mark.parametrize(
    "over,name,code",
    [
        ({"key_MD5": base64.b64encode(b"0" * 16).decode()}, "SseCKeyMd5Mismatch", "InvalidArgument"),
        ({"key": base64.b64encode(b"k" * 16).decode(), "key_MD5": base64.b64encode(hashlib.md5(b"k" * 16).digest()).decode()},
         "SseCKeyInvalid", "InvalidArgument"),
        ({"key": "not base64!!"}, "SseCKeyInvalid", "InvalidArgument"),
        ({"key": None, "key_MD5": None}, "SseCKeyMissing", "InvalidArgument"),
        ({"algorithm": None}, "SseCAlgorithmMissing", "InvalidArgument"),
        ({"key_MD5": None}, "SseCKeyMd5Missing", "InvalidArgument"),
        ({"algorithm": "AES128"}, "SseCBadAlgorithm", "InvalidEncryptionAlgorithmError"),
    ],
)
def test_ssec_key_rules(over, name, code):
    for fn in (write, read):
        error = refused(name, fn, ssec(**over))
        assert (error.status, error.code) == (400, code)


def test_ssec_with_sse_header():
    refused("SseCWithSse", write, {**ssec(), "x-amz-server-side-encryption": "AES256"})


def test_unknown_sse_value():
    error = refused("UnknownSse", write, {"x-amz-server-side-encryption": "AES512"})
    assert (error.status, error.code) == (400, "InvalidArgument")


def test_sse_header_on_a_read():
    error = refused("SseOnRead", read, {"x-amz-server-side-encryption": "AES256"})
    assert (error.status, error.code) == (400, "InvalidArgument")


def test_kms_key_without_kms():
    refused("KmsKeyWithoutKms", write, {"x-amz-server-side-encryption": "AES256",
                                        "x-amz-server-side-encryption-aws-kms-key-id": "alias/x"})
    refused("KmsKeyWithoutKms", write, {"x-amz-server-side-encryption-context": ctx({})})


@pytest.mark.parametrize("value", ["%%%", base64.b64encode(b"[1]").decode(), ctx({"a": 1}),
                                   base64.b64encode(b"\xff\xfe").decode(), ctx("text")])
def test_bad_encryption_context(value):
    refused("InvalidEncryptionContext", write, {"x-amz-server-side-encryption": "aws:kms",
                                                "x-amz-server-side-encryption-context": value})


def test_copy_source_key():
    headers = ssec(prefix="x-amz-copy-source-server-side-encryption-customer-")
    assert sse.parse_copy_source_sse(headers, secure=True, allow_insecure_ssec=False).key == KEY
    assert sse.parse_copy_source_sse(ssec(), secure=True, allow_insecure_ssec=False) is None
    refused("SseCRequiresHttps", sse.parse_copy_source_sse, headers, secure=False, allow_insecure_ssec=False)


NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def config_xml(default, extra=""):
    return (f"<ServerSideEncryptionConfiguration {NS}><Rule><ApplyServerSideEncryptionByDefault>"
            f"{default}</ApplyServerSideEncryptionByDefault>{extra}</Rule></ServerSideEncryptionConfiguration>").encode()


def test_bucket_encryption_round_trip():
    body = config_xml("<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>alias/a&amp;b</KMSMasterKeyID>",
                      "<BucketKeyEnabled>true</BucketKeyEnabled>")
    config = sse.parse_bucket_encryption_xml(body)
    assert config == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/a&b", "BucketKeyEnabled": True}
    assert sse.parse_bucket_encryption_xml(sse.render_bucket_encryption_xml(config)) == config
    request = SseRequest.from_bucket_default(config)
    assert (request.mode, request.kms_key_id, request.bucket_key_enabled) == ("aws:kms", "alias/a&b", True)


@pytest.mark.parametrize("body,name", [
    (b"", "MissingRequestBody"),
    (b"<not xml", "MalformedXML"),
    (config_xml("<SSEAlgorithm>AES512</SSEAlgorithm>"), "MalformedXML"),
    (b"<ServerSideEncryptionConfiguration/>", "MalformedXML"),
    (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "MalformedXML"),
    (config_xml("<SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID>"), "KmsKeyIdNotApplicable"),
])
def test_bad_bucket_encryption(body, name):
    refused(name, sse.parse_bucket_encryption_xml, body)
