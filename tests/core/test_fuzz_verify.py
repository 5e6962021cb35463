"""A bounded fuzzer of the verifier: signed requests (SigV4 and SigV2, query and
header auth), each with one signed component mutated so that its meaning
changes, must never verify; arbitrary byte-level damage must only ever raise
S3Error (never another exception, which the server would answer 500)."""

from __future__ import annotations

import time
from urllib.parse import quote, unquote, urlsplit

from botocore.auth import HmacV1Auth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3presign import SSE, Credentials, Presigner
from s3presign.core import sigv2
from s3presign.core.canonical import trim_value
from s3presign.core.s3errors import S3Error
from s3presign.core.verify import verify_request

CREDS = Credentials("AKIDFUZZ", "fuzz/secret+key")
USERS = {CREDS.access_key: CREDS}
HOST = "127.0.0.1:9000"
ENDPOINT = f"http://{HOST}"
V4_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
           "X-Amz-Signature", "X-Amz-Security-Token")
V2_AUTH = ("AWSAccessKeyId", "Signature", "Expires")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
ascii_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)


class Signed:
    """One request as the server receives it: method, raw path, raw query, headers."""

    def __init__(self, method: str, path: str, query: str, headers: dict[str, str], now: float) -> None:
        self.method, self.path, self.query, self.headers, self.now = method, path, query, headers, now

    def verify(self, **changes):
        args = dict(method=self.method, path=self.path, query=self.query, headers=self.headers)
        args.update(changes)
        return verify_request(args["method"], args["path"], args["query"], args["headers"],
                              lookup=USERS.get, region="us-east-1", now=self.now + 5)

    def pairs(self) -> list[tuple[str, str | None]]:
        out = []
        for part in self.query.split("&") if self.query else ():
            name, eq, value = part.partition("=")
            out.append((unquote(name), unquote(value) if eq else None))
        return out


def _query(pairs) -> str:
    return "&".join(quote(k, safe="-_.~") if v is None else f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                    for k, v in pairs)


@st.composite
def signed_requests(draw):
    """A valid signed request from our presigner (query auth) or botocore (header auth)."""
    version = draw(st.sampled_from(["v4", "v2"]))
    kind = draw(st.sampled_from(["query", "header"]))
    method = draw(st.sampled_from(["GET", "PUT", "DELETE", "HEAD"]))
    key = draw(text)
    now = 1_780_000_000
    headers = {"content-type": draw(ascii_text), "x-amz-meta-note": draw(ascii_text)} if method == "PUT" else {}
    if kind == "query":
        extra = {}
        if method == "GET" and draw(st.booleans()):
            extra["response_overrides"] = {"content-disposition": draw(ascii_text)}
        sse = SSE.s3() if method == "PUT" and draw(st.booleans()) else None
        presigned = Presigner(CREDS, "us-east-1", ENDPOINT, signature_version=version).presign(
            method, "bucket", key, headers=headers, sse=sse, now=now, **extra)
        parts = urlsplit(presigned.url)
        sent = {"host": HOST, **{k.lower(): v for k, v in presigned.headers.items()}}
        return Signed(method, parts.path, parts.query, sent, now)
    url = f"{ENDPOINT}/bucket/{quote(key, safe='/~')}"
    if draw(st.booleans()):
        url += "?" + draw(st.sampled_from(["acl", "tagging", "uploads", "versionId=3", "partNumber=2&uploadId=u1"]))
    body = draw(st.binary(max_size=20)) if method == "PUT" else b""
    request = AWSRequest(method=method, url=url, data=body, headers={k.title(): v for k, v in headers.items()})
    creds = BotoCredentials(CREDS.access_key, CREDS.secret_key)
    if version == "v4":
        S3SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
    else:
        HmacV1Auth(creds).add_auth(request)
    now = time.time()  # botocore signs with the current time
    parts = urlsplit(url)
    sent = {k.lower(): v for k, v in request.headers.items()}
    sent["host"] = HOST
    return Signed(method, parts.path, parts.query, sent, now)


