"""Driving the real `s3presign serve` (a subprocess on a free loopback port).

Helpers give boto3 clients (SigV4 and SigV2), our own presigner and a helper
that signs arbitrary requests with botocore (an independent signer) and sends
them with httpx, so every test drives the server the way a client would.
"""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.auth import HmacV1Auth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from defusedxml import ElementTree

from s3presign.core.credentials import Credentials
from s3presign.core.presign import Presigner

MAIN = ("AKIDMAINUSER0000", "main/secret+key")
TOKEN_USER = ("AKIDTOKENUSER000", "token-secret", "session-token-value")
OTHER = ("AKIDOTHERUSER000", "other/secret+key")  # a second account, for access control
CREDENTIALS_FILE = f"""
[main]
aws_access_key_id = {MAIN[0]}
aws_secret_access_key = {MAIN[1]}

[with-token]
aws_access_key_id = {TOKEN_USER[0]}
aws_secret_access_key = {TOKEN_USER[1]}
aws_session_token = {TOKEN_USER[2]}

[other]
aws_access_key_id = {OTHER[0]}
aws_secret_access_key = {OTHER[1]}
"""


@dataclass
class Endpoint:
    """One running server: where it listens, where it keeps data, how to talk to it."""

    url: str
    data_dir: Path
    log: Path
    proc: subprocess.Popen
    region: str
    banner: str = ""
    domain: str | None = None
    ca: str | None = None  # the CA to trust, for --tls-self-signed
    _clients: dict = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def client(self, sig: str = "s3v4", *, creds: tuple = MAIN, region: str | None = None,
               addressing: str = "path", **config: Any):
        """A boto3 S3 client ("s3v4" or "s3" for SigV2), cached per settings."""
        cache_key = (sig, creds, region, addressing, tuple(sorted(config.items())))
        if cache_key not in self._clients:
            self._clients[cache_key] = boto3.session.Session().client(
                "s3",
                endpoint_url=self.url,
                aws_access_key_id=creds[0],
                aws_secret_access_key=creds[1],
                aws_session_token=creds[2] if len(creds) > 2 else None,
                region_name=region or self.region,
                verify=self.ca,
                config=Config(signature_version=sig, s3={"addressing_style": addressing},
                              retries={"max_attempts": 1}, **config),
            )
        return self._clients[cache_key]

    def presigner(self, sig: str = "v4", creds: tuple = MAIN, region: str | None = None) -> Presigner:
        return Presigner(Credentials(*creds), region=region or self.region, endpoint_url=self.url,
                         addressing_style="path", signature_version=sig)

    def signed(self, method: str, path: str, *, body: bytes = b"", headers: dict | None = None,
               query: str = "", sig: str = "v4", creds: tuple = MAIN, region: str | None = None,
               host: str | None = None, tamper: Any = None, send_body: bytes | None = None) -> httpx.Response:
        """Sign with botocore (header auth), optionally tamper (headers, or send
        ``send_body`` instead of the signed body), send with httpx."""
        url = f"{self.url}{path}" + (f"?{query}" if query else "")
        if host is not None:
            url = f"http://{host}{path}" + (f"?{query}" if query else "")
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        boto_creds = BotoCredentials(creds[0], creds[1], creds[2] if len(creds) > 2 else None)
        if sig == "v4":
            S3SigV4Auth(boto_creds, "s3", region or self.region).add_auth(request)
        else:
            hostname = (host or "").rsplit(":", 1)[0]
            if self.domain and hostname.endswith("." + self.domain):  # SigV2 signs /bucket/key
                request.auth_path = "/" + hostname[: -len(self.domain) - 1] + path
            HmacV1Auth(boto_creds).add_auth(request)
        sent = dict(request.headers.items())
        if host is not None:
            sent["Host"] = host
        if tamper is not None:
            tamper(sent)
        return send_raw(self, method, path + (f"?{query}" if query else ""),
                        body=body if send_body is None else send_body, headers=sent)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def send_raw(endpoint: Endpoint, method: str, target: str, *, body: bytes = b"",
             headers: dict | None = None) -> httpx.Response:
    """Send exactly this request line and these headers (httpx adds only transport headers)."""
    verify = ssl.create_default_context(cafile=endpoint.ca) if endpoint.ca else True
    with httpx.Client(base_url=endpoint.url, timeout=30, verify=verify) as client:
        request = client.build_request(method, target, content=body, headers=headers or {})
        request.url = httpx.URL(f"{endpoint.url}{target}")
        return client.send(request)


# S3PRESIGN_TARGET=stack: every server a test asks for is the one 3-instance deployment of
# deploy/stack.sh (HAProxy with TLS -> instances -> PostgreSQL + Ceph RGW), started once per
# session; tests needing a server of their own configuration are skipped. See tests/stack.py.
TARGET = os.environ.get("S3PRESIGN_TARGET", "embedded")


def start_server(data_dir: Path, *args: str, env: dict | None = None, credentials: bool = True,
                 region: str = "us-east-1") -> Endpoint:
    """`python -m s3presign serve --port 0 ...`; returns once it prints where it listens."""
    if TARGET == "stack":
        from tests.stack import stack_endpoint

        return stack_endpoint(args, env=env, credentials=credentials, region=region)
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "s3presign", "serve", "--port", "0", "--data-dir", str(data_dir),
            "--region", region, *args]
    if "--new-bucket-defaults" not in args:
        # the suite writes SSE-C everywhere: AWS's current defaults (SSE-C blocked) are
        # tested by servers that ask for them (tests/server/test_access_defaults.py)
        argv += ["--new-bucket-defaults", "legacy"]
    if credentials:
        creds_file = data_dir.parent / f"{data_dir.name}-credentials"
        creds_file.write_text(CREDENTIALS_FILE)
        argv += ["--credentials", str(creds_file)]
    log = data_dir.parent / f"{data_dir.name}.log"
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=open(log, "wb"), text=True,
                            env={**os.environ, **(env or {})})
    banner = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner += line
        if line.startswith("  users") or line.startswith("  credentials"):
            break
    match = re.search(r"listening on (\S+)", banner)
    if not match:
        proc.kill()
        raise RuntimeError(f"server did not start: {banner}{log.read_text()}")
    domain = re.search(r"BUCKET\.([^:]+):", banner)
    ca = re.search(r"TLS: trust (\S+)", banner)
    return Endpoint(match.group(1), data_dir, log, proc, region, banner,
                    domain.group(1) if domain else None, ca.group(1) if ca else None)


def error_of(response: httpx.Response) -> dict[str, str]:
    """The <Error> body as {element: text}, plus the status under "status"."""
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Error", response.content
    out = {child.tag: child.text or "" for child in root}
    out["status"] = response.status_code
    return out


def client_error(exc: Any) -> dict[str, Any]:
    """botocore ClientError -> {status, Code, Message, ...}."""
    error = dict(exc.response.get("Error", {}))
    error["status"] = exc.response["ResponseMetadata"]["HTTPStatusCode"]
    return error


def refused(call) -> tuple[int, str]:
    """The status and S3 error code of the ClientError ``call()`` must raise."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        err = client_error(exc)
        return err["status"], err["Code"]
    raise AssertionError("the call succeeded; an S3 error was expected")


def run_async(coro):
    """asyncio.run in a thread of its own: another fixture of the session (Playwright's
    sync API) may hold a running event loop in this one, where asyncio.run() refuses."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
