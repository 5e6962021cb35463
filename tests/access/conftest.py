"""A real server for the access tests that need one (checksums end to end)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from server.helpers import start_server  # noqa: E402


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("access-tls") / "data", "--tls-self-signed")
    yield server
    server.stop()
