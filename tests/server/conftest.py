"""Fixtures: the real server as a subprocess, shared per session, and fresh buckets."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from .helpers import Endpoint, start_server


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory) -> Iterator[Endpoint]:
    """The shared server: us-east-1, virtual-hosted on s3.test, SSE-C allowed over HTTP."""
    server = start_server(tmp_path_factory.mktemp("srv") / "data", "--domain", "s3.test", "--allow-insecure-ssec")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def strict_endpoint(tmp_path_factory) -> Iterator[Endpoint]:
    """A second server in eu-central-1 with the defaults (SSE-C needs HTTPS)."""
    server = start_server(tmp_path_factory.mktemp("strict") / "data", region="eu-central-1")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_endpoint(tmp_path_factory) -> Iterator[Endpoint]:
    """HTTPS with a self-signed certificate (its CA in ``.ca``): SSE-C as S3 requires it."""
    server = start_server(tmp_path_factory.mktemp("tls") / "data", "--tls-self-signed")
    yield server
    server.stop()


@pytest.fixture
def bucket(endpoint: Endpoint) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    endpoint.client().create_bucket(Bucket=name)
    return name
