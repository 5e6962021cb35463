"""The console's own S3 calls, made like any client's: pre-signed with
``core.Presigner`` (or the bucket-level form of ``signing``) and sent over HTTP
to the endpoint, so the console works against any S3 endpoint."""

from __future__ import annotations

import base64
import hashlib
import ssl
from typing import Any, Mapping

import httpx
from defusedxml import ElementTree

from s3presign.core.credentials import Credentials
from s3presign.core.presign import Presigner
from s3presign.core.sse import SSE
from s3presign.console.signing import build_bucket_request, sign_v4

CONSOLE_RULE_ID = "s3presign-console"
EXPOSE = ["ETag", "x-amz-version-id", "x-amz-server-side-encryption",
          "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-server-side-encryption-customer-algorithm",
          "x-amz-server-side-encryption-customer-key-md5", "Content-Length", "Content-Type"]


class S3Failure(Exception):
    """The endpoint answered an error (code and message from its XML)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(body: bytes) -> Any:
    return ElementTree.fromstring(body)


def children(node: Any, name: str) -> list[Any]:
    return [c for c in node if _local(c.tag) == name]


def text(node: Any, name: str) -> str | None:
    found = children(node, name)
    return (found[0].text or "") if found else None


def failure(resp: httpx.Response) -> S3Failure:
    code, message = "HTTP", f"status {resp.status_code}"
    try:
        root = parse_xml(resp.content)
        code, message = text(root, "Code") or code, text(root, "Message") or message
    except Exception:  # not XML: keep the status
        pass
    return S3Failure(resp.status_code, code, message)


class S3:
    """A small async S3 client for one endpoint and one set of credentials."""

    def __init__(self, endpoint_url: str, region: str, credentials: Credentials | None,
                 ca_file: str | None = None, timeout: float = 30.0) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self.credentials = credentials
        verify: Any = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self.http = httpx.AsyncClient(verify=verify, timeout=timeout, trust_env=False)
        self.presigner = (Presigner(credentials, region=region, endpoint_url=self.endpoint_url,
                                    addressing_style="path") if credentials else None)

    async def close(self) -> None:
        await self.http.aclose()

    def _need_presigner(self) -> Presigner:
        if self.presigner is None:
            raise S3Failure(503, "NoCredentials", "the console has no credentials of its own for this endpoint")
        return self.presigner

    async def bucket_call(self, method: str, bucket: str, query: Mapping[str, str],
                          body: bytes = b"", headers: Mapping[str, str] | None = None) -> httpx.Response:
        creds = self.credentials
        if creds is None:
            raise S3Failure(503, "NoCredentials", "the console has no credentials of its own for this endpoint")
        heads = dict(headers or {})
        url, canonical, stamp, date = build_bucket_request(
            self.endpoint_url, self.region, creds.access_key, method, bucket, query, heads, 300)
        signed = sign_v4(creds.secret_key, {"url": url, "canonical_request": canonical, "amz_date": stamp,
                                            "scope_date": date, "region": self.region})
        return await self.http.request(method, signed, content=body, headers=heads)

    async def object_call(self, method: str, bucket: str, key: str, *, query: Mapping[str, Any] | None = None,
                          sse: SSE | None = None, body: bytes = b"",
                          headers: Mapping[str, str] | None = None) -> httpx.Response:
        signed = self._need_presigner().presign(method, bucket, key, sse=sse, query=query, headers=headers,
                                                expires_in=300)
        return await self.http.request(method, signed.url, content=body, headers=signed.headers)

    # --- CORS for the console's origins --------------------------------------------------
    async def ensure_cors(self, bucket: str, origins: list[str]) -> bool:
        """Add (or refresh) one rule for ``origins`` to the bucket's CORS rules, keeping the others."""
        resp = await self.bucket_call("GET", bucket, {"cors": ""})
        rules: list[str] = []
        if resp.status_code == 200:
            root = parse_xml(resp.content)
            for rule in children(root, "CORSRule"):
                if text(rule, "ID") == CONSOLE_RULE_ID:
                    have = sorted((c.text or "").strip() for c in children(rule, "AllowedOrigin"))
                    if have == sorted(origins):
                        return False
                    continue
                rules.append(_rule_xml(rule))
        elif failure(resp).code != "NoSuchCORSConfiguration":
            raise failure(resp)
        mine = "".join(f"<AllowedOrigin>{o}</AllowedOrigin>" for o in origins)
        mine += "".join(f"<AllowedMethod>{m}</AllowedMethod>" for m in ("GET", "PUT", "POST", "DELETE", "HEAD"))
        mine += "<AllowedHeader>*</AllowedHeader>"
        mine += "".join(f"<ExposeHeader>{h}</ExposeHeader>" for h in EXPOSE)
        rules.append(f"<CORSRule><ID>{CONSOLE_RULE_ID}</ID>{mine}<MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>")
        body = ("<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                + "".join(rules) + "</CORSConfiguration>").encode()
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        resp = await self.bucket_call("PUT", bucket, {"cors": ""}, body, {"content-md5": md5})
        if resp.status_code != 200:
            raise failure(resp)
        return True


def _rule_xml(rule: Any) -> str:
    """One existing CORSRule, re-serialised without namespaces."""
    from xml.sax.saxutils import escape

    out = []
    for child in rule:
        out.append(f"<{_local(child.tag)}>{escape((child.text or '').strip())}</{_local(child.tag)}>")
    return "<CORSRule>" + "".join(out) + "</CORSRule>"
