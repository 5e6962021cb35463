"""Browser tests: the real `s3presign serve --console-address` (TLS, self-signed),
Debian's Chromium driven by Playwright, and two static pages on other ports
(other origins) for the cross-origin and Uppy tests.

Chromium trusts the endpoint's self-signed certificate through
--ignore-certificate-errors (SSE-C needs https; the console itself is http on
loopback, a secure context, so WebCrypto works)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from server.helpers import MAIN, Endpoint, start_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--ignore-certificate-errors"]
UPPY_TOKEN = "uppy-test-token-" + "0123456789abcdef"
MiB = 1024 * 1024

class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript"}

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Site:
    """A static site on its own loopback port: another origin than the console's."""

    root: Path
    origin: str
    server: http.server.ThreadingHTTPServer


def _site(root: Path) -> Site:
    root.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Site(root, f"http://127.0.0.1:{server.server_address[1]}", server)


@dataclass
class Console:
    endpoint: Endpoint
    url: str
    app_site: Site      # allowed by the policy and by CORS
    other_site: Site    # allowed by nothing


@pytest.fixture(scope="session")
def sites(tmp_path_factory) -> Iterator[tuple[Site, Site]]:
    a, b = _site(tmp_path_factory.mktemp("site-a")), _site(tmp_path_factory.mktemp("site-b"))
    yield a, b
    a.server.shutdown()
    b.server.shutdown()


@pytest.fixture(scope="session")
def console(tmp_path_factory, sites) -> Iterator[Console]:
    app_site, other_site = sites
    root = tmp_path_factory.mktemp("console")
    policy = {
        "clients": [{
            "name": "uppy-test", "token_sha256": hashlib.sha256(UPPY_TOKEN.encode()).hexdigest(),
            "origins": [app_site.origin], "bucket": "uppy", "prefix": "incoming/",
            "methods": ["PUT", "POST", "GET"], "sse": ["kms"], "min_size": 1, "max_size": 64 * MiB,
            "max_expires": 900,
        }],
    }
    (root / "policy.json").write_text(json.dumps(policy))
    endpoint = start_server(root / "data", "--tls-self-signed", "--console-address", "127.0.0.1:0",
                            "--console-policy", str(root / "policy.json"))
    match = re.search(r"console: (\S+)", endpoint.banner)
    assert match, endpoint.banner
    client = endpoint.client()
    for bucket in ("console", "uppy", "cors-open", "cors-closed"):
        client.create_bucket(Bucket=bucket)
    yield Console(endpoint, match.group(1), app_site, other_site)
    endpoint.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    # The console's CSP forbids eval; Playwright's wait_for_function needs it (the CSP itself is
    # checked in test_csp_header).
    context = browser.new_context(accept_downloads=True, ignore_https_errors=True, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()


def sign_in(page, console: Console) -> None:
    page.goto(console.url)
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#access-key", MAIN[0])
    page.fill("#secret-key", MAIN[1])
    page.click("#signin-form button[type=submit]")
    page.wait_for_function("/^Signed in|failed/.test(document.getElementById('signin-status').textContent)")
    assert page.inner_text("#signin-status").startswith("Signed in"), page.inner_text("#signin-status")
    page.wait_for_selector("#links:not([hidden])")
    page.wait_for_selector("#sse-table button")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def uppy_dist(tmp_path_factory, sites) -> Path:
    """`npm install uppy` into a temp dir (nothing committed); its dist served by the app site."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is absent (the Uppy test installs the uppy package with it)")
    import subprocess

    work = tmp_path_factory.mktemp("npm")
    (work / "package.json").write_text('{"name": "s3presign-uppy-test", "private": true}')
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "uppy@6"],
                          cwd=work, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    dist = work / "node_modules" / "uppy" / "dist"
    target = sites[0].root / "uppy"
    shutil.copytree(dist, target, dirs_exist_ok=True)
    return target