def _changed_text(draw, old: str) -> str:
    new = draw(st.one_of(text, st.just(old + draw(ascii_text)), st.just(old[:-1]) if len(old) > 1 else text))
    return new if new != old else old + "x"


@st.composite
def mutations(draw):
    """(request, mutation name, changes for verify) where the change alters a signed meaning."""
    req = draw(signed_requests())
    v4 = "x-amz-date" in req.headers and req.headers.get("authorization", "").startswith("AWS4") or "X-Amz-Signature" in req.query
    pairs = req.pairs()
    auth_names = V4_AUTH if v4 else V2_AUTH
    choices = ["method", "path", "signature", "add-header", "dup-auth"]
    if not v4:
        choices.append("sigv4-only")
    signed_params = [i for i, (k, _) in enumerate(pairs) if k != "X-Amz-Signature" and k != "Signature"
                     and (v4 or k in sigv2.SUBRESOURCES or k in V2_AUTH)]
    if signed_params:
        choices += ["param-value", "param-drop"]
    signed_headers = [h for h in req.headers if (h == "host" and v4) or h.startswith("x-amz-meta") or h == "content-type"]
    if signed_headers:
        choices.append("header-value")
    choice = draw(st.sampled_from(choices))
    if choice == "method":
        return req, choice, {"method": draw(st.sampled_from([m for m in ("GET", "PUT", "DELETE", "HEAD", "POST") if m != req.method]))}
    if choice == "path":
        key = unquote(req.path.split("/", 2)[2])
        return req, choice, {"path": "/bucket/" + quote(_changed_text(draw, key), safe="/~")}
    if choice == "signature":
        name = "X-Amz-Signature" if "X-Amz-Signature" in req.query else "Signature" if "Signature=" in req.query else None
        new = draw(st.one_of(text, st.binary(min_size=1, max_size=40).map(lambda b: b.decode("latin-1"))))
        if name:
            changed = [(k, new if k == name else v) for k, v in pairs]
            return req, choice, {"query": _query(changed)}
        headers = dict(req.headers)
        head, _, sig = headers["authorization"].rpartition("=" if v4 else ":")
        headers["authorization"] = head + ("=" if v4 else ":") + (new if new != sig else sig + "0")
        return req, choice, {"headers": headers}
    if choice == "sigv4-only":  # SigV2 cannot sign it, so it must be refused, never ignored
        sub = draw(st.sampled_from(sorted(sigv2.SIGV4_ONLY_SUBRESOURCES)))
        return req, choice, {"query": _query(pairs + [(sub, draw(st.sampled_from([None, "", "1"])))])}
    if choice == "add-header":
        headers = dict(req.headers)
        headers["x-amz-meta-" + draw(st.sampled_from(["added", "zz", "a"]))] = draw(ascii_text)
        return req, choice, {"headers": headers}
    if choice == "dup-auth":
        present = [k for k, _ in pairs if k in auth_names]
        if not present:  # header auth: append a sub-resource SigV2 signs or cannot sign, or any V4 param
            sub = draw(st.sampled_from(sorted(sigv2.SUBRESOURCES | sigv2.SIGV4_ONLY_SUBRESOURCES))) if not v4 else draw(ascii_text)
            if any(k == sub for k, _ in pairs):
                sub = "encryption"
            return req, "add-param", {"query": _query(pairs + [(sub, None)])}
        name = draw(st.sampled_from(present))
        return req, choice, {"query": _query(pairs + [(name, draw(text))])}
    if choice == "param-value":
        i = draw(st.sampled_from(signed_params))
        k, v = pairs[i]
        new = _changed_text(draw, v or "")
        changed = list(pairs)
        changed[i] = (k, new)
        return req, choice, {"query": _query(changed)}
    if choice == "param-drop":
        i = draw(st.sampled_from(signed_params))
        return req, choice, {"query": _query(pairs[:i] + pairs[i + 1:])}
    name = draw(st.sampled_from(signed_headers))
    headers = dict(req.headers)
    old = headers[name]
    new = _changed_text(draw, old)
    if trim_value(new) == trim_value(old) or (not v4 and new.strip() == old.strip()):
        new = old + "Z"
    headers[name] = new
    return req, choice, {"headers": headers}


