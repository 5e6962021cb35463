"""The SSE x signature-version table, run end to end.

An embedded `s3presign serve` (temporary data dir, TLS with a self-signed CA,
a KMS key) is driven over HTTPS with requests the library generates. For every
row of core.sse.SSE_TABLE, under SigV4 and SigV2:

* an allowed cell PUTs then GETs (and HEADs) an object and checks that it
  round-trips byte for byte and is stored under the requested mode (the
  response headers, and the envelope the server keeps at rest);
* a refused cell checks that the library refuses it (PresignError) and that the
  server refuses the same request forced past the library (signed by hand with
  core.sigv2) with S3's error; for an SSE-C key fixed at signing, that a forced
  SigV2 URL is indeed not bound to its key (the table's reason).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

from s3presign.core import sigv2
from s3presign.core.canonical import encode_key, encode_value
from s3presign.core.credentials import Credentials
from s3presign.core.errors import PresignError
from s3presign.core.presign import Presigner
from s3presign.core.s3errors import ERRORS
from s3presign.core.sse import (
    H_C_ALGORITHM, H_C_KEY_MD5, H_KMS_KEY, H_SSE, SSE, SSE_C_ALGORITHM, SSE_TABLE, customer_key_headers,
)

BUCKET = "s3presign-demo"
KMS_ALIAS = "alias/s3presign-demo"
VERSIONS = ("v4", "v2")
_AT_REST = {"none": "AES256", "s3": "AES256", "kms": "aws:kms", "dsse": "aws:kms:dsse", "c": "SSE-C", "c-key": "SSE-C"}


class DemoError(Exception):
    """The demo could not run (e.g. the port is taken); one line."""


@dataclass
class Cell:
    mode: str
    version: str
    allowed: bool
    passed: bool = False
    result: str = ""  # what was verified, or what went wrong
    checks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "signature_version": self.version, "allowed": self.allowed,
                "passed": self.passed, "result": self.result, "checks": self.checks}


class _Failed(Exception):
    pass


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise _Failed(what)


def _error_of(response: httpx.Response) -> tuple[str, str]:
    from s3presign.client.transfer import parse_error

    error = parse_error(response.content)
    return error.get("Code", f"HTTP {response.status_code}"), error.get("Message", "")


class Demo:
    """The embedded endpoint and everything the cells share."""

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        from s3presign.server.app import start_in_thread
        from s3presign.server.config import ServerConfig, generated_user, prepare_data_dir
        from s3presign.server.tls import make_self_signed

        self.data_dir = prepare_data_dir(data_dir)
        self.credentials = generated_user(self.data_dir)  # the same file `serve` reads, so --keep can be served again
        cert, key, self.ca = make_self_signed(self.data_dir / ".s3presign" / "tls")
        config = ServerConfig(data_dir=self.data_dir, users={self.credentials.access_key: self.credentials},
                              access_log=None)
        try:
            self.server = start_in_thread(config, port=port, certfile=str(cert), keyfile=str(key))
        except OSError as exc:
            raise DemoError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        self.url = self.server.url
        state = self.server.app.state
        self.storage = state.storage
        self.kms_arn = state.encryption.keys.create_key("s3presign demo key", KMS_ALIAS).arn
        self.customer_key = os.urandom(32)
        self.other_key = os.urandom(32)
        self.http = httpx.Client(verify=ssl.create_default_context(cafile=str(self.ca)), timeout=30, trust_env=False)
        self.presigners = {
            v: Presigner(self.credentials, config.region, self.url, "path", v) for v in VERSIONS
        }
        self.notes = self._bucket()

    def _bucket(self) -> list[str]:
        """Create the bucket as a client would: it gets AWS's current defaults, which block
        SSE-C writes; show that, then unblock SSE-C as its owner would (PutBucketEncryption
        with BlockedEncryptionTypes NONE) so the SSE-C rows can run."""
        v4 = self.presigners["v4"]
        created = self.http.put(v4.presign("PUT", BUCKET, None).url)
        if created.status_code != 200:
            raise DemoError(f"CreateBucket failed: {_error_of(created)}")
        put = v4.presign("PUT", BUCKET, "blocked.bin", sse=SSE.customer())
        refused = self.http.put(put.url, content=b"x", headers=put.headers_with_key(self.customer_key))
        code, _ = _error_of(refused)
        if (refused.status_code, code) != (403, "AccessDenied"):
            raise DemoError(f"an SSE-C write to a new bucket was not refused: {refused.status_code} {code}")
        body = (b'<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>'
                b"<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
                b"</ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes><EncryptionType>NONE"
                b"</EncryptionType></BlockedEncryptionTypes></Rule></ServerSideEncryptionConfiguration>")
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        unblock = v4.presign("PUT", BUCKET, None, query={"encryption": ""}, content_md5=md5)
        done = self.http.put(unblock.url, content=body, headers=dict(unblock.headers))
        if done.status_code != 200:
            raise DemoError(f"PutBucketEncryption failed: {_error_of(done)}")
        return [
            "New Amazon S3 buckets block SSE-C writes (since April 2026): here too, an SSE-C PUT to the new "
            f"bucket {BUCKET} got 403 AccessDenied.",
            "The SSE-C rows ran after the bucket's owner unblocked SSE-C with PutBucketEncryption "
            "(BlockedEncryptionTypes NONE); do the same on AWS before using SSE-C write URLs.",
        ]

    def close(self) -> None:
        self.http.close()
        self.server.stop()

    # --- the cells ---------------------------------------------------------------

    def sse(self, mode: str) -> SSE | None:
        return {
            "none": lambda: None, "s3": SSE.s3, "kms": lambda: SSE.kms(KMS_ALIAS), "dsse": lambda: SSE.dsse(KMS_ALIAS),
            "c": SSE.customer, "c-key": lambda: SSE.customer(self.customer_key),
        }[mode]()

    def run(self, mode: str, version: str) -> Cell:
        allowed = version == "v4" or SSE_TABLE[mode].sigv2
        cell = Cell(mode, version, allowed)
        try:
            (self._allowed if allowed else self._refused)(cell)
            cell.passed = True
        except _Failed as exc:
            cell.result = f"FAILED: {exc}"
        except httpx.HTTPError as exc:
            cell.result = f"FAILED: {type(exc).__name__}: {exc}"
        return cell

    def _key(self, mode: str, version: str) -> str:
        return f"{mode}/{version}/object.bin"

    def _check_sse(self, mode: str, headers: httpx.Headers, what: str) -> None:
        if mode in ("c", "c-key"):
            md5 = base64.b64encode(hashlib.md5(self.customer_key).digest()).decode()
            _expect(headers.get(H_C_ALGORITHM) == SSE_C_ALGORITHM and headers.get(H_C_KEY_MD5) == md5,
                    f"{what} answered without the SSE-C headers for the key")
            return
        expected = _AT_REST[mode]
        _expect(headers.get(H_SSE) == expected, f"{what} says {H_SSE}: {headers.get(H_SSE)!r}, not {expected}")
        if mode in ("kms", "dsse"):
            _expect(headers.get(H_KMS_KEY) == self.kms_arn, f"{what} names KMS key {headers.get(H_KMS_KEY)!r}, not the demo key")

    def _allowed(self, cell: Cell) -> None:
        mode, version = cell.mode, cell.version
        presigner, sse, key = self.presigners[version], self.sse(mode), self._key(mode, version)
        data = os.urandom(96 * 1024 + len(key))
        put = presigner.presign("PUT", BUCKET, key, sse=sse)
        response = self.http.put(put.url, headers=put.headers_with_key(self.customer_key), content=data)
        _expect(response.status_code == 200, f"PUT answered {response.status_code} {_error_of(response)}")
        self._check_sse(mode, response.headers, "PUT")
        get = presigner.presign("GET", BUCKET, key, sse=sse)
        response = self.http.get(get.url, headers=get.headers_with_key(self.customer_key))
        _expect(response.status_code == 200, f"GET answered {response.status_code} {_error_of(response)}")
        _expect(response.content == data, "GET returned other bytes than were PUT")
        self._check_sse(mode, response.headers, "GET")
        head = presigner.presign("HEAD", BUCKET, key, sse=sse)
        response = self.http.head(head.url, headers=head.headers_with_key(self.customer_key))
        _expect(response.status_code == 200, f"HEAD answered {response.status_code}")
        _expect(response.headers.get("content-length") == str(len(data)), "HEAD reports another size")
        self._check_sse(mode, response.headers, "HEAD")
        stored = self.storage.open(BUCKET, key)
        try:
            at_rest = stored.meta.envelope.get("mode")
        finally:
            stored.close()
        _expect(at_rest == _AT_REST[mode], f"stored under {at_rest}, not {_AT_REST[mode]}")
        cell.checks = ["PUT", "GET byte for byte", "HEAD", f"at rest: {at_rest}"]
        note = ""
        if mode in ("c", "c-key"):  # the key is needed to read it back
            plain = presigner.presign("GET", BUCKET, key)
            response = self.http.get(plain.url)
            code, _ = _error_of(response)
            _expect(response.status_code == 400 and code == "InvalidRequest",
                    f"a GET without the key answered {response.status_code} {code}")
            cell.checks.append("GET without the key refused")
            note = "; GET without the key refused"
        stored_as = {"none": "AES256 (the default)", "kms": f"aws:kms ({KMS_ALIAS})",
                     "dsse": f"aws:kms:dsse ({KMS_ALIAS})", "c": "SSE-C", "c-key": "SSE-C"}.get(mode, _AT_REST[mode])
        cell.result = f"{len(data) // 1024} KiB PUT, GET byte for byte, HEAD; stored {stored_as}{note}"

    def _refused(self, cell: Cell) -> None:
        mode, version = cell.mode, cell.version
        presigner, rule = self.presigners[version], SSE_TABLE[mode]
        for method in ("PUT", "GET"):
            try:
                presigner.presign(method, BUCKET, self._key(mode, version), sse=self.sse(mode))
            except PresignError as exc:
                _expect(str(exc) == rule.sigv2_refusal, f"the library refused {method} for another reason: {exc}")
            else:
                raise _Failed(f"the library signed a SigV2 {method} with {rule.label}")
        cell.checks.append("library refuses PUT and GET")
        if mode == "c-key":
            self._unbound_key(cell)
        else:
            self._kms_forced(cell)

    def _forced_v2(self, method: str, key: str, headers: dict[str, str]) -> str:
        """A SigV2 pre-signed URL signed by hand over ``headers`` (as S3 computes it)."""
        creds: Credentials = self.credentials
        expires = str(int(time.time()) + 600)
        path = f"/{BUCKET}/{encode_key(key)}"
        text = sigv2.string_to_sign(method, "", "", expires, headers, sigv2.canonical_resource(path, []))
        signature = sigv2.sign(creds.secret_key, text)
        return (f"{self.url}{path}?AWSAccessKeyId={encode_value(creds.access_key)}&Expires={expires}"
                f"&Signature={encode_value(signature)}")

    def _kms_forced(self, cell: Cell) -> None:
        mode = cell.mode
        expected = ERRORS["KmsRequiresSigV4"]
        headers = {H_SSE: SSE_TABLE[mode].header_value or "", H_KMS_KEY: KMS_ALIAS}
        url = self._forced_v2("PUT", self._key(mode, "v2"), headers)
        response = self.http.put(url, headers=headers, content=b"forced")
        code, message = _error_of(response)
        _expect((response.status_code, code, message) == (expected.status, expected.code, expected.message),
                f"the forced SigV2 PUT answered {response.status_code} {code}: {message}")
        written = self._key(mode, "v4")  # an object the SigV4 cell stored under KMS
        url = self._forced_v2("GET", written, {})
        response = self.http.get(url)
        code, message = _error_of(response)
        _expect((response.status_code, code, message) == (expected.status, expected.code, expected.message),
                f"the forced SigV2 GET of a {mode} object answered {response.status_code} {code}: {message}")
        cell.checks.append(f"server refuses forced PUT and GET: {expected.status} {expected.code}")
        cell.result = (f"library: PresignError; server, forced SigV2 PUT and GET: {expected.status} "
                       f"{expected.code} (KMS requires SigV4)")

    def _unbound_key(self, cell: Cell) -> None:
        """The reason c-key needs SigV4: a SigV2 URL signed for key A also takes key B."""
        key = self._key("c-key", "v2")
        meant = {H_C_ALGORITHM: SSE_C_ALGORITHM, **customer_key_headers(self.customer_key)}
        url = self._forced_v2("PUT", key, meant)  # S3 leaves the two key headers out of the string to sign
        other = {H_C_ALGORITHM: SSE_C_ALGORITHM, **customer_key_headers(self.other_key)}
        response = self.http.put(url, headers=other, content=b"not bound")
        _expect(response.status_code == 200,
                f"the forced SigV2 URL with another key answered {response.status_code} {_error_of(response)}")
        md5 = base64.b64encode(hashlib.md5(self.other_key).digest()).decode()
        _expect(response.headers.get(H_C_KEY_MD5) == md5, "the object was not stored under the other key")
        cell.checks.append("forced SigV2 URL for key A accepted key B")
        cell.result = (f"library: PresignError; server: a forced SigV2 URL signed for key A took key B "
                       f"({response.status_code}), so SigV2 cannot bind the key")


@dataclass
class DemoRun:
    cells: list[Cell]
    url: str
    data_dir: Path
    ca: Path
    kms_arn: str
    access_key: str
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.cells) and all(c.passed for c in self.cells)


def run_demo(*, port: int = 0, keep: bool = False, on_cell: Callable[[Cell], None] | None = None) -> DemoRun:
    """Run every cell (SigV4 first: the SigV2 KMS cells read its objects)."""
    started = time.perf_counter()
    data_dir = Path(tempfile.mkdtemp(prefix="s3presign-demo-"))
    try:
        demo = Demo(data_dir, port)
        try:
            cells = []
            for version in VERSIONS:
                for mode in SSE_TABLE:
                    cell = demo.run(mode, version)
                    cells.append(cell)
                    if on_cell is not None:
                        on_cell(cell)
        finally:
            demo.close()
        return DemoRun(cells, demo.url, demo.data_dir, Path(demo.ca), demo.kms_arn, demo.credentials.access_key,
                       time.perf_counter() - started, demo.notes)
    finally:
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
