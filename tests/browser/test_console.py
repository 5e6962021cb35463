"""The console in Chromium: sign in, the SSE x signature table at work (every valid
cell's link uploads and downloads the same bytes, every invalid cell shows the
library's refusal), resumable multipart, inspect, and its screenshot."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from s3presign import SSE, SSE_TABLE, Credentials, PresignError, Presigner

from .conftest import MAIN, MiB, sign_in, unique

VALID = [(mode, version) for mode, rule in SSE_TABLE.items() for version in ("v4", "v2")
         if version == "v4" or rule.sigv2]
INVALID = [(mode, "v2") for mode, rule in SSE_TABLE.items() if not rule.sigv2]
STORED_AS = {"none": "AES256", "s3": "AES256", "kms": "aws:kms", "dsse": "aws:kms:dsse"}


def choose(page, mode: str, version: str) -> None:
    cell = f'#sse-table button[data-mode="{mode}"][data-version="{version}"]'
    page.click(cell)
    page.wait_for_selector(cell + '[aria-pressed="true"]')
    if mode.startswith("c") and not page.input_value("#ssec-key"):
        page.click("#ssec-generate")
        page.wait_for_function("document.getElementById('ssec-key').value.length === 44")


def make_link(page, method: str, bucket: str, key: str) -> None:
    page.select_option("#method", method)
    page.fill("#link-bucket", bucket)
    page.fill("#link-key", key)
    page.evaluate("document.getElementById('link-use-status').textContent = ''")
    page.click("#make-link")
    page.wait_for_function("!document.getElementById('link-result').hidden || "
                           "document.getElementById('link-error').textContent")


def use_status(page) -> str:
    page.wait_for_function("/^(PUT|GET|POST|HEAD|DELETE) \\d|^Failed/.test("
                           "document.getElementById('link-use-status').textContent)", timeout=20000)
    return page.inner_text("#link-use-status")


def test_sign_in_lists_buckets_and_sets_cors(page, console):
    client = console.endpoint.client()
    client.put_object(Bucket="console", Key="listed.txt", Body=b"x" * 10, ServerSideEncryption="aws:kms")
    sign_in(page, console)
    assert "Signed in as " + MAIN[0] in page.inner_text("#signin-status")
    page.select_option("#bucket-select", "console")
    page.wait_for_function("document.querySelector('#objects tbody').textContent.includes('listed.txt')")
    page.wait_for_function("/aws:kms/.test(document.querySelector('#objects tbody').textContent)")
    # The console's origin is now allowed by the bucket's CORS rules (other rules kept).
    rules = client.get_bucket_cors(Bucket="console")["CORSRules"]
    mine = [r for r in rules if r.get("ID") == "s3presign-console"]
    assert mine and console.url.rstrip("/") in mine[0]["AllowedOrigins"]
    assert "ETag" in mine[0]["ExposeHeaders"]
    assert page.errors == []


def test_wrong_secret_is_refused_on_sign_in(page, console):
    page.goto(console.url)
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#access-key", MAIN[0])
    page.fill("#secret-key", "not-the-secret")
    page.click("#signin-form button[type=submit]")
    page.wait_for_function("document.getElementById('signin-status').textContent.includes('failed')")
    assert "SignatureDoesNotMatch" in page.inner_text("#signin-status")
    assert page.is_hidden("#links")


def test_every_valid_cell_uploads_and_downloads_the_same_bytes(page, console, tmp_path):
    sign_in(page, console)
    client = console.endpoint.client()
    for mode, version in VALID:
        choose(page, mode, version)
        key = f"cells/{mode}-{version}/{unique('obj')} ü.bin"
        data = os.urandom(64 * 1024 + 7)
        make_link(page, "PUT", "console", key)
        assert page.inner_text("#link-error") == "", (mode, version)
        url = page.input_value("#link-url")
        assert ("X-Amz-Signature=" in url) == (version == "v4")
        assert "curl" in page.inner_text("#link-curl")
        page.set_input_files("#link-file", files=[{"name": "f.bin", "mimeType": "application/x-test", "buffer": data}])
        page.click("#link-use")
        status = use_status(page)
        assert status.startswith("PUT 200"), (mode, version, status)
        make_link(page, "GET", "console", key)
        with page.expect_download() as download:
            page.click("#link-use")
        assert Path(download.value.path()).read_bytes() == data, (mode, version)
        assert use_status(page).startswith("GET 200")
        if mode.startswith("c"):
            ssec = base64.b64decode(page.input_value("#ssec-key"))
            head = client.head_object(Bucket="console", Key=key, SSECustomerAlgorithm="AES256", SSECustomerKey=ssec)
            assert head["SSECustomerAlgorithm"] == "AES256"
        else:
            head = client.head_object(Bucket="console", Key=key)
            assert head["ServerSideEncryption"] == STORED_AS[mode], (mode, version)
    assert page.errors == []


def test_post_form_upload_with_sse_c_key_from_the_page(page, console):
    sign_in(page, console)
    choose(page, "c-key", "v4")
    key = f"forms/{unique('post')}.bin"
    data = os.urandom(5000)
    make_link(page, "POST", "console", key)
    assert "policy" in page.inner_text("#link-headers")
    page.set_input_files("#link-file", files=[{"name": "p.bin", "mimeType": "application/octet-stream", "buffer": data}])
    page.click("#link-use")
    assert use_status(page).startswith("POST 204") or page.inner_text("#link-use-status").startswith("POST 20")
    ssec = base64.b64decode(page.input_value("#ssec-key"))
    got = console.endpoint.client().get_object(Bucket="console", Key=key, SSECustomerAlgorithm="AES256",
                                               SSECustomerKey=ssec)
    assert got["Body"].read() == data


def test_invalid_cells_show_the_library_reason(page, console):
    sign_in(page, console)
    for mode, version in INVALID:
        reason = page.inner_text(f'#sse-table .reason[data-mode="{mode}"][data-version="{version}"]')
        assert reason == SSE_TABLE[mode].sigv2_refusal
        assert page.locator(f'#sse-table button[data-mode="{mode}"][data-version="{version}"]').count() == 0
    # A method for which SSE means nothing: every SSE cell refused, in the library's words.
    page.select_option("#method", "DELETE")
    page.wait_for_selector('#sse-table .reason[data-mode="kms"][data-version="v4"]')
    expected = ""
    try:
        Presigner(Credentials("AKID", "x")).presign("DELETE", "console", "k", sse=SSE.kms())
    except PresignError as exc:
        expected = str(exc)
    assert page.inner_text('#sse-table .reason[data-mode="kms"][data-version="v4"]') == expected
    # An expiry the library refuses is refused on the page with its message.
    page.select_option("#method", "GET")
    page.fill("#expires", "999999")
    make_link(page, "GET", "console", "k")
    assert "604800" in page.inner_text("#link-error") and page.inner_text("#link-error").startswith("Refused: ")


def test_inspect_explains_a_pasted_url(page, console):
    page.goto(console.url)
    page.wait_for_selector("body[data-ready=true]")
    url = console.endpoint.presigner().presign("GET", "console", "a/b.txt", sse=SSE.customer(), expires_in=60).url
    page.fill("#inspect-url", url)
    page.click("#inspect-form button[type=submit]")
    page.wait_for_function("document.getElementById('inspect-out').textContent.includes('Pre-signed URL')")
    text = page.inner_text("#inspect-out")
    assert "Signature Version 4" in text and "a/b.txt" in text
    assert "x-amz-server-side-encryption-customer-key" in text


def test_multipart_upload_resumes_after_a_reload(page, console, tmp_path):
    size = 30 * MiB
    path = tmp_path / "big.bin"
    data = os.urandom(size)
    path.write_bytes(data)
    held = []
    blocked = re.compile(r"partNumber=[3-9]")
    page.route(lambda url: bool(blocked.search(url)), lambda route: held.append(route))
    sign_in(page, console)
    choose(page, "kms", "v4")
    page.fill("#link-bucket", "console")
    page.select_option("#upload-way", "multipart")
    prefix = unique("mpu") + "/"
    page.fill("#upload-prefix", prefix)
    page.set_input_files("#upload-files", str(path))
    page.wait_for_selector('#upload-list li[data-parts="2"]', timeout=30000)
    value = page.eval_on_selector("#upload-list progress", "p => p.value")
    assert 10 * MiB <= value < size  # the bar shows the two stored parts (and any bytes in flight)
    upload_id = page.get_attribute("#upload-list li", "data-upload-id")
    # The interruption: parts 3-6 never arrive. The route stays until the reload has dropped the
    # held requests, since unrouting first may let them through to the server on a slow machine.
    page.reload()
    for route in held:
        try:
            route.abort()
        except Exception:
            pass
    page.unroute_all(behavior="ignoreErrors")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "partNumber=" in r.url else None)
    sign_in(page, console)
    choose(page, "kms", "v4")
    page.fill("#link-bucket", "console")
    page.select_option("#upload-way", "multipart")
    page.fill("#upload-prefix", prefix)
    page.set_input_files("#upload-files", str(path))
    page.wait_for_function("/resuming|done|failed/.test(document.querySelector('#upload-list .status').textContent)")
    page.wait_for_selector("#upload-list li[data-state]", timeout=60000)
    assert page.get_attribute("#upload-list li", "data-state") == "done", page.inner_text("#upload-list")
    assert page.get_attribute("#upload-list li", "data-upload-id") == upload_id
    numbers = sorted(int(re.search(r"partNumber=(\d+)", u).group(1)) for u in sent)
    assert numbers == [3, 4, 5, 6]  # parts 1 and 2 were not sent again
    got = console.endpoint.client().get_object(Bucket="console", Key=prefix + "big.bin")
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["Body"].read() == data


def test_screenshot_and_load_time(page, console, tmp_path):
    """A PNG of the console (S3PRESIGN_CONSOLE_PNG=docs/console.png to refresh the README's)
    and the page's load time from Navigation Timing, printed, never asserted."""
    client = console.endpoint.client()
    client.put_object(Bucket="console", Key="reports/2026-q4.pdf", Body=b"%PDF" * 1000, ServerSideEncryption="aws:kms")
    page.set_viewport_size({"width": 1100, "height": 900})
    loads = []
    for _ in range(6):  # the first visit opens the connection; the median of the rest is the figure
        page.goto(console.url)
        page.wait_for_selector("body[data-ready=true]")
        loads.append(page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
            return {dom: n.domContentLoadedEventEnd, load: n.loadEventEnd,
                    ready: performance.getEntriesByName('console-ready')[0].startTime}; }"""))
    timing = sorted(loads[1:], key=lambda t: t["load"])[len(loads[1:]) // 2]
    sign_in(page, console)
    page.select_option("#bucket-select", "console")
    choose(page, "kms", "v4")
    make_link(page, "PUT", "console", "reports/2026-q4.pdf")
    out = Path(os.environ.get("S3PRESIGN_CONSOLE_PNG") or tmp_path / "console.png")
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 10000
    print(f"\nconsole page (median of 5 loads): DOMContentLoaded {timing['dom']:.1f} ms, "
          f"load {timing['load']:.1f} ms, ready (config fetched) {timing['ready']:.1f} ms; first visit "
          f"load {loads[0]['load']:.1f} ms; screenshot {out}")


def test_phone_width_has_no_horizontal_scroll(page, console):
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, console)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    # Every form control has a label (accessibility).
    unlabeled = page.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea'))
        .filter(e => !e.labels || e.labels.length === 0).map(e => e.id)""")
    assert unlabeled == []


