"""POST policies: build and sign them (V4 and V2), and evaluate a submitted form.

Building follows botocore's field and condition order so that output can be
compared byte for byte; evaluating follows S3's rules and error texts.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from . import sigv2, sigv4
from .errors import PresignError
from .s3errors import S3Error
from .sse import H_C_KEY, SSE

if TYPE_CHECKING:
    from .presign import PresignedPost, Presigner

FILENAME = "${filename}"
ISO8601 = "%Y-%m-%dT%H:%M:%SZ"
# Form fields that need no policy condition (S3's documented exemptions).
EXEMPT_FIELDS = frozenset({"policy", "x-amz-signature", "signature", "awsaccesskeyid", "file"})


def presign_post(
    presigner: "Presigner",
    bucket: str,
    key: str,
    *,
    sse: SSE | None,
    expires_in: Any,
    conditions: Sequence[Any],
    content_length_range: tuple[int, int] | None,
    fields: Mapping[str, str] | None,
    now: Any,
) -> "PresignedPost":
    from .presign import PresignedPost, _check_expires, _epoch, check_bucket_name

    version = presigner.signature_version
    check_bucket_name(bucket)
    if not isinstance(key, str) or not key:
        raise PresignError("the object key is empty; name the object, or use a prefix ending in ${filename}")
    expires = _check_expires(expires_in, version)
    t = _epoch(now)
    form: dict[str, str] = {}
    for name, value in (fields or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise PresignError(f"form field {name!r} needs a string name and value")
        form[name] = value
    conds: list[Any] = [_check_condition(c) for c in conditions]
    required: tuple[str, ...] = ()
    if sse is not None:
        if not isinstance(sse, SSE):
            raise PresignError("sse must be an SSE value, e.g. SSE.kms() or SSE.customer()")
        signed, required = sse.headers_for("PostObject", version)
        for name, value in signed.items():
            if name == H_C_KEY:
                continue  # the key stays out of the form; its MD5 binds it
            form[name] = value
            conds.append({name: value})
        if sse.is_customer:
            required = tuple(dict.fromkeys((H_C_KEY, *required)))
            conds.extend(["starts-with", "$" + n, ""] for n in required if n not in form)
    if content_length_range is not None:
        low, high = _check_range(content_length_range)
        conds.append(["content-length-range", low, high])
    conds.append({"bucket": bucket})
    if key.endswith(FILENAME):
        conds.append(["starts-with", "$key", key[: -len(FILENAME)]])
    else:
        conds.append({"key": key})
    form["key"] = key
    document: dict[str, Any] = {
        "expiration": time.strftime(ISO8601, time.gmtime(int(t) + expires)),
        "conditions": conds,
    }
    creds = presigner.credentials
    if version == "v4":
        stamp, date = sigv4.amz_date(int(t))
        scope = sigv4.credential_scope(date, presigner.region)
        auth = {
            "x-amz-algorithm": sigv4.ALGORITHM,
            "x-amz-credential": f"{creds.access_key}/{scope}",
            "x-amz-date": stamp,
        }
        if creds.session_token:
            auth["x-amz-security-token"] = creds.session_token
        form.update(auth)
        conds.extend({k: v} for k, v in auth.items())
        form["policy"] = encode_policy(document)
        form["x-amz-signature"] = sign_policy_v4(form["policy"], creds.secret_key, date, presigner.region)
    else:
        form["AWSAccessKeyId"] = creds.access_key
        if creds.session_token:
            form["x-amz-security-token"] = creds.session_token
            conds.append({"x-amz-security-token": creds.session_token})
        form["policy"] = encode_policy(document)
        form["signature"] = sigv2.sign(creds.secret_key, form["policy"])
    return PresignedPost(presigner.bucket_url(bucket), form, required, int(t) + expires)


def encode_policy(document: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def sign_policy_v4(policy_b64: str, secret_key: str, date: str, region: str) -> str:
    return sigv4.sign(sigv4.signing_key(secret_key, date, region), policy_b64)


def _check_condition(condition: Any) -> Any:
    if isinstance(condition, Mapping) and len(condition) == 1:
        return dict(condition)
    if isinstance(condition, (list, tuple)) and len(condition) == 3:
        op = condition[0]
        if op in ("eq", "starts-with") and isinstance(condition[1], str) and condition[1].startswith("$"):
            return list(condition)
        if op == "content-length-range":
            return ["content-length-range", *_check_range(condition[1:])]
    raise PresignError(
        f"invalid POST policy condition {condition!r}; use {{'field': 'value'}}, "
        "['eq', '$field', 'value'], ['starts-with', '$field', 'prefix'] or "
        "['content-length-range', MIN, MAX]"
    )


def _check_range(bounds: Sequence[Any]) -> tuple[int, int]:
    low, high = bounds
    if not all(isinstance(b, int) and not isinstance(b, bool) for b in (low, high)) or not 0 <= low <= high:
        raise PresignError(
            f"content-length-range {tuple(bounds)!r} needs whole numbers 0 <= MIN <= MAX"
        )
    return low, high


# --- evaluation (the server side) ------------------------------------------------
def decode_policy(policy_b64: str) -> dict[str, Any]:
    try:
        document = json.loads(base64.b64decode(policy_b64, validate=True))
    except (ValueError, RecursionError):
        raise S3Error("InvalidPolicyDocument", detail="Policy could not be parsed as a valid JSON string.") from None
    if not isinstance(document, dict) or "expiration" not in document or not isinstance(document.get("conditions"), list):
        raise S3Error("InvalidPolicyDocument", detail="Policy missing expiration or conditions.")
    return document


_ISO8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII)


def _expiration_epoch(text: Any) -> float:
    import datetime as _dt

    if not isinstance(text, str):
        raise S3Error("InvalidPolicyDocument", detail="Invalid Policy: Invalid 'expiration' value")
    if not _ISO8601.fullmatch(text):  # fromisoformat alone also takes "20991231" and dates without a time
        raise S3Error("InvalidPolicyDocument", detail=f"Invalid 'expiration' value: '{text}'")
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise S3Error("InvalidPolicyDocument", detail=f"Invalid 'expiration' value: '{text}'") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.timestamp()


def check_policy(
    document: Mapping[str, Any],
    form: Mapping[str, str],
    *,
    bucket: str,
    content_length: int | None,
    now: float | None = None,
) -> tuple[int, int] | None:
    """Raise S3's AccessDenied for an expired policy, a failed condition or an
    unlisted field. ``form`` has lower-case names. Returns the
    content-length-range, if any, for the caller to enforce while streaming."""
    if _expiration_epoch(document["expiration"]) < (time.time() if now is None else now):
        raise S3Error("PolicyExpired")
    values = dict(form)
    values["bucket"] = bucket
    covered: set[str] = set()
    length_range: tuple[int, int] | None = None
    for cond in document["conditions"]:
        if isinstance(cond, dict) and len(cond) == 1:
            ((name, expected),) = cond.items()
            op, field = "eq", name.lower()
        elif isinstance(cond, list) and len(cond) == 3 and cond[0] == "content-length-range":
            try:
                length_range = (int(cond[1]), int(cond[2]))
            except (TypeError, ValueError):
                raise S3Error("InvalidPolicyDocument", detail="Invalid content-length-range") from None
            continue
        elif isinstance(cond, list) and len(cond) == 3 and str(cond[0]).lower() in ("eq", "starts-with") and isinstance(cond[1], str):
            op, field, expected = str(cond[0]).lower(), cond[1].lstrip("$").lower(), cond[2]
        else:
            raise S3Error("InvalidPolicyDocument", detail=f"Invalid Policy: Invalid Simple-Condition: {json.dumps(cond)}")
        covered.add(field)
        actual = values.get(field)
        ok = actual is not None and (
            actual == expected
            if op == "eq"
            else all(part.strip().startswith(str(expected)) for part in actual.split(","))
            if field == "content-type"
            else actual.startswith(str(expected))
        )
        if not ok:
            shown = ["eq", "$" + field, expected] if isinstance(cond, dict) else cond
            raise S3Error("PolicyConditionFailed", condition=json.dumps(shown))
    for name in form:
        if name not in covered and name not in EXEMPT_FIELDS and not name.startswith("x-ignore-") and name != "bucket":
            raise S3Error("PolicyExtraField", field=name)
    if length_range is not None and content_length is not None:
        low, high = length_range
        if content_length > high:
            raise S3Error("EntityTooLarge")
        if content_length < low:
            raise S3Error("EntityTooSmall")
    return length_range


def post_signature_matches(form: Mapping[str, str], secret_key: str, *, region: str | None = None) -> bool:
    """Constant-time check of a form's V4 (x-amz-signature) or V2 (signature) signature."""
    policy_b64 = form.get("policy", "")
    if "x-amz-signature" in form:
        date = form.get("x-amz-date", "")[:8]
        scope_region = form.get("x-amz-credential", "").split("/")[2:3]
        expected = sign_policy_v4(policy_b64, secret_key, date, scope_region[0] if scope_region else (region or ""))
        return _same(expected, form["x-amz-signature"])
    return _same(sigv2.sign(secret_key, policy_b64), form.get("signature", ""))


def _same(expected: str, provided: str) -> bool:
    """Constant-time, on bytes: a client's non-ASCII text is a mismatch, never a TypeError."""
    return hmac.compare_digest(expected.encode("utf-8", "replace"), provided.encode("utf-8", "replace"))
