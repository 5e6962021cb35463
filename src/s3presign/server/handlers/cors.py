"""CORS, so browsers can use pre-signed URLs: Put/Get/DeleteBucketCors, OPTIONS
preflights answered from the bucket's rules, and Access-Control-* headers on
real responses.

Preflights are not authenticated (a browser sends no credentials with them),
so they reveal nothing but the rules' verdict. The rules live in the bucket's
configuration as plain dicts (``origins``, ``methods``, ``headers``,
``expose``, ``max_age``, ``id``).
"""

from __future__ import annotations

from typing import Any, Mapping

from s3presign.core.s3errors import S3Error
from s3presign.server import xml
from s3presign.server.handlers.context import Ctx
from s3presign.server.handlers.subresource import BucketSubresource
from s3presign.server.http import Request, Response

METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_RULES = 100
_VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
Rule = Mapping[str, Any]


def _matches(pattern: str, value: str) -> bool:
    """S3's patterns: literal, or one "*" standing for any run of characters."""
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def _one_wildcard(values: list[str], error: str, name: str) -> None:
    for value in values:
        if value.count("*") > 1:
            raise S3Error(error, **{name: value})


def parse_rules(body: bytes) -> list[dict[str, Any]]:
    """A CORSConfiguration body as rules, refused as S3 refuses it."""
    root = xml.parse(body)
    if xml.local(root.tag) != "CORSConfiguration":
        raise S3Error("MalformedXML")
    rules = []
    for node in xml.children(root, "CORSRule"):
        values = {name: [(c.text or "").strip() for c in xml.children(node, name)]
                  for name in ("AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader")}
        if not values["AllowedOrigin"] or not values["AllowedMethod"]:
            raise S3Error("MalformedXML")
        for method in values["AllowedMethod"]:
            if method not in METHODS:
                raise S3Error("CORSUnsupportedMethod", method=method)
        _one_wildcard(values["AllowedOrigin"], "CORSOriginWildcards", "origin")
        _one_wildcard(values["AllowedHeader"], "CORSHeaderWildcards", "header")
        max_age = xml.text(node, "MaxAgeSeconds")
        if max_age is not None and not max_age.strip().isdigit():
            raise S3Error("MalformedXML")
        rules.append({
            "id": xml.text(node, "ID"),
            "origins": values["AllowedOrigin"],
            "methods": values["AllowedMethod"],
            "headers": [h.lower() for h in values["AllowedHeader"]],
            "expose": values["ExposeHeader"],
            "max_age": int(max_age) if max_age is not None else None,
        })
    if not rules or len(rules) > MAX_RULES:
        raise S3Error("MalformedXML")
    return rules


def render_rules(rules: list[Rule]) -> bytes:
    out = []
    for rule in rules:
        parts = [xml.el("ID", rule.get("id"))]
        parts += [xml.el("AllowedOrigin", o) for o in rule["origins"]]
        parts += [xml.el("AllowedMethod", m) for m in rule["methods"]]
        parts += [xml.el("AllowedHeader", h) for h in rule["headers"]]
        parts += [xml.el("ExposeHeader", h) for h in rule["expose"]]
        parts.append(xml.el("MaxAgeSeconds", rule.get("max_age")))
        out.append(xml.tree("CORSRule", *parts))
    return xml.document("CORSConfiguration", out)


def _rule_for(rules: list[Rule], origin: str, method: str, headers: list[str] = ()) -> tuple[Rule, str] | None:
    """The first rule allowing this origin, method and every requested header, with the
    origin pattern that matched."""
    for rule in rules:
        if method not in rule["methods"]:
            continue
        pattern = next((o for o in rule["origins"] if _matches(o, origin)), None)
        if pattern is None:
            continue
        if all(any(_matches(h, name) for h in rule["headers"]) for name in headers):
            return rule, pattern
    return None


def _allow(resp: Response, rule: Rule, pattern: str, origin: str) -> Response:
    if pattern == "*":
        resp.header("Access-Control-Allow-Origin", "*")
    else:
        resp.header("Access-Control-Allow-Origin", origin).header("Access-Control-Allow-Credentials", "true")
    resp.header("Access-Control-Allow-Methods", ", ".join(rule["methods"]))
    if rule["expose"]:
        resp.header("Access-Control-Expose-Headers", ", ".join(rule["expose"]))
    if rule.get("max_age") is not None:
        resp.header("Access-Control-Max-Age", str(rule["max_age"]))
    return resp.header("Vary", _VARY)


# --- the bucket sub-resource ---------------------------------------------------------


CORS = BucketSubresource("cors", parse_rules, render_rules, "NoSuchCORSConfiguration", require_digest=True)
put_bucket_cors, get_bucket_cors, delete_bucket_cors = CORS.put, CORS.get, CORS.delete


# --- preflight and real requests ----------------------------------------------------


async def preflight(ctx: Ctx) -> Response:
    """OPTIONS: 200 with the allowing rule's headers, or S3's 403 (no rule matches)."""
    headers = ctx.req.headers
    origin = headers.get("origin")
    if not origin:
        raise S3Error("CORSMissingOrigin")
    method = headers.get("access-control-request-method", "")
    if method not in METHODS:
        raise S3Error("CORSBadRequestMethod", method=method)
    if not ctx.bucket:
        raise S3Error("CORSForbidden", elements={"Method": method, "ResourceType": "SERVICE"})
    rules = (await ctx.state.store.bucket(ctx.bucket)).config.get("cors")
    if not rules:
        raise S3Error("CORSNotEnabled")
    requested = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
    found = _rule_for(rules, origin, method, requested)
    if found is None:
        raise S3Error("CORSForbidden", elements={"Method": method, "ResourceType": "OBJECT" if ctx.key else "BUCKET"})
    resp = _allow(Response(200), *found, origin)
    if requested:
        resp.header("Access-Control-Allow-Headers", ", ".join(requested))
    return resp


def decorate(storage: Any, req: Request, bucket: str, resp: Response) -> None:
    """Access-Control-* on an actual (non-preflight) response whose Origin a rule allows."""
    origin = req.headers.get("origin")
    if not origin or not bucket or req.method == "OPTIONS":
        return
    try:
        rules = storage.bucket(bucket).config.get("cors")
    except S3Error:
        return
    found = _rule_for(rules, origin, req.method) if rules else None
    if found is not None:
        _allow(resp, *found, origin)