@FUZZ
@given(signed_requests())
def test_unmutated_requests_verify(req):
    assert req.verify().access_key == CREDS.access_key


@FUZZ
@given(mutations())
def test_mutated_signed_component_never_verifies(case):
    req, what, changes = case
    try:
        result = req.verify(**changes)
    except S3Error as err:
        assert 400 <= err.status < 500, (what, err.code)
        return
    raise AssertionError(f"accepted after mutating {what}: {changes} ({result})")


def _damage(draw, value: str) -> str:
    at = draw(st.integers(0, len(value)))
    junk = draw(st.one_of(
        st.text(max_size=6),
        st.binary(max_size=6).map(lambda b: b.decode("latin-1")),
        st.sampled_from(["%", "%G0", "%C2%B2", "&", "=", "&&", "==", "%00", ";", ",", "\u00b2", "\u0665"]),
    ))
    cut = draw(st.integers(0, 3))
    return value[:at] + junk + value[at + cut:]


@FUZZ
@given(signed_requests(), st.data())
def test_damaged_requests_only_ever_raise_s3_errors(req, data):
    where = data.draw(st.sampled_from(["query", "path", "header", "method"]))
    if where == "query":
        changes = {"query": _damage(data.draw, req.query)}
    elif where == "path":
        changes = {"path": _damage(data.draw, req.path)}
    elif where == "method":
        changes = {"method": _damage(data.draw, req.method)}
    else:
        headers = dict(req.headers)
        name = data.draw(st.sampled_from(sorted(headers) + ["x-amz-date", "date", "x-amz-content-sha256"]))
        headers[name] = _damage(data.draw, headers.get(name, ""))
        changes = {"headers": headers}
    try:
        req.verify(**changes)
    except S3Error as err:
        assert 400 <= err.status < 500, err.code


def test_mutation_kinds_are_all_exercised():
    """The strategy reaches every kind of mutation (a fuzzer that mutates nothing proves nothing)."""
    seen: set[str] = set()

    # derandomized: the same examples every run, so the check never depends on luck
    @settings(max_examples=400, deadline=None, database=None, derandomize=True)
    @given(mutations())
    def collect(case):
        seen.add(case[1])

    collect()
    assert {"method", "path", "signature", "add-header", "param-value", "param-drop", "header-value", "sigv4-only"} <= seen
    assert seen & {"dup-auth", "add-param"}


@FUZZ
@given(method=st.sampled_from(["GET", "PUT", "DELETE"]), key=text, host=st.sampled_from([HOST, "b.s3.test:9000"]))
def test_v4_header_auth_without_host_signed_never_verifies(method, key, host):
    """botocore made to leave host out of SignedHeaders: S3 refuses, whatever else is signed."""
    import unittest.mock

    url = f"http://{host}/bucket/{quote(key, safe='/~')}"
    request = AWSRequest(method=method, url=url, data=b"")
    real = S3SigV4Auth.headers_to_sign

    def without_host(self, req):
        headers = real(self, req)
        del headers["host"]
        return headers

    with unittest.mock.patch.object(S3SigV4Auth, "headers_to_sign", without_host):
        S3SigV4Auth(BotoCredentials(CREDS.access_key, CREDS.secret_key), "s3", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = host
    parts = urlsplit(url)
    try:
        verify_request(method, parts.path, "", headers, lookup=USERS.get, region="us-east-1")
    except S3Error as err:
        assert (err.status, err.code) == (403, "AccessDenied")
        return
    raise AssertionError("accepted a SigV4 request that does not sign host")
