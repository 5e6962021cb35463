"""Driving uploads and downloads through pre-signed requests with plain httpx,
in every SSE mode, as a browser or a CLI without an SDK would."""

from __future__ import annotations

import os
import ssl
import uuid
from functools import lru_cache

import httpx
from defusedxml import ElementTree

from s3presign import SSE
from s3presign.core.presign import PresignedRequest

from .helpers import Endpoint

MiB = 1024 * 1024
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
CUSTOMER_KEY = bytes(range(1, 33))
# name -> (SSE for the presigner, the key whoever uses the URL supplies, needs TLS)
SSE_MODES = {
    "none": (None, None, False),
    "s3": (SSE.s3(), None, False),
    "kms": (SSE.kms(), None, False),
    "dsse": (SSE.dsse(), None, False),
    "c": (SSE.customer(), CUSTOMER_KEY, True),
    "c-key": (SSE.customer(CUSTOMER_KEY), None, True),
}
# What HEAD says about an object written in each mode.
STORED_AS = {"none": "AES256", "s3": "AES256", "kms": "aws:kms", "dsse": "aws:kms:dsse", "c": None, "c-key": None}


@lru_cache(maxsize=4)
def payload(size: int) -> bytes:
    return os.urandom(size)


def http(endpoint: Endpoint) -> httpx.Client:
    verify = ssl.create_default_context(cafile=endpoint.ca) if endpoint.ca else True
    return httpx.Client(verify=verify, timeout=120)


def new_bucket(endpoint: Endpoint) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    where = {} if endpoint.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": endpoint.region}}
    endpoint.client().create_bucket(Bucket=name, **where)
    return name


def headers_for(request: PresignedRequest, customer_key: bytes | None) -> dict[str, str]:
    """Exactly what the pre-signed request says to send (plus the SSE-C key if asked)."""
    if request.required_headers:
        assert customer_key is not None
        return request.headers_with_key(customer_key)
    return dict(request.headers)


def xml_text(body: bytes, name: str) -> str:
    node = ElementTree.fromstring(body).find(NS + name)
    assert node is not None, body
    return node.text or ""


def complete_body(parts: list[tuple[int, str]]) -> bytes:
    items = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in parts)
    return f"<CompleteMultipartUpload>{items}</CompleteMultipartUpload>".encode()


def presigned_multipart(endpoint: Endpoint, bucket: str, key: str, data: bytes, sse: SSE | None,
                        customer_key: bytes | None = None, *, part_size: int = 8 * MiB,
                        sig: str = "v4") -> httpx.Response:
    """Create, upload every part and complete, each through its pre-signed request;
    returns the completion's response."""
    plan = endpoint.presigner(sig).presign_multipart(bucket, key, size=len(data), part_size=part_size, sse=sse)
    with http(endpoint) as client:
        created = client.post(plan.create.url, headers=headers_for(plan.create, customer_key))
        assert created.status_code == 200, created.text
        plan = plan.for_upload(xml_text(created.content, "UploadId"))
        etags = []
        for part in plan.parts:
            sent = client.put(part.request.url, headers=headers_for(part.request, customer_key),
                              content=data[part.offset:part.offset + part.size])
            assert sent.status_code == 200, sent.text
            etags.append((part.part_number, sent.headers["etag"]))
        return client.post(plan.complete.url, headers=headers_for(plan.complete, customer_key),
                           content=complete_body(etags))


def presigned_get(endpoint: Endpoint, bucket: str, key: str, sse: SSE | None = None,
                  customer_key: bytes | None = None, *, sig: str = "v4", query: dict | None = None,
                  method: str = "GET") -> httpx.Response:
    request = endpoint.presigner(sig).presign(method, bucket, key, sse=sse, query=query)
    with http(endpoint) as client:
        return client.request(method, request.url, headers=headers_for(request, customer_key))
