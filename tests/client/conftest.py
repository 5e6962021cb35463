"""Fixtures: the real `s3presign serve` over HTTPS (self-signed CA), and the CLI
run as a user runs it, as a subprocess with that endpoint's credentials."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from s3presign.core.presign import PresignedRequest
from tests.server.conftest import tls_endpoint  # noqa: F401  (the HTTPS server, us-east-1, users MAIN, TOKEN_USER)
from tests.server.helpers import MAIN, Endpoint


@dataclass
class Cli:
    """`python -m s3presign ...` against one endpoint, from a clean environment."""

    endpoint: Endpoint
    env: dict[str, str]
    cwd: Path

    def run(self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "s3presign", *map(str, args)], capture_output=True,
                              env={**self.env, **(env or {})}, cwd=self.cwd, input=input, timeout=timeout)

    def popen(self, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "s3presign", *map(str, args)], env=self.env, cwd=self.cwd,
                                **kwargs)

    def url(self, method: str, bucket: str, key: str, *args: str) -> str:
        """`s3presign url ...` for this endpoint: the URL."""
        out = self.run("url", method, f"s3://{bucket}/{key}", *args)
        assert out.returncode == 0, out.stderr
        return out.stdout.decode().strip()

    def presign(self, method: str, bucket: str, key: str, *, version: str = "v4", **kwargs) -> PresignedRequest:
        """The library's pre-signed request (what `s3presign url` prints), made in-process for speed."""
        return self.endpoint.presigner(version).presign(method, bucket, key, **kwargs)

    def presign_json(self, method: str, bucket: str, key: str, **kwargs) -> Path:
        """A file in the format of `s3presign url ... --output json`."""
        path = self.cwd.parent / f"{method.lower()}-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(self.presign(method, bucket, key, **kwargs).to_dict()))
        return path


@pytest.fixture
def cli(tls_endpoint: Endpoint, tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and "proxy" not in k.lower()}
    env.update(
        HOME=str(home), AWS_ACCESS_KEY_ID=MAIN[0], AWS_SECRET_ACCESS_KEY=MAIN[1], AWS_REGION=tls_endpoint.region,
        AWS_ENDPOINT_URL=tls_endpoint.url, AWS_CA_BUNDLE=str(tls_endpoint.ca), PYTHONUNBUFFERED="1",
    )
    work = tmp_path / "work"
    work.mkdir()
    return Cli(tls_endpoint, env, work)


@pytest.fixture
def bucket(tls_endpoint: Endpoint) -> str:
    name = f"c-{uuid.uuid4().hex[:16]}"
    tls_endpoint.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "sse-c.key"
    path.write_bytes(os.urandom(32))
    return path


class CuttingProxy:
    """A TCP proxy to the endpoint whose first connection is cut after ``limit``
    bytes in one direction ("up": client to server, "down": server to client):
    a real network failure, for the retry paths."""

    def __init__(self, target_port: int, limit: int, direction: str) -> None:
        self.target_port, self.limit, self.direction = target_port, limit, direction
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            cut = self.connections == 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            pair = (client, upstream)
            threading.Thread(target=self._pump, args=(client, upstream, cut and self.direction == "up", pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, cut and self.direction == "down", pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, cut: bool, pair: tuple) -> None:
        left = self.limit if cut else None
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if left is not None:
                    data = data[:left]
                    left -= len(data)
                dst.sendall(data)
                if left == 0:
                    break
        except OSError:
            pass
        for s in pair:  # cut: both ends at once
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()