def test_import_s3presign_does_not_load_the_console():
    code = ("import sys, s3presign, s3presign.cli.serve; "
            "print(sorted(m for m in sys.modules if m.startswith('s3presign.console')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().replace("'", '"')) == []


DROP = """([names, texts]) => {
  const dt = new DataTransfer();
  names.forEach((n, i) => dt.items.add(new File([texts[i]], n, { type: "text/plain" })));
  document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
}"""


def test_drag_and_drop_many_files_in_every_sse_mode(page, console):
    sign_in(page, console)
    client = console.endpoint.client()
    page.fill("#link-bucket", "console")
    ways = ["put", "post", "multipart"]
    expected = 0
    for i, mode in enumerate(SSE_TABLE):
        choose(page, mode, "v4")
        way = ways[i % 3]
        page.select_option("#upload-way", way)
        prefix = f"dropped/{unique(mode)}/"
        page.fill("#upload-prefix", prefix)
        texts = [f"{mode} {way} file {n} " * 50 for n in range(2)]
        page.evaluate(DROP, [["one.txt", "two.txt"], texts])
        expected += 2
        page.wait_for_function(f"document.querySelectorAll('#upload-list li[data-state]').length === {expected}",
                               timeout=30000)
        states = page.eval_on_selector_all("#upload-list li", "items => items.map(li => li.dataset.state)")
        assert states == ["done"] * expected, page.inner_text("#upload-list")
        for name, text in zip(("one.txt", "two.txt"), texts):
            extra = {}
            if mode.startswith("c"):
                extra = {"SSECustomerAlgorithm": "AES256",
                         "SSECustomerKey": base64.b64decode(page.input_value("#ssec-key"))}
            got = client.get_object(Bucket="console", Key=prefix + name, **extra)
            assert got["Body"].read() == text.encode(), (mode, way)
            if not mode.startswith("c"):
                assert got["ServerSideEncryption"] == STORED_AS[mode]
    bars = page.eval_on_selector_all("#upload-list progress", "ps => ps.map(p => p.value === p.max)")
    assert all(bars) and len(bars) == expected


def test_sign_in_with_a_session_token(page, console):
    from server.helpers import TOKEN_USER

    # The token user is an account of its own: it uploads into a bucket it owns.
    own = console.endpoint.client(creds=TOKEN_USER)
    try:
        own.create_bucket(Bucket="console-token")
    except own.exceptions.BucketAlreadyOwnedByYou:
        pass
    own.put_bucket_cors(Bucket="console-token", CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}]})
    page.goto(console.url)
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#access-key", TOKEN_USER[0])
    page.fill("#secret-key", TOKEN_USER[1])
    page.fill("#session-token", TOKEN_USER[2])
    page.click("#signin-form button[type=submit]")
    page.wait_for_function("/^Signed in|failed/.test(document.getElementById('signin-status').textContent)")
    assert page.inner_text("#signin-status").startswith("Signed in as " + TOKEN_USER[0])
    choose(page, "s3", "v4")
    make_link(page, "PUT", "console-token", "token/" + unique("t"))
    assert "X-Amz-Security-Token=" in page.input_value("#link-url")
    page.set_input_files("#link-file", files=[{"name": "t.bin", "mimeType": "text/plain", "buffer": b"tok"}])
    page.click("#link-use")
    assert use_status(page).startswith("PUT 200")
