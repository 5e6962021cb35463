"""The console's ASGI application: the page, its JSON API and the signing service.

    GET  /                 the page (static files are package data, no build step)
    GET  /static/NAME      its script and style sheet
    GET  /api/config       endpoint, region and the SSE x signature table
    POST /api/sign         the library's unsigned requests (or its refusal) for the page to sign
    POST /api/relay        send a request the page pre-signed, when a browser cannot read the answer
                           itself (ListBuckets has no CORS); only to the configured endpoint
    POST /api/inspect      client/inspect.py's explanation of a pasted URL
    *    /s3/...           the signing service (service.py), bearer token
    *    /t/TOKEN/s3/...   the same, token in the path (for clients that send no headers)

The page keeps the secret key and any SSE-C key: nothing under /api ever receives
either (see signing.py). The API answers only its own origin: it sends no CORS
headers and refuses requests whose Origin is another site's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl, unquote

import httpx

from s3presign.core.errors import PresignError
from s3presign.console import signing
from s3presign.console.s3 import S3, S3Failure, children, parse_xml, text
from s3presign.console.service import Policy, Service, ServiceError

log = logging.getLogger("s3presign.console")
MAX_BODY = 1024 * 1024
STATIC = {"index.html": "text/html; charset=utf-8", "console.js": "text/javascript; charset=utf-8",
          "console.css": "text/css; charset=utf-8", "md5.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
# The page fetches the endpoint, and nothing else; inline scripts are not allowed.
CSP = "default-src 'self'; connect-src 'self' {endpoint}; img-src 'self' data:; style-src 'self'; " \
      "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action {endpoint}"


@dataclass
class ConsoleConfig:
    endpoint_url: str          # the S3 endpoint the page talks to (scheme://host:port)
    region: str
    ca_file: str | None = None  # to trust the endpoint's self-signed certificate
    credentials: Any = None     # the console's own (server) credentials: CORS set-up, the signing service
    policy: Policy | None = None
    origins: list[str] = field(default_factory=list)  # the console's own origin(s), set once bound


class ConsoleApp:
    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config
        self.shaper = signing.Shaper(config.endpoint_url, config.region)
        self.static = {name: resources.files("s3presign.console").joinpath("static", name).read_bytes()
                       for name in STATIC}
        self._s3: S3 | None = None
        self._cors_done: set[str] = set()
        self._cors_lock: asyncio.Lock | None = None

    @property
    def s3(self) -> S3:
        if self._s3 is None:
            self._s3 = S3(self.config.endpoint_url, self.config.region, self.config.credentials,
                          self.config.ca_file)
        return self._s3

    # --- ASGI ----------------------------------------------------------------------
    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]],
                       send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self._s3 is not None:
                        await self._s3.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            body = await _read(receive, headers)
            status, ctype, payload, extra = await self.route(method, path, query, headers, body)
        except ServiceError as exc:
            status, ctype, payload, extra = exc.status, "application/json", signing.dumps(
                {"error": {"code": exc.code, "message": exc.message}}), self._service_cors(headers)
        except (PresignError, S3Failure) as exc:  # the library's refusal, or the endpoint's
            code, status = ("InvalidRequest", 400) if isinstance(exc, PresignError) else (exc.code, exc.status)
            status, ctype, payload, extra = status, "application/json", signing.dumps(
                {"error": {"code": code, "message": str(exc) if isinstance(exc, PresignError) else exc.message}}), \
                self._service_cors(headers)
        except httpx.HTTPError as exc:  # the endpoint is down or unreachable: say so, not 500
            status, ctype, payload, extra = 502, "application/json", signing.dumps(
                {"error": {"code": "EndpointUnreachable",
                           "message": f"the S3 endpoint {self.config.endpoint_url} did not answer: {exc}"}}), \
                self._service_cors(headers)
        except _Refused as exc:
            status, ctype, payload, extra = exc.status, "application/json", signing.dumps(
                {"error": {"code": "Forbidden", "message": str(exc)}}), []
        except Exception:
            log.exception("console: %s %s", method, path)
            status, ctype, payload, extra = 500, "application/json", signing.dumps(
                {"error": {"code": "InternalError", "message": "the console failed; see its log"}}), []
        out = [(b"content-type", ctype.encode()), (b"content-length", str(len(payload)).encode()),
               *SECURITY_HEADERS, *[(k.encode(), v.encode()) for k, v in extra]]
        if ctype.startswith("text/html"):
            out.append((b"content-security-policy", CSP.format(endpoint=self.config.endpoint_url).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": payload if method != "HEAD" else b""})

    async def route(self, method: str, path: str, query: str, headers: dict[str, str],
                    body: bytes) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        if path.startswith("/s3/") or path.startswith("/t/"):
            return await self.service(method, path, query, headers, body)
        if method in ("GET", "HEAD"):
            name = "index.html" if path in ("/", "/index.html") else path.removeprefix("/static/")
            if path != "/" and not path.startswith("/static/") and path != "/index.html" or name not in STATIC:
                return 404, "application/json", signing.dumps({"error": {"code": "NotFound", "message": path}}), []
            return 200, STATIC[name], self.static[name], []
        if method != "POST" or not path.startswith("/api/"):
            return 405, "application/json", signing.dumps({"error": {"code": "MethodNotAllowed", "message": method}}), []
        self._same_origin(headers)
        data = _json(body)
        handler = {"/api/sign": self.api_sign, "/api/relay": self.api_relay, "/api/inspect": self.api_inspect,
                   "/api/config": self.api_config}.get(path)
        if handler is None:
            return 404, "application/json", signing.dumps({"error": {"code": "NotFound", "message": path}}), []
        result = await handler(data)
        return 200, "application/json", signing.dumps(result), []

    def _same_origin(self, headers: dict[str, str]) -> None:
        """The API is the page's only: refuse other sites (and forms: JSON bodies only)."""
        origin = headers.get("origin")
        if origin is not None and origin not in self.config.origins:
            raise _Refused(403, f"origin {origin} may not use the console API")
        if headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
            raise _Refused(403, "cross-site requests may not use the console API")
        if not headers.get("content-type", "").startswith("application/json"):
            raise _Refused(415, "the console API takes application/json")

    # --- the page's API ------------------------------------------------------------
    async def api_config(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"endpoint": self.config.endpoint_url, "region": self.config.region, "table": signing.table(),
                "placeholders": {"key": signing.PLACEHOLDER_KEY_B64, "md5": signing.PLACEHOLDER_KEY_MD5},
                "origins": self.config.origins}

    async def api_sign(self, data: dict[str, Any]) -> dict[str, Any]:
        access_key = data.get("access_key")
        if "secret_key" in data or "secret" in data:
            raise _Refused(400, "never send the secret key: the page signs; send access_key only")
        specs = data.get("requests")
        if not isinstance(specs, list) or not specs or len(specs) > 10000:
            raise _Refused(400, "requests must be a list of 1 to 10000 request descriptions")
        results = []
        for spec in specs:
            if not isinstance(spec, dict):
                results.append({"ok": False, "error": "each request must be an object"})
                continue
            try:
                results.append({"ok": True, **self.shaper.request(str(access_key or ""), spec)})
            except PresignError as exc:
                results.append({"ok": False, "error": str(exc)})
        return {"results": results}

    async def api_relay(self, data: dict[str, Any]) -> dict[str, Any]:
        url, method = data.get("url"), str(data.get("method", "GET")).upper()
        if not isinstance(url, str) or not url.startswith(self.config.endpoint_url + "/"):
            raise _Refused(400, f"the console relays only to its endpoint {self.config.endpoint_url}")
        if method not in ("GET", "HEAD", "PUT", "DELETE"):
            raise _Refused(400, "relay takes GET, HEAD, PUT or DELETE")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict) or any(k.lower().startswith("x-amz-server-side-encryption-customer-k")
                                                for k in headers):
            raise _Refused(400, "headers must be an object, and SSE-C keys never come here")
        body = data.get("body") or ""
        resp = await self.s3.http.request(method, url, headers={str(k): str(v) for k, v in headers.items()},
                                          content=str(body).encode())
        result = {"status": resp.status_code, "body": resp.text[:MAX_BODY],
                  "headers": {k: v for k, v in resp.headers.items()
                              if k.lower() in ("content-type", "etag", "x-amz-request-id")}}
        if resp.status_code == 200 and method == "GET" and b"<ListAllMyBucketsResult" in resp.content[:300]:
            names = [text(b, "Name") or "" for bs in children(parse_xml(resp.content), "Buckets")
                     for b in children(bs, "Bucket")]
            result["cors"] = await self.ensure_cors(names)
        return result

    async def api_inspect(self, data: dict[str, Any]) -> dict[str, Any]:
        from s3presign.client.inspect import inspect_url, parse_error_xml, render_text

        url = data.get("url")
        if not isinstance(url, str) or not url.strip():
            raise _Refused(400, "paste a pre-signed URL")
        error = data.get("error_xml")
        try:
            report = inspect_url(url, method=data.get("method") or None, headers=data.get("headers") or None,
                                 region=self.config.region, endpoint_url=self.config.endpoint_url,
                                 error=parse_error_xml(error) if error else None)
        except PresignError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "report": report.to_dict(), "text": render_text(report)}

    # --- CORS on the endpoint --------------------------------------------------------
    async def ensure_cors(self, buckets: list[str]) -> dict[str, str]:
        """The console's origins (and the policy's for its buckets) allowed on these buckets."""
        if self.config.credentials is None:
            return {}
        if self._cors_lock is None:
            self._cors_lock = asyncio.Lock()
        extra = self.config.policy.buckets() if self.config.policy else {}
        out = {}
        async with self._cors_lock:
            for bucket in buckets:
                if bucket in self._cors_done:
                    continue
                origins = sorted(set(self.config.origins) | extra.get(bucket, set()))
                try:
                    changed = await self.s3.ensure_cors(bucket, origins)
                except S3Failure as exc:
                    out[bucket] = f"not set: {exc.code}: {exc.message}"
                    continue
                self._cors_done.add(bucket)
                out[bucket] = "added" if changed else "present"
        return out

    # --- the signing service -----------------------------------------------------------
    def _service_cors(self, headers: dict[str, str]) -> list[tuple[str, str]]:
        origin = headers.get("origin")
        policy = self.config.policy
        if origin and policy is not None and origin in policy.origins():
            return [("access-control-allow-origin", origin), ("vary", "Origin"),
                    ("access-control-allow-methods", "GET, POST, DELETE"),
                    ("access-control-allow-headers", "authorization, content-type"),
                    ("access-control-max-age", "600")]
        return []

    async def service(self, method: str, path: str, query: str, headers: dict[str, str],
                      body: bytes) -> tuple[int, str, bytes, list[tuple[str, str]]]:
        cors = self._service_cors(headers)
        if method == "OPTIONS":
            if not cors:
                raise ServiceError(403, "CORSForbidden", "this origin may not use the signing service")
            return 204, "application/json", b"", cors
        policy = self.config.policy
        if policy is None:
            raise ServiceError(404, "NoSigningService", "the signing service is off: start serve with --console-policy FILE")
        parts = [unquote(p) for p in path.split("/") if p]
        token = None
        if parts[0] == "t" and len(parts) >= 3:
            token, parts = parts[1], parts[2:]
        if parts[0] != "s3":
            raise ServiceError(404, "NoSuchRoute", "signing-service routes are under /s3/")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        client = policy.client_for(token)
        origin = headers.get("origin")
        if origin and client.origins and origin not in client.origins:
            raise ServiceError(403, "PolicyDenied", f"origin {origin} is not one of {client.name}'s")
        await self.ensure_cors([client.bucket])
        result = await Service(policy, self.s3).handle(method, parts[1:], dict(parse_qsl(query)), body, client)
        return 200, "application/json", signing.dumps(result), cors


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _read(receive: Callable[[], Awaitable[dict]], headers: dict[str, str]) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _Refused(413, f"request bodies are limited to {MAX_BODY} bytes")
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _Refused(413, f"request bodies are limited to {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise _Refused(400, "the body must be JSON") from None
    if not isinstance(data, dict):
        raise _Refused(400, "the body must be a JSON object")
    return data
