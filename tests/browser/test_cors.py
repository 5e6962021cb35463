"""Cross-origin pre-signed requests from pages on other ports: the bucket's CORS
rule allows one origin (preflight included) and S3's refusal meets every other."""

from __future__ import annotations

import ssl

import httpx

from s3presign import SSE

from .conftest import unique

PUT_FROM_PAGE = """async ([url, headers, text]) => {
  try {
    const r = await fetch(url, { method: "PUT", headers, body: new Blob([text]) });
    return { status: r.status, etag: r.headers.get("etag") };
  } catch (e) { return { error: String(e) }; }
}"""


def _blank(site) -> str:
    (site.root / "blank.html").write_text("<!doctype html><title>another origin</title>")
    return f"{site.origin}/blank.html"


def test_cross_origin_upload_allowed_by_the_rule_and_refused_elsewhere(page, console):
    client = console.endpoint.client()
    allowed, other = console.app_site, console.other_site
    for bucket, origin in (("cors-open", allowed.origin), ("cors-closed", "https://elsewhere.example")):
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [origin], "AllowedMethods": ["PUT", "GET"], "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60}]})
    presigner = console.endpoint.presigner()

    def put(page_url: str, bucket: str) -> tuple[dict, str]:
        key = unique("xo") + ".txt"
        # SSE-KMS adds x-amz-server-side-encryption: not a CORS-safelisted header, so a preflight.
        signed = presigner.presign("PUT", bucket, key, sse=SSE.kms(), headers={"content-type": "text/plain"})
        page.goto(page_url)
        return page.evaluate(PUT_FROM_PAGE, [signed.url, signed.headers, "from " + page_url]), key

    result, key = put(_blank(allowed), "cors-open")
    assert result.get("status") == 200 and result.get("etag"), result
    assert client.head_object(Bucket="cors-open", Key=key)["ServerSideEncryption"] == "aws:kms"

    for page_url, bucket in ((_blank(other), "cors-open"), (_blank(allowed), "cors-closed")):
        result, key = put(page_url, bucket)
        assert "error" in result and "Failed to fetch" in result["error"], result
        assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix=key)  # the PUT never went out

    # The preflight the browser was refused, as S3 answers it: 403 AccessForbidden (CORSResponse).
    verify = ssl.create_default_context(cafile=console.endpoint.ca)
    refused = httpx.options(f"{console.endpoint.url}/cors-open/k", verify=verify, headers={
        "Origin": other.origin, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "x-amz-server-side-encryption"})
    assert refused.status_code == 403 and b"<Code>AccessForbidden</Code>" in refused.content
    assert b"CORSResponse" in refused.content
    assert "access-control-allow-origin" not in refused.headers
    ok = httpx.options(f"{console.endpoint.url}/cors-open/k", verify=verify, headers={
        "Origin": allowed.origin, "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "x-amz-server-side-encryption"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == allowed.origin


def test_console_api_refuses_other_origins(console):
    body = {"access_key": "AKID", "requests": [{"method": "GET", "bucket": "console", "key": "k"}]}
    own = httpx.post(console.url + "api/sign", json=body, headers={"Origin": console.url.rstrip("/")})
    assert own.status_code == 200 and own.json()["results"][0]["ok"]
    foreign = httpx.post(console.url + "api/sign", json=body, headers={"Origin": console.app_site.origin})
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
    form = httpx.post(console.url + "api/sign", content=b"access_key=x", headers={"Content-Type": "text/plain"})
    assert form.status_code == 415
    secret = httpx.post(console.url + "api/sign", json={**body, "secret_key": "s"})
    assert secret.status_code == 400
    relay = httpx.post(console.url + "api/relay", json={"url": "http://169.254.169.254/latest", "method": "GET"})
    assert relay.status_code == 400


def test_page_headers_and_csp(console):
    resp = httpx.get(console.url)
    assert resp.status_code == 200
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and console.endpoint.url in csp
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(console.url + "static/console.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(console.url + "static/../app.py").status_code == 404
