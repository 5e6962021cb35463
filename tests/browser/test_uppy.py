"""Uppy (its `uppy` npm bundle, installed into a temp dir by the test) uploading
through the signing service: @uppy/aws-s3 in Companion mode pointed at the
console's address, Golden Retriever for the resume after a reload."""

from __future__ import annotations

import os
import re

from .conftest import UPPY_TOKEN, MiB

PAGE = """<!doctype html>
<meta charset="utf-8"><title>Uppy against s3presign</title>
<label for="f">File</label><input type="file" id="f">
<script type="module">
import { Uppy, AwsS3, GoldenRetriever } from "/uppy/uppy.min.mjs";
const endpoint = new URLSearchParams(location.search).get("endpoint");
const uppy = new Uppy({ id: "s3presign-uppy", autoProceed: false });
uppy.use(GoldenRetriever, { indexedDB: { maxFileSize: 64 * 1024 * 1024, maxTotalSize: 128 * 1024 * 1024 } });
uppy.use(AwsS3, { companionEndpoint: endpoint, shouldUseMultipart: true, limit: 3,
                  getChunkSize: () => 5 * 1024 * 1024 });
window.parts = [];
uppy.on("s3-multipart:part-uploaded", (file, part) => window.parts.push(part));
uppy.on("upload-progress", (file, p) => { window.progress = p.bytesUploaded; });
uppy.on("upload-success", (file, response) => { window.result = response.body; });
uppy.on("upload-error", (file, error) => { window.failure = String(error); });
uppy.on("restored", () => { window.restored = Object.keys(uppy.getState().files).length; });
document.getElementById("f").addEventListener("change", (e) => {
  for (const f of e.target.files) uppy.addFile({ name: f.name, type: f.type, data: f, source: "input" });
  uppy.upload();
});
window.uppy = uppy;
window.ready = true;
</script>
"""

FETCH = """async ([url, init]) => {
  const r = await fetch(url, init);
  return { status: r.status, body: await r.json().catch(() => null) };
}"""


def test_uppy_uploads_30_mib_with_sse_kms_resumes_after_reload(page, console, uppy_dist, tmp_path):
    site = console.app_site
    (site.root / "uppy.html").write_text(PAGE)
    endpoint = f"{console.url}t/{UPPY_TOKEN}"
    url = f"{site.origin}/uppy.html?endpoint={endpoint}"
    size = 30 * MiB
    data = os.urandom(size)
    path = tmp_path / "video.bin"
    path.write_bytes(data)

    held = []
    blocked = re.compile(r"partNumber=[3-9]")
    page.route(lambda u: bool(blocked.search(u)), lambda route: held.append(route))
    page.goto(url)
    page.wait_for_function("window.ready === true")
    page.set_input_files("#f", str(path))
    page.wait_for_function("window.parts.length >= 2", timeout=60000)
    assert page.evaluate("window.progress") >= 10 * MiB
    page.wait_for_timeout(1500)  # Golden Retriever saves its state on a throttle
    page.unroute_all(behavior="ignoreErrors")
    page.reload()
    for route in held:
        try:
            route.abort()
        except Exception:
            pass

    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url))
    page.wait_for_function("window.ready === true && window.restored === 1", timeout=30000)
    page.evaluate("window.uppy.emit('restore-confirmed')")  # what Dashboard's "Resume" button does
    page.wait_for_function("window.result || window.failure", timeout=120000)
    assert page.evaluate("window.failure") is None, page.evaluate("window.failure")
    result = page.evaluate("window.result")
    key = result["key"]
    assert key.startswith("incoming/") and key.endswith("video.bin")

    # Resumed: the parts were listed through the service, and 1 and 2 not sent again.
    assert any(re.search(r"/s3/multipart/[^/?]+\?key=", u) for u in sent)
    numbers = sorted(int(m.group(1)) for u in sent if (m := re.search(r"[?&]partNumber=(\d+)", u)))
    # Parts already uploaded are not sent again; part 3 may have reached S3 just before the reload.
    assert numbers and numbers[0] >= 3 and numbers == list(range(numbers[0], 7)), numbers

    client = console.endpoint.client()
    head = client.head_object(Bucket="uppy", Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["ContentLength"] == size
    assert client.get_object(Bucket="uppy", Key=key)["Body"].read() == data

    # Outside the policy: refused by the service, from the same page.
    outside = page.evaluate(FETCH, [f"{endpoint}/s3/multipart/x/1?key=elsewhere/file.bin", {}])
    assert outside["status"] == 403 and outside["body"]["error"]["code"] == "PolicyDenied"
    long_link = page.evaluate(FETCH, [f"{endpoint}/s3/sign", {
        "method": "POST", "headers": {"content-type": "application/json"},
        "body": f'{{"method": "GET", "key": "{key}", "expires_in": 86400}}'}])
    assert long_link["status"] == 403 and "900" in long_link["body"]["error"]["message"]
    delete = page.evaluate(FETCH, [f"{endpoint}/s3/sign", {
        "method": "POST", "headers": {"content-type": "application/json"},
        "body": f'{{"method": "DELETE", "key": "{key}"}}'}])
    assert delete["status"] == 403
    wrong = page.evaluate(FETCH, [f"{console.url}t/not-the-token-at-all/s3/params?filename=a", {}])
    assert wrong["status"] == 401
    allowed = page.evaluate(FETCH, [f"{endpoint}/s3/sign", {
        "method": "POST", "headers": {"content-type": "application/json"},
        "body": f'{{"method": "GET", "key": "{key}", "expires_in": 60}}'}])
    assert allowed["status"] == 200 and allowed["body"]["method"] == "GET"
    assert page.errors == []


def test_single_part_params_and_origin_check(page, console, uppy_dist):
    """GET /s3/params gives a POST form that S3 accepts with SSE-KMS; a page on an
    origin the policy does not list gets no CORS answer from the service."""
    site = console.app_site
    endpoint = f"{console.url}t/{UPPY_TOKEN}"
    (site.root / "blank.html").write_text("<!doctype html><title>app</title>")
    page.goto(f"{site.origin}/blank.html")
    posted = page.evaluate("""async (endpoint) => {
      const r = await fetch(endpoint + "/s3/params?filename=note.txt&type=text/plain");
      const p = await r.json();
      const form = new FormData();
      for (const [k, v] of Object.entries(p.fields)) form.append(k, v);
      form.append("file", new Blob(["hello uppy"], { type: "text/plain" }), "note.txt");
      const up = await fetch(p.url, { method: "POST", body: form });
      return { status: up.status, key: p.fields.key, sse: p.fields["x-amz-server-side-encryption"] };
    }""", endpoint)
    assert posted["status"] in (200, 204) and posted["sse"] == "aws:kms"
    head = console.endpoint.client().head_object(Bucket="uppy", Key=posted["key"])
    assert head["ServerSideEncryption"] == "aws:kms"

    (console.other_site.root / "blank.html").write_text("<!doctype html><title>other</title>")
    page.goto(f"{console.other_site.origin}/blank.html")
    refused = page.evaluate("""async (endpoint) => {
      try { await fetch(endpoint + "/s3/params?filename=x"); return "read"; } catch (e) { return String(e); }
    }""", endpoint)
    assert "Failed to fetch" in refused
