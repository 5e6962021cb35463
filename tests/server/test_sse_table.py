"""The seed's SSE x signature-version table, proven end to end over TLS, and S3's
SSE rules answered exactly as S3 answers them.

URLs come from our presigner; boto3 and minio-py repeat the operations with
their own signing. Invalid cells are forced past the library by signing them
by hand with the core's SigV2 functions.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from botocore.exceptions import ClientError

from s3presign import SSE, PresignError
from s3presign.core import sigv2
from s3presign.core.canonical import encode_key, encode_value

from .helpers import MAIN, Endpoint, client_error, error_of

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
CELLS = {
    "none": None,
    "s3": SSE.s3(),
    "kms": SSE.kms(),
    "dsse": SSE.dsse(),
    "c": SSE.customer(),
    "c-key": SSE.customer(KEY_A),
}
STORED_AS = {"none": "AES256", "s3": "AES256", "kms": "aws:kms", "dsse": "aws:kms:dsse"}
KMS_MESSAGE = "Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4."


def key_headers(key: bytes) -> dict[str, str]:
    return {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


@pytest.fixture(scope="module")
def tls(tls_endpoint: Endpoint) -> tuple[Endpoint, httpx.Client, str]:
    bucket = f"sse-{uuid.uuid4().hex[:12]}"
    tls_endpoint.client().create_bucket(Bucket=bucket)
    with httpx.Client(verify=ssl.create_default_context(cafile=tls_endpoint.ca), timeout=30) as http:
        yield tls_endpoint, http, bucket


def send(http: httpx.Client, request, body: bytes | None = None, key: bytes = KEY_A) -> httpx.Response:
    headers = request.headers_with_key(key) if request.required_headers else dict(request.headers)
    return http.request(request.method, request.url, content=body, headers=headers)


def forced_v2_url(endpoint: Endpoint, method: str, bucket: str, key: str, headers: dict[str, str]) -> str:
    """A SigV2 URL the library refuses to make, signed by hand."""
    expires = str(int(time.time()) + 600)
    path = f"/{bucket}/{encode_key(key)}"
    text = sigv2.string_to_sign(method, "", "", expires, headers, path)
    signature = encode_value(sigv2.sign(MAIN[1], text))
    return f"{endpoint.url}{path}?AWSAccessKeyId={MAIN[0]}&Signature={signature}&Expires={expires}"


@pytest.mark.parametrize("sig", ["v4", "v2"])
@pytest.mark.parametrize("mode", list(CELLS))
def test_every_cell_of_the_table(tls, sig, mode):
    endpoint, http, bucket = tls
    sse = CELLS[mode]
    presigner = endpoint.presigner(sig)
    key = f"cell/{mode}/{sig}/é ü+~"
    body = os.urandom(150_000)
    allowed = sse is None or sse.rule.sigv2 or sig == "v4"
    if not allowed:
        with pytest.raises(PresignError, match="Signature Version 4"):
            presigner.presign("PUT", bucket, key, sse=sse)
        with pytest.raises(PresignError, match="Signature Version 4"):
            presigner.presign("GET", bucket, key, sse=sse)
        return
    put = presigner.presign("PUT", bucket, key, sse=sse)
    response = send(http, put, body)
    assert response.status_code == 200, response.text
    get = presigner.presign("GET", bucket, key, sse=sse)
    head = presigner.presign("HEAD", bucket, key, sse=sse)
    got, headed = send(http, get), send(http, head)
    assert got.status_code == 200 and got.content == body
    assert headed.status_code == 200 and int(headed.headers["content-length"]) == len(body)
    for response in (got, headed):
        if sse is not None and sse.is_customer:
            assert response.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
            assert response.headers["x-amz-server-side-encryption-customer-key-md5"] == key_headers(KEY_A)[
                "x-amz-server-side-encryption-customer-key-md5"
            ]
            assert "x-amz-server-side-encryption" not in response.headers
        else:
            assert response.headers["x-amz-server-side-encryption"] == STORED_AS[mode]
        if mode in ("kms", "dsse"):
            assert response.headers["x-amz-server-side-encryption-aws-kms-key-id"].startswith("arn:aws:kms:us-east-1:")
    if sse is not None and sse.is_customer:
        assert error_of(http.get(presigner.presign("GET", bucket, key).url))["Code"] == "InvalidRequest"
        wrong = send(http, presigner.presign("GET", bucket, key, sse=SSE.customer()), key=KEY_B)
        assert (wrong.status_code, error_of(wrong)["Code"]) == (403, "AccessDenied")


@pytest.mark.parametrize("mode", ["kms", "dsse"])
def test_forced_sigv2_kms_is_refused_by_the_server(tls, mode):
    endpoint, http, bucket = tls
    value = STORED_AS[mode]
    url = forced_v2_url(endpoint, "PUT", bucket, f"forced/{mode}", {"x-amz-server-side-encryption": value})
    response = http.put(url, content=b"data", headers={"x-amz-server-side-encryption": value})
    err = error_of(response)
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidArgument", KMS_MESSAGE)
    assert err["ArgumentName"] == "Authorization"
    # a KMS object, written under SigV4, cannot be read under SigV2 either
    assert send(http, endpoint.presigner().presign("PUT", bucket, f"kms-obj/{mode}", sse=CELLS[mode]), b"x").status_code == 200
    read = http.get(forced_v2_url(endpoint, "GET", bucket, f"kms-obj/{mode}", {}))
    err = error_of(read)
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidArgument", KMS_MESSAGE)


def test_sigv2_cannot_bind_an_sse_c_key(tls):
    """Why the library refuses SigV2 + fixed key: the signature covers no key header,
    so a URL 'signed for key A' works with key B too."""
    endpoint, http, bucket = tls
    headers_a = key_headers(KEY_A)
    url = forced_v2_url(endpoint, "PUT", bucket, "v2-fixed", headers_a)
    assert http.put(url, content=b"x", headers=key_headers(KEY_B)).status_code == 200


def test_fixed_key_url_works_only_with_that_key(tls):
    endpoint, http, bucket = tls
    put = endpoint.presigner().presign("PUT", bucket, "fixed", sse=SSE.customer(KEY_A))
    other = dict(put.headers) | key_headers(KEY_B)
    response = http.put(put.url, content=b"x", headers=other)
    assert (response.status_code, error_of(response)["Code"]) == (403, "SignatureDoesNotMatch")
    assert send(http, put, b"x").status_code == 200


def test_boto3_and_minio_with_their_own_signing(tls):
    endpoint, http, bucket = tls
    body = os.urandom(20_000)
    v4, v2 = endpoint.client("s3v4"), endpoint.client("s3")
    cases = [
        (v4, {"ServerSideEncryption": "AES256"}, "AES256"),
        (v4, {"ServerSideEncryption": "aws:kms"}, "aws:kms"),
        (v4, {"ServerSideEncryption": "aws:kms:dsse"}, "aws:kms:dsse"),
        (v2, {"ServerSideEncryption": "AES256"}, "AES256"),
    ]
    for n, (client, params, stored) in enumerate(cases):
        client.put_object(Bucket=bucket, Key=f"boto/{n}", Body=body, **params)
        got = client.get_object(Bucket=bucket, Key=f"boto/{n}")
        assert got["ServerSideEncryption"] == stored and got["Body"].read() == body
    for n, client in enumerate((v4, v2)):
        ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY_A}
        client.put_object(Bucket=bucket, Key=f"boto/c{n}", Body=body, **ssec)
        assert client.get_object(Bucket=bucket, Key=f"boto/c{n}", **ssec)["Body"].read() == body
        assert client.head_object(Bucket=bucket, Key=f"boto/c{n}", **ssec)["SSECustomerAlgorithm"] == "AES256"
    with pytest.raises(ClientError) as info:
        v2.put_object(Bucket=bucket, Key="boto/v2kms", Body=body, ServerSideEncryption="aws:kms")
    assert client_error(info.value)["Code"] == "InvalidArgument"

    from minio import Minio
    from minio.sse import SseCustomerKey, SseKMS, SseS3
    import io
    import urllib3

    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=endpoint.ca)
    minio = Minio(endpoint.url.split("://")[1], access_key=MAIN[0], secret_key=MAIN[1], secure=True,
                  region="us-east-1", http_client=pool)
    ssec = SseCustomerKey(KEY_A)
    for n, sse in enumerate([SseS3(), SseKMS("alias/aws/s3", {"app": "test"}), ssec]):
        minio.put_object(bucket, f"minio/{n}", io.BytesIO(body), len(body), sse=sse)
        response = minio.get_object(bucket, f"minio/{n}", ssec=ssec if sse is ssec else None)
        try:
            assert response.read() == body
        finally:
            response.close()
            response.release_conn()


# --- S3's SSE rules, each with S3's status, code and message ----------------------------


def test_sse_c_rules(tls):
    endpoint, http, bucket = tls
    url = endpoint.presigner().presign("PUT", bucket, "rules", sse=SSE.customer()).url
    good = key_headers(KEY_A)
    cases = [
        ({**good, "x-amz-server-side-encryption-customer-key-md5": key_headers(KEY_B)["x-amz-server-side-encryption-customer-key-md5"]},
         400, "InvalidArgument", "The calculated MD5 hash of the key did not match the hash that was provided."),
        ({**good, "x-amz-server-side-encryption-customer-key": base64.b64encode(b"short").decode(),
          "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(hashlib.md5(b"short").digest()).decode()},
         400, "InvalidArgument", "The secret key was invalid for the specified algorithm."),
        ({"x-amz-server-side-encryption-customer-algorithm": "AES256"},
         400, "InvalidArgument", "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key."),
    ]
    for headers, status, code, message in cases:
        err = error_of(http.put(url, content=b"x", headers=headers))
        assert (err["status"], err["Code"], err["Message"]) == (status, code, message)
    # the algorithm is signed in this URL, so send another one through a URL that does not sign it
    raw = endpoint.presigner().presign("PUT", bucket, "rules2")
    err = error_of(http.put(raw.url, content=b"x", headers={**good, "x-amz-server-side-encryption-customer-algorithm": "AES128"}))
    assert (err["status"], err["Code"]) == (403, "AccessDenied")  # unsigned x-amz-* header first
    v4 = endpoint.client()
    with pytest.raises(ClientError) as info:
        v4.put_object(Bucket=bucket, Key="rules3", Body=b"x", SSECustomerAlgorithm="AES128", SSECustomerKey=KEY_A)
    err = client_error(info.value)
    assert (err["status"], err["Code"]) == (400, "InvalidEncryptionAlgorithmError")
    assert err["Message"] == "The Encryption request you specified is not valid. Supported value: AES256."
    with pytest.raises(ClientError) as info:
        v4.put_object(Bucket=bucket, Key="rules4", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY_A,
                      ServerSideEncryption="AES256")
    err = client_error(info.value)
    assert (err["status"], err["Code"]) == (400, "InvalidArgument")
    assert err["Message"] == "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"


def test_sse_header_rules(tls):
    endpoint, http, bucket = tls
    v4 = endpoint.client()
    put = endpoint.presigner().presign("PUT", bucket, "bogus", headers={})
    signed_bogus = endpoint.signed("PUT", f"/{bucket}/bogus", body=b"x", headers={"x-amz-server-side-encryption": "rot13"})
    err = error_of(signed_bogus)
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidArgument", "The encryption method specified is not supported")
    assert put.url
    v4.put_object(Bucket=bucket, Key="plain", Body=b"abc")
    on_get = endpoint.signed("GET", f"/{bucket}/plain", headers={"x-amz-server-side-encryption": "AES256"})
    assert (on_get.status_code, error_of(on_get)["Code"]) == (400, "InvalidArgument")
    with_ssec = endpoint.signed("GET", f"/{bucket}/plain", headers=key_headers(KEY_A))
    assert on_get.status_code == 400 and error_of(with_ssec)["Code"] in ("InvalidRequest", "InvalidArgument")
    with pytest.raises(ClientError) as info:
        v4.put_object(Bucket=bucket, Key="nokey", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="no-such-key")
    err = client_error(info.value)
    assert (err["status"], err["Code"]) == (400, "KMS.NotFoundException")


def test_etags_follow_s3(tls):
    endpoint, http, bucket = tls
    v4 = endpoint.client()
    body = b"etag body"
    md5 = hashlib.md5(body).hexdigest()
    v4.put_object(Bucket=bucket, Key="e-s3", Body=body, ServerSideEncryption="AES256")
    assert v4.head_object(Bucket=bucket, Key="e-s3")["ETag"] == f'"{md5}"'
    for n, params in enumerate([{"ServerSideEncryption": "aws:kms"}, {"ServerSideEncryption": "aws:kms:dsse"},
                                {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY_A}]):
        etag = v4.put_object(Bucket=bucket, Key=f"e-{n}", Body=body, **params)["ETag"]
        assert etag.strip('"') != md5 and len(etag.strip('"')) == 32


def test_disabled_kms_key(tls):
    endpoint, http, bucket = tls
    def kms(*args):
        out = subprocess.run([sys.executable, "-m", "s3presign", "kms", *args, "--data-dir", str(endpoint.data_dir)],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout
    alias = f"alias/t{uuid.uuid4().hex[:8]}"
    kms("create-key", "--alias", alias[6:])
    v4 = endpoint.client()
    v4.put_object(Bucket=bucket, Key="dis", Body=b"secret", ServerSideEncryption="aws:kms", SSEKMSKeyId=alias)
    kms("disable-key", alias)
    for call in (lambda: v4.get_object(Bucket=bucket, Key="dis"),
                 lambda: v4.put_object(Bucket=bucket, Key="dis2", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=alias)):
        with pytest.raises(ClientError) as info:
            call()
        err = client_error(info.value)
        assert (err["status"], err["Code"]) == (400, "KMS.DisabledException")
        assert err["Message"].endswith(" is disabled.")
    kms("enable-key", alias)
    assert v4.get_object(Bucket=bucket, Key="dis")["Body"].read() == b"secret"


def test_ssec_requires_https(strict_endpoint):
    client = strict_endpoint.client()
    name = f"plain-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": strict_endpoint.region})
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=name, Key="k", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY_A)
    err = client_error(info.value)
    assert (err["status"], err["Code"]) == (400, "InvalidRequest")
    assert err["Message"] == "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."


# --- at rest -------------------------------------------------------------------------------


def test_marker_and_keys_are_nowhere_on_disk(tls):
    endpoint, http, bucket = tls
    marker = os.urandom(24).hex().encode() * 100
    presigner = endpoint.presigner()
    for mode, sse in CELLS.items():
        assert send(http, presigner.presign("PUT", bucket, f"marker/{mode}", sse=sse), marker).status_code == 200
        assert send(http, presigner.presign("GET", bucket, f"marker/{mode}", sse=sse)).content == marker
    probes = [marker[:48], KEY_A, base64.b64encode(KEY_A), KEY_A.hex().encode(), KEY_A.hex().upper().encode()]
    scanned = 0
    for path in endpoint.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            scanned += len(data)
            for probe in probes:
                assert probe not in data, (path, probe[:8])
    log = endpoint.log.read_bytes()
    assert all(probe not in log for probe in probes[1:])
    assert scanned > 6 * len(marker)


def _blob_files(endpoint: Endpoint) -> set:
    return {p for p in (endpoint.data_dir / "blobs").rglob("*") if p.is_file() and p.parent.name != "tmp"}


def _stored_file(endpoint: Endpoint, bucket: str, before: set) -> "os.PathLike":
    (new,) = _blob_files(endpoint) - before
    return new


@pytest.mark.parametrize("mode", ["s3", "kms", "c-key"])
def test_flipped_byte_and_moved_sealed_key_are_errors(tls, mode):
    endpoint, http, bucket = tls
    presigner = endpoint.presigner()
    sse = CELLS[mode]
    before = _blob_files(endpoint)
    send(http, presigner.presign("PUT", bucket, f"tamper/{mode}/a", sse=sse), b"A" * 5000)
    file_a = _stored_file(endpoint, bucket, before)
    before = _blob_files(endpoint)
    send(http, presigner.presign("PUT", bucket, f"tamper/{mode}/b", sse=sse), b"B" * 5000)
    file_b = _stored_file(endpoint, bucket, before)
    # A's stored bytes (and sealed key) moved onto B: never returned as B's data
    file_b.write_bytes(file_a.read_bytes())
    moved = send(http, presigner.presign("GET", bucket, f"tamper/{mode}/b", sse=sse))
    assert moved.status_code >= 400 and b"AAAA" not in moved.content
    # one flipped bit in A
    data = bytearray(file_a.read_bytes())
    data[len(data) // 2] ^= 0x04
    file_a.write_bytes(bytes(data))
    flipped = send(http, presigner.presign("GET", bucket, f"tamper/{mode}/a", sse=sse))
    assert flipped.status_code >= 400 and b"AAAA" not in flipped.content
