"""Fast tests of the handlers over the in-memory implementation of the storage
contract: the real ASGI application, spoken to over ASGI by httpx (no socket,
no disk for objects), requests signed by botocore."""

from __future__ import annotations

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from defusedxml import ElementTree

from s3presign.core.credentials import Credentials
from s3presign.server.app import S3App
from s3presign.server.config import ServerConfig
from s3presign.server.encryption import Encryption
from s3presign.server.storage import memory_storage

from .helpers import run_async

ACCESS, SECRET = "AKIDMEMORY000000", "memory-secret"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def app(tmp_path):
    config = ServerConfig(data_dir=tmp_path, users={ACCESS: Credentials(ACCESS, SECRET)}, access_log=None)
    encryption = Encryption(tmp_path)
    return S3App(config, storage=memory_storage(encryption.record_key()), encryption=encryption)


def call(app, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> httpx.Response:
    url = f"http://s3.local{path}"
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(BotoCredentials(ACCESS, SECRET), "s3", "us-east-1").add_auth(request)

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s3.local") as client:
            return await client.request(method, url, content=body,
                                        headers={k: v.encode("latin-1") for k, v in request.headers.items()})

    return run_async(send())


def test_put_get_list_in_memory(app):
    assert call(app, "PUT", "/mem").status_code == 200
    for key in ("b", "a/1", "a/2"):
        assert call(app, "PUT", f"/mem/{key}", body=key.encode() * 10).status_code == 200
    assert call(app, "GET", "/mem/a/1").content == b"a/1" * 10
    listed = ElementTree.fromstring(call(app, "GET", "/mem?list-type=2&delimiter=%2F").content)
    assert [e.text for e in listed.iter(f"{NS}Key")] == ["b"]
    assert [e.text for e in listed.iter(f"{NS}Prefix") if e.text] == ["a/"]
    # the storage holds ciphertext only
    blobs = app.state.storage.blobs.blobs
    assert blobs and all(b"a/1a/1" not in data for data in blobs.values())


def test_versioning_in_memory(app):
    call(app, "PUT", "/mem")
    body = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    assert call(app, "PUT", "/mem?versioning", body=body).status_code == 200
    first = call(app, "PUT", "/mem/k", body=b"one").headers["x-amz-version-id"]
    call(app, "PUT", "/mem/k", body=b"two")
    gone = call(app, "DELETE", "/mem/k")
    assert gone.status_code == 204 and gone.headers["x-amz-delete-marker"] == "true"
    missing = call(app, "GET", "/mem/k")
    assert missing.status_code == 404 and missing.headers["x-amz-delete-marker"] == "true"
    assert call(app, "GET", f"/mem/k?versionId={first}").content == b"one"
    versions = ElementTree.fromstring(call(app, "GET", "/mem?versions").content)
    assert len(versions.findall(f"{NS}Version")) == 2 and len(versions.findall(f"{NS}DeleteMarker")) == 1


@pytest.mark.parametrize("query, code", [
    ("partNumber=%C2%B2&uploadId=x", "InvalidArgument"),
    ("partNumber=" + "9" * 5000 + "&uploadId=x", "InvalidArgument"),
])
def test_strict_numbers(app, query, code):
    call(app, "PUT", "/mem")
    resp = call(app, "PUT", f"/mem/k?{query}", body=b"x")
    assert resp.status_code == 400 and ElementTree.fromstring(resp.content).findtext("Code") == code


@pytest.mark.parametrize("query", ["max-keys=%C2%B2", "max-keys=" + "1" * 5000])
def test_strict_max_keys(app, query):
    call(app, "PUT", "/mem")
    resp = call(app, "GET", f"/mem?list-type=2&{query}")
    assert resp.status_code == 400 and ElementTree.fromstring(resp.content).findtext("Code") == "InvalidArgument"


@pytest.mark.parametrize("header", ["bytes=%s-" % ("9" * 5000), "bytes=0-" + "9" * 5000, "bytes=-" + "9" * 5000,
                                    "bytes=\u00b2-3"])
def test_strict_ranges(app, header):
    call(app, "PUT", "/mem")
    call(app, "PUT", "/mem/k", body=b"0123456789")
    resp = call(app, "GET", "/mem/k", headers={"Range": header.encode("utf-8").decode("latin-1")})
    assert resp.status_code in (200, 206, 416), resp.content
