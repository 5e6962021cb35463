"""The signing service for browser apps: Companion's S3 routes, under a policy.

An app's page (Uppy's ``@uppy/aws-s3`` with ``companionEndpoint``, or any other)
asks for upload parameters; the service checks its bearer token and the policy,
then answers with pre-signed requests made with the server's own credentials
(the part uploads go straight from the browser to S3). Multipart create, list,
complete and abort are done here, as Companion does them.

Routes (under ``/s3``, or ``/t/TOKEN/s3`` for clients that cannot send headers):

    GET    /s3/params?filename=&type=            single-part: a POST form {method,url,fields,headers}
    POST   /s3/multipart          {filename,type}  create: {key, uploadId}
    GET    /s3/multipart/ID/N?key=               sign part N: {url, expires}
    GET    /s3/multipart/ID/batch?key=&partNumbers=1,2   {presignedUrls: {N: url}}
    GET    /s3/multipart/ID?key=                 list parts: [{PartNumber, Size, ETag}]
    POST   /s3/multipart/ID/complete?key=  {parts}  {location, bucket, key}
    DELETE /s3/multipart/ID?key=                 abort: {}
    POST   /s3/sign        {method,key,expires_in}  any other object request: {method,url,headers}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

from s3presign.core.errors import PresignError
from s3presign.core.sse import SSE
from s3presign.console.s3 import S3, S3Failure, children, failure, parse_xml, text

SERVICE_MODES = ("none", "s3", "kms", "dsse")  # SSE-C would send the key to this service: not offered
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()+-]")
MIN_PART = 5 * 1024 * 1024


class ServiceError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Client:
    """One app allowed to ask for URLs: its token, origins and limits."""

    name: str
    token_sha256: bytes
    bucket: str
    prefix: str = ""
    origins: tuple[str, ...] = ()
    methods: tuple[str, ...] = ("PUT", "POST")
    sse: tuple[str, ...] = ("s3",)
    kms_key_id: str | None = None
    min_size: int = 0
    max_size: int = 5 * 1024 ** 4
    max_expires: int = 3600

    def sse_value(self, mode: str | None = None) -> SSE | None:
        mode = mode or self.sse[0]
        if mode not in self.sse:
            raise ServiceError(403, "PolicyDenied", f"SSE mode {mode!r} is not allowed for {self.name} "
                               f"(allowed: {', '.join(self.sse)})")
        if mode == "none":
            return None
        if mode == "kms":
            return SSE.kms(self.kms_key_id)
        if mode == "dsse":
            return SSE.dsse(self.kms_key_id)
        return SSE.s3()

    def check_key(self, key: str) -> str:
        if not isinstance(key, str) or not key or not key.startswith(self.prefix):
            raise ServiceError(403, "PolicyDenied", f"key {key!r} is outside the prefix {self.prefix!r} "
                               f"that {self.name} may use")
        return key

    def check_method(self, method: str) -> None:
        if method not in self.methods:
            raise ServiceError(403, "PolicyDenied", f"{method} is not allowed for {self.name} "
                               f"(allowed: {', '.join(self.methods)})")

    def expires(self, asked: Any = None) -> int:
        if asked in (None, ""):
            return self.max_expires
        try:
            seconds = int(asked)
        except (TypeError, ValueError):
            raise ServiceError(400, "InvalidRequest", "expires_in must be whole seconds") from None
        if not 1 <= seconds <= self.max_expires:
            raise ServiceError(403, "PolicyDenied", f"expires_in={seconds}: {self.name} may get URLs valid "
                               f"for 1 to {self.max_expires} seconds")
        return seconds


@dataclass
class Policy:
    clients: list[Client] = field(default_factory=list)
    sign_as: str | None = None

    def client_for(self, token: str | None) -> Client:
        if not token:
            raise ServiceError(401, "Unauthorized", "send Authorization: Bearer TOKEN (or use /t/TOKEN/s3/...)")
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for client in self.clients:  # every entry is compared, so timing says nothing about which
            if hmac.compare_digest(digest, client.token_sha256):
                found = client
        if found is None:
            raise ServiceError(401, "Unauthorized", "the bearer token is not one of the policy's")
        return found

    def origins(self) -> set[str]:
        return {o for c in self.clients for o in c.origins}

    def buckets(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for c in self.clients:
            out.setdefault(c.bucket, set()).update(c.origins)
        return out


def _int(entry: Mapping[str, Any], name: str, default: int, where: str) -> int:
    value = entry.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PresignError(f"{where}: {name} must be a whole number >= 0")
    return value


def _list(entry: Mapping[str, Any], name: str, default: tuple[str, ...], where: str) -> tuple[str, ...]:
    value = entry.get(name, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PresignError(f"{where}: {name} must be a list of strings")
    return tuple(value)


def load_policy(path: Path) -> Policy:
    """The policy file (JSON): PresignError naming the fix for anything wrong in it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PresignError(f"cannot read --console-policy {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise PresignError(f"--console-policy {path} is not JSON: {exc}") from None
    return parse_policy(data, str(path))


def parse_policy(data: Any, where: str = "policy") -> Policy:
    if not isinstance(data, dict) or not isinstance(data.get("clients"), list):
        raise PresignError(f"{where}: expected {{\"clients\": [...]}} (see docs/SIGNING-SERVICE.md)")
    clients = []
    for i, entry in enumerate(data["clients"]):
        at = f"{where}: clients[{i}]"
        if not isinstance(entry, dict):
            raise PresignError(f"{at} must be an object")
        token, digest = entry.get("token"), entry.get("token_sha256")
        if bool(token) == bool(digest):
            raise PresignError(f"{at}: give exactly one of token_sha256 (hex) or token")
        if digest:
            try:
                raw = bytes.fromhex(digest)
            except (TypeError, ValueError):
                raw = b""
            if len(raw) != 32:
                raise PresignError(f"{at}: token_sha256 must be 64 hex digits (sha256 of the token)")
        else:
            if not isinstance(token, str) or len(token) < 16:
                raise PresignError(f"{at}: token must be a string of at least 16 characters")
            raw = hashlib.sha256(token.encode()).digest()
        bucket = entry.get("bucket")
        if not isinstance(bucket, str) or not bucket:
            raise PresignError(f"{at}: bucket is required")
        methods = tuple(m.upper() for m in _list(entry, "methods", ("PUT", "POST"), at))
        bad = [m for m in methods if m not in METHODS]
        if bad:
            raise PresignError(f"{at}: methods {bad} unknown; use {', '.join(METHODS)}")
        sse = _list(entry, "sse", ("s3",), at)
        bad = [m for m in sse if m not in SERVICE_MODES]
        if bad or not sse:
            raise PresignError(f"{at}: sse {bad or '[]'} not offered; use some of {', '.join(SERVICE_MODES)} "
                               "(SSE-C would send the key to the service: sign it in the page instead)")
        client = Client(
            name=str(entry.get("name") or f"client {i}"), token_sha256=raw, bucket=bucket,
            prefix=str(entry.get("prefix") or ""), origins=_list(entry, "origins", (), at), methods=methods,
            sse=sse, kms_key_id=entry.get("kms_key_id") or None,
            min_size=_int(entry, "min_size", 0, at), max_size=_int(entry, "max_size", 5 * 1024 ** 4, at),
            max_expires=_int(entry, "max_expires", 3600, at),
        )
        if not 1 <= client.max_expires <= 604800:
            raise PresignError(f"{at}: max_expires must be 1 to 604800 seconds")
        if client.min_size > client.max_size:
            raise PresignError(f"{at}: min_size is above max_size")
        clients.append(client)
    sign_as = data.get("sign_as")
    if sign_as is not None and not isinstance(sign_as, str):
        raise PresignError(f"{where}: sign_as must be an access key id of the server")
    return Policy(clients, sign_as)


def object_key(client: Client, filename: Any) -> str:
    """prefix + a fresh id + the file's name (made safe), as Companion does."""
    name = filename if isinstance(filename, str) and filename else "file"
    name = _SAFE_NAME.sub("_", name.replace("/", "_"))[:200]
    return f"{client.prefix}{uuid.uuid4().hex}-{name}"


class Service:
    """Companion's S3 routes against the endpoint, for the policy's clients."""

    def __init__(self, policy: Policy, s3: S3) -> None:
        self.policy = policy
        self.s3 = s3

    async def handle(self, method: str, parts: list[str], query: Mapping[str, str], body: bytes,
                     client: Client) -> Any:
        q = query
        if parts == ["params"] and method == "GET":
            return self.params(client, q)
        if parts == ["sign"] and method == "POST":
            return self.sign(client, _json(body))
        if parts == ["multipart"] and method == "POST":
            return await self.create(client, _json(body))
        if len(parts) >= 2 and parts[0] == "multipart":
            upload_id = parts[1]
            key = client.check_key(q.get("key", ""))
            if len(parts) == 2 and method == "GET":
                return await self.list_parts(client, key, upload_id)
            if len(parts) == 2 and method == "DELETE":
                return await self.abort(client, key, upload_id)
            if len(parts) == 3 and parts[2] == "complete" and method == "POST":
                return await self.complete(client, key, upload_id, _json(body))
            if len(parts) == 3 and parts[2] == "batch" and method == "GET":
                numbers = [n for n in q.get("partNumbers", "").split(",") if n]
                return {"presignedUrls": {n: self.sign_part(client, key, upload_id, n)["url"] for n in numbers}}
            if len(parts) == 3 and method == "GET":
                return self.sign_part(client, key, upload_id, parts[2])
        raise ServiceError(404, "NoSuchRoute", f"no signing-service route {method} /s3/{'/'.join(parts)}")

    def params(self, client: Client, q: Mapping[str, str]) -> dict[str, Any]:
        client.check_method("POST")
        key = object_key(client, q.get("filename"))
        content_type = q.get("type") or "application/octet-stream"
        post = self.s3._need_presigner().presign_post(
            client.bucket, key, sse=client.sse_value(q.get("sse")), expires_in=client.expires(q.get("expires_in")),
            content_length_range=(client.min_size, client.max_size),
            fields={"content-type": content_type}, conditions=[{"content-type": content_type}],
        )
        return {"method": "POST", "url": post.url, "fields": post.fields, "headers": {},
                "expires": post.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "key": key, "bucket": client.bucket}

    def sign(self, client: Client, data: Mapping[str, Any]) -> dict[str, Any]:
        method = str(data.get("method", "GET")).upper()
        client.check_method(method)
        key = client.check_key(str(data.get("key", "")))
        sse = client.sse_value(data.get("sse")) if method == "PUT" else None
        headers = {}
        if data.get("content_type"):
            headers["content-type"] = str(data["content_type"])
        signed = self.s3._need_presigner().presign(method, client.bucket, key, sse=sse, headers=headers or None,
                                                   expires_in=client.expires(data.get("expires_in")))
        return signed.to_dict()

    async def create(self, client: Client, data: Mapping[str, Any]) -> dict[str, Any]:
        client.check_method("PUT")
        key = object_key(client, data.get("filename"))
        headers = {"content-type": str(data.get("type") or "application/octet-stream")}
        resp = await self.s3.object_call("POST", client.bucket, key, query={"uploads": ""},
                                         sse=client.sse_value(data.get("sse")), headers=headers)
        if resp.status_code != 200:
            raise _s3(failure(resp))
        upload_id = text(parse_xml(resp.content), "UploadId")
        return {"key": key, "uploadId": upload_id, "bucket": client.bucket}

    def sign_part(self, client: Client, key: str, upload_id: str, number: str) -> dict[str, Any]:
        client.check_method("PUT")
        if not number.isdigit() or not 1 <= int(number) <= 10000:
            raise ServiceError(400, "InvalidArgument", f"part number {number!r}: S3 part numbers are 1 to 10000")
        if int(number) > max(1, -(-client.max_size // MIN_PART)):
            raise ServiceError(403, "PolicyDenied", f"part {number} would exceed max_size for {client.name}")
        expires = client.expires()
        signed = self.s3._need_presigner().presign("PUT", client.bucket, key, expires_in=expires,
                                                   query={"partNumber": number, "uploadId": upload_id})
        return {"url": signed.url, "expires": expires, "headers": signed.headers}

    async def _parts(self, client: Client, key: str, upload_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        marker = "0"
        while True:
            resp = await self.s3.object_call("GET", client.bucket, key,
                                             query={"uploadId": upload_id, "part-number-marker": marker})
            if resp.status_code != 200:
                raise _s3(failure(resp))
            root = parse_xml(resp.content)
            for part in children(root, "Part"):
                out.append({"PartNumber": int(text(part, "PartNumber") or 0), "Size": int(text(part, "Size") or 0),
                            "ETag": text(part, "ETag"), "LastModified": text(part, "LastModified")})
            if text(root, "IsTruncated") != "true":
                return out
            marker = text(root, "NextPartNumberMarker") or str(out[-1]["PartNumber"])

    async def list_parts(self, client: Client, key: str, upload_id: str) -> list[dict[str, Any]]:
        return await self._parts(client, key, upload_id)

    async def complete(self, client: Client, key: str, upload_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        client.check_method("PUT")
        parts = data.get("parts")
        if not isinstance(parts, list) or not parts:
            raise ServiceError(400, "InvalidRequest", "complete needs {\"parts\": [{\"PartNumber\": 1, \"ETag\": ...}]}")
        stored = {p["PartNumber"]: p for p in await self._parts(client, key, upload_id)}
        chosen = []
        for p in parts:
            try:
                number, etag = int(p["PartNumber"]), str(p["ETag"])
            except (KeyError, TypeError, ValueError):
                raise ServiceError(400, "InvalidRequest", "each part needs PartNumber and ETag") from None
            chosen.append((number, etag))
        size = sum(stored[n]["Size"] for n, _ in chosen if n in stored)
        if not client.min_size <= size <= client.max_size:
            await self.abort(client, key, upload_id)
            raise ServiceError(403, "PolicyDenied", f"the upload is {size} bytes; {client.name} may store "
                               f"{client.min_size} to {client.max_size} bytes (the upload was aborted)")
        body = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{_xml_text(e)}</ETag></Part>" for n, e in chosen
        ) + "</CompleteMultipartUpload>"
        resp = await self.s3.object_call("POST", client.bucket, key, query={"uploadId": upload_id},
                                         body=body.encode())
        if resp.status_code != 200:
            raise _s3(failure(resp))
        root = parse_xml(resp.content)
        if _local_tag(root.tag) == "Error":
            raise _s3(failure(resp))
        location = f"{self.s3.endpoint_url}/{client.bucket}/{quote(key)}"
        return {"location": location, "bucket": client.bucket, "key": key, "etag": text(root, "ETag")}

    async def abort(self, client: Client, key: str, upload_id: str) -> dict[str, Any]:
        resp = await self.s3.object_call("DELETE", client.bucket, key, query={"uploadId": upload_id})
        if resp.status_code not in (200, 204):
            raise _s3(failure(resp))
        return {}


def _local_tag(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_text(value: str) -> str:
    from xml.sax.saxutils import escape

    return escape(value)


def _s3(err: S3Failure) -> ServiceError:
    return ServiceError(err.status if 400 <= err.status < 600 else 502, err.code, err.message)


def _json(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise ServiceError(400, "InvalidRequest", "the request body must be JSON") from None
    if not isinstance(data, dict):
        raise ServiceError(400, "InvalidRequest", "the request body must be a JSON object")
    return data
