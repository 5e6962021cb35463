"""AWS's published signature examples, reproduced exactly."""

import base64
import datetime as dt

from s3presign import Credentials, Presigner
from s3presign.core import policy, sigv2

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# The SigV4 POST example's policy, exactly as AWS publishes it (CRLF line endings).
POST_POLICY_B64 = (
    "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7"
    "ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91"
    "c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3Qi"
    "OiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwi"
    "fSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRh"
    "LXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVT"
    "MjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNy"
    "ZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9"
    "LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAi"
    "MjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"
)


def test_sigv4_presigned_get_example():
    presigner = Presigner(Credentials(AKID, SECRET), "us-east-1")
    request = presigner.presign(
        "GET",
        "examplebucket",
        "test.txt",
        expires_in=86400,
        now=dt.datetime(2013, 5, 24, tzinfo=dt.timezone.utc),
    )
    assert request.url == (
        "https://examplebucket.s3.amazonaws.com/test.txt"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    assert request.headers == {}


def test_sigv2_query_string_example():
    presigner = Presigner(Credentials(AKID, SECRET), "us-east-1", signature_version="v2")
    request = presigner.presign("GET", "johnsmith", "photos/puppy.jpg", expires_in=1175139620 - 1175135620, now=1175135620)
    assert request.url == (
        "https://johnsmith.s3.amazonaws.com/photos/puppy.jpg"
        "?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620"
    )
    # The same string to sign, built from its parts.
    text = sigv2.string_to_sign("GET", "", "", "1175139620", {}, "/johnsmith/photos/puppy.jpg")
    assert sigv2.sign(SECRET, text) == "NpgCjnDzrM+WFzoENXmpNDUsSn8="


def test_sigv4_post_policy_example():
    document = base64.b64decode(POST_POLICY_B64)
    assert b"\r\n" in document  # the published policy uses CRLF line endings
    signature = policy.sign_policy_v4(POST_POLICY_B64, SECRET, "20151229", "us-east-1")
    assert signature == "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"


def test_post_policy_example_verifies_as_a_form():
    """The published example form, checked by the server-side evaluator."""
    from s3presign.core.verify import verify_post_form

    form = {
        "key": "user/user1/photo.jpg",
        "acl": "public-read",
        "success_action_redirect": "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
        "content-type": "image/jpeg",
        "x-amz-meta-uuid": "14365123651274",
        "x-amz-server-side-encryption": "AES256",
        "x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request",
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-date": "20151229T000000Z",
        "x-amz-meta-tag": "",
        "policy": POST_POLICY_B64,
        "x-amz-signature": "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e",
    }
    now = dt.datetime(2015, 12, 29, 12, tzinfo=dt.timezone.utc).timestamp()
    auth, _doc, _range = verify_post_form(
        form, bucket="sigv4examplebucket", lookup=lambda k: Credentials(AKID, SECRET) if k == AKID else None,
        region="us-east-1", now=now,
    )
    assert auth.access_key == AKID and auth.signature_version == "v4"
