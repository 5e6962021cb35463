"""The real `s3presign serve` for the generator's tests: plain HTTP and HTTPS."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from tests.server.helpers import Endpoint, start_server


@pytest.fixture(scope="session")
def http_endpoint(tmp_path_factory) -> Iterator[Endpoint]:
    server = start_server(tmp_path_factory.mktemp("gen-http") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def https_endpoint(tmp_path_factory) -> Iterator[Endpoint]:
    server = start_server(tmp_path_factory.mktemp("gen-tls") / "data", "--tls-self-signed")
    yield server
    server.stop()


def new_bucket(endpoint: Endpoint) -> str:
    name = f"g-{uuid.uuid4().hex[:16]}"
    endpoint.client().create_bucket(Bucket=name)
    return name
