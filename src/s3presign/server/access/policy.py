"""Bucket policies: parse and validate once (MalformedPolicy, S3's messages), then
evaluate as a pure function of the policy and a request context.

Evaluation follows IAM's documented logic for one resource policy: a matching Deny
wins; otherwise a matching Allow allows; otherwise the policy has no opinion (the
caller falls back to ACLs and ownership). Condition operators are ONE table
(``OPERATORS``); "...IfExists", "ForAnyValue:" and "ForAllValues:" are modifiers
applied by one function (``_condition_holds``), not per operator.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import enum
import ipaddress
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Mapping

from s3presign.core.s3errors import S3Error
from s3presign.server.access.actions import ACCOUNT, ARN_PREFIX, BUCKET, IAM_ACTIONS, OBJECT

MAX_POLICY_BYTES = 20 * 1024  # S3's bucket policy size limit
VERSIONS = ("2012-10-17", "2008-10-17")


class Decision(enum.Enum):
    DENY = "Deny"
    ALLOW = "Allow"
    NO_OPINION = "NoOpinion"


# --- wildcards ------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _wildcard_re(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's glob: ``*`` any run (``/`` included), ``?`` exactly one character."""
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _wildcard_re(pattern, ignore_case).fullmatch(value) is not None


# --- condition operators: the table --------------------------------------------------


def _num(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def _date(s: str) -> float | None:
    """ISO 8601 (date, or date-time with Z or offset) or epoch seconds -> epoch seconds."""
    s = s.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return float(s)
    try:
        d = _dt.datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d.timestamp()


def _cmp(parse: Callable[[str], float | None], test: Callable[[float, float], bool]):
    def match(actual: str, wanted: str) -> bool:
        a, w = parse(actual), parse(wanted)
        return a is not None and w is not None and test(a, w)
    return match


def _ip(actual: str, wanted: str) -> bool:
    try:
        return ipaddress.ip_address(actual.strip()) in ipaddress.ip_network(wanted.strip(), strict=False)
    except ValueError:
        return False


def _arn(actual: str, wanted: str) -> bool:
    # Each of the six colon-separated parts is matched on its own; the last one keeps
    # any further colons (arn:aws:iam::123:role/a:b).
    a, w = actual.split(":", 5), wanted.split(":", 5)
    if len(a) != 6 or len(w) != 6:
        return False
    return all(wildcard_match(wp, ap) for wp, ap in zip(w, a))


def _binary(actual: str, wanted: str) -> bool:
    try:
        return base64.b64decode(actual, validate=True) == base64.b64decode(wanted, validate=True)
    except (binascii.Error, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class Operator:
    match: Callable[[str, str], bool]   # (request value, policy value) -> matches
    negated: bool = False               # the "Not" form: true when NO policy value matches


_EQ = lambda a, w: a == w  # noqa: E731
_EQ_IC = lambda a, w: a.casefold() == w.casefold()  # noqa: E731
_LIKE = lambda a, w: wildcard_match(w, a)  # noqa: E731
_BOOL = lambda a, w: a.lower() == w.lower()  # noqa: E731

OPERATORS: dict[str, Operator] = {
    "StringEquals": Operator(_EQ),
    "StringNotEquals": Operator(_EQ, negated=True),
    "StringEqualsIgnoreCase": Operator(_EQ_IC),
    "StringNotEqualsIgnoreCase": Operator(_EQ_IC, negated=True),
    "StringLike": Operator(_LIKE),
    "StringNotLike": Operator(_LIKE, negated=True),
    "NumericEquals": Operator(_cmp(_num, lambda a, w: a == w)),
    "NumericNotEquals": Operator(_cmp(_num, lambda a, w: a == w), negated=True),
    "NumericLessThan": Operator(_cmp(_num, lambda a, w: a < w)),
    "NumericLessThanEquals": Operator(_cmp(_num, lambda a, w: a <= w)),
    "NumericGreaterThan": Operator(_cmp(_num, lambda a, w: a > w)),
    "NumericGreaterThanEquals": Operator(_cmp(_num, lambda a, w: a >= w)),
    "DateEquals": Operator(_cmp(_date, lambda a, w: a == w)),
    "DateNotEquals": Operator(_cmp(_date, lambda a, w: a == w), negated=True),
    "DateLessThan": Operator(_cmp(_date, lambda a, w: a < w)),
    "DateLessThanEquals": Operator(_cmp(_date, lambda a, w: a <= w)),
    "DateGreaterThan": Operator(_cmp(_date, lambda a, w: a > w)),
    "DateGreaterThanEquals": Operator(_cmp(_date, lambda a, w: a >= w)),
    "Bool": Operator(_BOOL),
    "BinaryEquals": Operator(_binary),
    "IpAddress": Operator(_ip),
    "NotIpAddress": Operator(_ip, negated=True),
    "ArnEquals": Operator(_arn),
    "ArnLike": Operator(_arn),
    "ArnNotEquals": Operator(_arn, negated=True),
    "ArnNotLike": Operator(_arn, negated=True),
    # Null is not a comparison: "true" means the key is absent. Handled in
    # _condition_holds; here so that the table lists every operator.
    "Null": Operator(_BOOL),
}

QUALIFIERS = ("ForAnyValue", "ForAllValues")

# S3's own condition keys (lower-case). A policy naming another s3: key is refused;
# aws: keys are global and accepted whatever they are, as S3 does.
S3_CONDITION_KEYS = frozenset(k.lower() for k in (
    "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm", "s3:signatureversion",
    "s3:signatureAge", "s3:authType", "s3:x-amz-content-sha256", "s3:prefix",
    "s3:max-keys", "s3:delimiter", "s3:RequestObjectTagKeys", "s3:x-amz-acl",
    "s3:VersionId", "s3:x-amz-copy-source", "s3:x-amz-metadata-directive",
    "s3:x-amz-storage-class", "s3:x-amz-website-redirect-location",
    "s3:x-amz-grant-read", "s3:x-amz-grant-write", "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write-acp", "s3:x-amz-grant-full-control", "s3:TlsVersion",
    "s3:ResourceAccount", "s3:LocationConstraint", "s3:object-lock-mode",
    "s3:object-lock-retain-until-date", "s3:object-lock-legal-hold",
    "s3:object-lock-remaining-retention-days", "s3:ExistingObjectTag",
    "s3:RequestObjectTag", "s3:x-amz-server-side-encryption-context",
    "s3:x-amz-object-ownership", "s3:AccessPointNetworkOrigin", "s3:DataAccessPointArn",
    "s3:DataAccessPointAccount", "s3:x-amz-checksum-algorithm", "s3:if-match",
    "s3:if-none-match", "s3:ObjectCreationOperation",
))
_TAG_KEY_PREFIXES = ("s3:existingobjecttag/", "s3:requestobjecttag/")


# --- typed policy ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principals:
    everyone: bool = False
    aws: tuple[str, ...] = ()          # account ids (12 digits) or IAM ARNs
    canonical: tuple[str, ...] = ()    # canonical user ids
    services: tuple[str, ...] = ()     # never matched by a request here


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str                      # a key of OPERATORS
    key: str                           # lower-case
    values: tuple[str, ...]
    qualifier: str | None = None       # ForAnyValue / ForAllValues
    if_exists: bool = False


@dataclass(frozen=True, slots=True)
class Statement:
    effect: str                        # "Allow" | "Deny"
    principals: Principals
    not_principal: bool
    actions: tuple[str, ...]           # lower-case patterns
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...] = ()
    sid: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]
    version: str = "2008-10-17"
    id: str | None = None
    text: str = ""                     # as sent: GetBucketPolicy returns it unchanged

    @property
    def variables(self) -> bool:
        """Policy variables (``${aws:username}``) exist only in version 2012-10-17."""
        return self.version == "2012-10-17"


# --- parsing ------------------------------------------------------------------------------


def _strings(value: object, err: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise S3Error(err)


def _condition_values(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, (int, float)):
            out.append(json.dumps(v))
        elif isinstance(v, str):
            out.append(v)
        else:
            raise S3Error("PolicySyntax")
    return tuple(out)


def _principals(value: object, known: Callable[[str], bool] | None) -> Principals:
    if value == "*":
        return Principals(everyone=True)
    if not isinstance(value, dict) or not value:
        raise S3Error("PolicyInvalidPrincipal")
    everyone, aws, canonical, services = False, [], [], []
    for name, v in value.items():
        listed = _strings(v, "PolicyInvalidPrincipal")
        if not listed or any(not x for x in listed):
            raise S3Error("PolicyInvalidPrincipal")
        if name == "AWS":
            for p in listed:
                if p == "*":
                    everyone = True
                elif re.fullmatch(r"\d{12}", p) or re.fullmatch(r"arn:aws:iam::\d{12}:(root|user/.+|role/.+)", p):
                    if known is not None and not known(p):
                        raise S3Error("PolicyInvalidPrincipal")
                    aws.append(p)
                else:
                    raise S3Error("PolicyInvalidPrincipal")
        elif name == "CanonicalUser":
            for p in listed:
                if known is not None and not known(p):
                    raise S3Error("PolicyInvalidPrincipal")
            canonical.extend(listed)
        elif name == "Service":
            services.extend(listed)
        else:
            raise S3Error("PolicyInvalidPrincipal")
    return Principals(everyone, tuple(aws), tuple(canonical), tuple(services))


def _action_kinds(pattern: str) -> set[str]:
    return {kind for name, kind in IAM_ACTIONS.items() if wildcard_match(pattern, name, ignore_case=True)}


def _check_resource(pattern: str, bucket: str | None) -> None:
    rest = pattern[len(ARN_PREFIX):] if pattern.startswith(ARN_PREFIX) else None
    if not rest:
        raise S3Error("PolicyInvalidResource")
    named = rest.split("/", 1)[0]
    if bucket is not None and "${" not in named and not wildcard_match(named, bucket):
        raise S3Error("PolicyInvalidResource")


def _reaches(pattern: str, kind: str) -> bool:
    rest = pattern[len(ARN_PREFIX):]
    if kind == BUCKET:
        return "/" not in rest
    if kind == OBJECT:
        return "/" in rest or "*" in rest
    return False


def split_operator(written: str) -> tuple[str, str | None, bool]:
    """'ForAllValues:StringLikeIfExists' -> ('StringLike', 'ForAllValues', True)."""
    qualifier = None
    base = written
    if ":" in written:
        qualifier, base = written.split(":", 1)
        if qualifier not in QUALIFIERS:
            raise S3Error("PolicyInvalidConditionType", operator=written)
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    if base not in OPERATORS or (base == "Null" and (if_exists or qualifier)):
        raise S3Error("PolicyInvalidConditionType", operator=written)
    return base, qualifier, if_exists


def _check_key(key: str) -> None:
    if key.startswith("aws:") and len(key) > 4:
        return
    if key in S3_CONDITION_KEYS:
        return
    if any(key.startswith(p) and len(key) > len(p) for p in _TAG_KEY_PREFIXES):
        return
    raise S3Error("PolicyInvalidConditionKey")


def _conditions(value: object) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        raise S3Error("PolicySyntax")
    out = []
    for written, keys in value.items():
        base, qualifier, if_exists = split_operator(written)
        if not isinstance(keys, dict):
            raise S3Error("PolicySyntax")
        for key, values in keys.items():
            lk = key.lower()
            _check_key(lk)
            vals = _condition_values(values)
            if base in ("IpAddress", "NotIpAddress"):
                for v in vals:
                    try:
                        ipaddress.ip_network(v.strip(), strict=False)
                    except ValueError:
                        raise S3Error("PolicyInvalidIpCondition") from None
            out.append(Condition(base, lk, vals, qualifier, if_exists))
    return tuple(out)


_STATEMENT_FIELDS = {
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
    "Resource", "NotResource", "Condition",
}


def _statement(item: object, bucket: str | None, known: Callable[[str], bool] | None) -> Statement:
    if not isinstance(item, dict):
        raise S3Error("PolicySyntax")
    if any(k not in _STATEMENT_FIELDS for k in item):
        raise S3Error("PolicySyntax")
    for a, b in (("Principal", "NotPrincipal"), ("Action", "NotAction"), ("Resource", "NotResource")):
        if a in item and b in item:
            raise S3Error("PolicySyntax")
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise S3Error("PolicySyntax")
    if "Effect" not in item:
        raise S3Error("PolicyMissingEffect")
    effect = item["Effect"]
    if not isinstance(effect, str):
        raise S3Error("PolicySyntax")
    if effect not in ("Allow", "Deny"):
        raise S3Error("PolicyInvalidEffect", effect=effect)
    not_principal = "NotPrincipal" in item
    if not not_principal and "Principal" not in item:
        raise S3Error("PolicyMissingPrincipal")
    principals = _principals(item["NotPrincipal" if not_principal else "Principal"], known)
    if not_principal and effect == "Allow":
        # S3 refuses NotPrincipal with Allow (it would grant nearly everyone).
        raise S3Error("PolicyInvalidPrincipal")
    not_action = "NotAction" in item
    if not not_action and "Action" not in item:
        raise S3Error("PolicyMissingAction")
    actions = tuple(a.lower() for a in _strings(item["NotAction" if not_action else "Action"], "PolicySyntax"))
    if not actions:
        raise S3Error("PolicyInvalidAction")
    kinds_per_action = []
    for a in actions:
        if a != "*" and not a.startswith("s3:"):
            raise S3Error("PolicyInvalidAction")
        kinds = _action_kinds("s3:*" if a == "*" else a)
        if not kinds:
            raise S3Error("PolicyInvalidAction")
        kinds_per_action.append(kinds)
    not_resource = "NotResource" in item
    if not not_resource and "Resource" not in item:
        raise S3Error("PolicyMissingResource")
    resources = _strings(item["NotResource" if not_resource else "Resource"], "PolicySyntax")
    if not resources:
        raise S3Error("PolicyInvalidResource")
    for r in resources:
        _check_resource(r, bucket)
    if not not_action and not not_resource:
        for kinds in kinds_per_action:
            if not any(_reaches(r, k) for r in resources for k in kinds if k != ACCOUNT):
                raise S3Error("PolicyActionResourceMismatch")
    conditions = _conditions(item["Condition"]) if "Condition" in item else ()
    return Statement(effect, principals, not_principal, actions, not_action, resources,
                     not_resource, conditions, sid)


def parse_policy(
    body: bytes | str,
    bucket: str | None = None,
    *,
    known_principal: Callable[[str], bool] | None = None,
) -> Policy:
    """A PutBucketPolicy body -> Policy, or S3Error (MalformedPolicy with S3's message).

    ``bucket``: every Resource must name it (S3: "Policy has invalid resource").
    ``known_principal``: S3 refuses a principal that does not exist; None accepts any
    well-formed one.
    """
    raw = body.encode() if isinstance(body, str) else bytes(body)
    if len(raw) > MAX_POLICY_BYTES * 4:   # far beyond any normalisation: do not parse
        raise S3Error("PolicyTooLarge")
    if not raw.startswith(b"{"):   # S3 means it: the first byte, not the first non-blank
        raise S3Error("PolicyNotJson")
    try:
        text = raw.decode("utf-8")
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError):
        raise S3Error("PolicyInvalidJson") from None
    if len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_POLICY_BYTES:
        raise S3Error("PolicyTooLarge")
    if not isinstance(doc, dict):
        raise S3Error("PolicyNotJson")
    if any(k not in ("Version", "Id", "Statement") for k in doc):
        raise S3Error("PolicySyntax")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise S3Error("PolicyVersion")
    pid = doc.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise S3Error("PolicySyntax")
    if "Statement" not in doc:
        raise S3Error("PolicyMissingStatement")
    st = doc["Statement"]
    if isinstance(st, dict):
        st = [st]
    if not isinstance(st, list):
        raise S3Error("PolicySyntax")
    if not st:
        raise S3Error("PolicyEmptyStatement")
    statements = tuple(_statement(s, bucket, known_principal) for s in st)
    return Policy(statements, version, pid, text)


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate member {k}")
        out[k] = v
    return out


# --- the request context -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestPrincipal:
    """Who asks. Anonymous: every field None."""

    account_id: str | None = None     # 12 digits
    canonical_id: str | None = None   # 64 hex
    arn: str | None = None            # arn:aws:iam::<account>:root or :user/<name>

    @property
    def anonymous(self) -> bool:
        return self.canonical_id is None and self.account_id is None

    @classmethod
    def anonymous_user(cls) -> "RequestPrincipal":
        return cls()


ANONYMOUS = RequestPrincipal()


@dataclass(frozen=True, slots=True)
class RequestContext:
    principal: RequestPrincipal
    action: str                                  # "s3:GetObject"
    resource: str                                # "arn:aws:s3:::b/k", "*" for account actions
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # lower-case names


# --- evaluation ---------------------------------------------------------------------------


def _principal_matches(p: Principals, who: RequestPrincipal) -> bool:
    if p.everyone:
        return True
    if who.anonymous:
        return False
    for entry in p.aws:
        if re.fullmatch(r"\d{12}", entry) or entry.endswith(":root"):
            account = entry if entry.isdigit() else entry.split(":")[4]
            if who.account_id == account:
                return True
        elif who.arn == entry:
            return True
    return who.canonical_id is not None and who.canonical_id in p.canonical


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _substitute(text: str, keys: Mapping[str, tuple[str, ...]]) -> str | None:
    """Policy variables: ${aws:username} etc. from the context; ${*} ${?} ${$} are the
    literal characters. An unresolvable variable makes the value match nothing (None)."""
    if "${" not in text:
        return text
    missing = False

    def repl(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1).strip()
        if name in ("*", "?", "$"):
            return name
        vals = keys.get(name.lower())
        if not vals or len(vals) != 1:
            missing = True
            return ""
        return vals[0]

    out = _VARIABLE.sub(repl, text)
    return None if missing else out


def _resolved(values: tuple[str, ...], keys, variables: bool) -> list[str]:
    if not variables:
        return list(values)
    return [v for v in (_substitute(x, keys) for x in values) if v is not None]


def _condition_holds(c: Condition, keys: Mapping[str, tuple[str, ...]], variables: bool) -> bool:
    actual = keys.get(c.key)
    present = bool(actual)
    wanted = _resolved(c.values, keys, variables)
    if c.operator == "Null":
        # "true": the key must be absent; "false": present. Several values: any.
        return any((w.lower() == "true") == (not present) for w in wanted)
    op = OPERATORS[c.operator]
    if not present:
        # IAM: a missing key fails a condition, except IfExists (true), a negated
        # operator (true: nothing matched), and ForAllValues (true: vacuously).
        if c.if_exists or c.qualifier == "ForAllValues":
            return True
        if c.qualifier == "ForAnyValue":
            return False
        return op.negated

    def one(value: str) -> bool:
        hit = any(op.match(value, w) for w in wanted)
        return not hit if op.negated else hit

    assert actual is not None
    if c.qualifier == "ForAllValues":
        return all(one(v) for v in actual)
    return any(one(v) for v in actual)


def statement_applies(s: Statement, ctx: RequestContext, variables: bool = True) -> bool:
    """Principal, action, resource and every condition match the request."""
    if _principal_matches(s.principals, ctx.principal) == s.not_principal:
        return False
    action_hit = any(
        wildcard_match("s3:*" if a == "*" else a, ctx.action, ignore_case=True) for a in s.actions
    )
    if action_hit == s.not_action:
        return False
    resources = _resolved(s.resources, ctx.keys, variables)
    resource_hit = any(r == "*" or wildcard_match(r, ctx.resource) for r in resources)
    if resource_hit == s.not_resource:
        return False
    return all(_condition_holds(c, ctx.keys, variables) for c in s.conditions)


def evaluate(policy: Policy | None, ctx: RequestContext) -> Decision:
    """Deny if any statement denies; else Allow if any allows; else NoOpinion."""
    if policy is None:
        return Decision.NO_OPINION
    allowed = False
    for s in policy.statements:
        if statement_applies(s, ctx, policy.variables):
            if s.effect == "Deny":
                return Decision.DENY
            allowed = True
    return Decision.ALLOW if allowed else Decision.NO_OPINION


# --- "public", as Block Public Access defines it ----------------------------------------

# Keys whose fixed values confine a statement to a known party (AWS: "The meaning of
# public"): a statement to everyone conditioned on one of them is not public.
_CONFINING_KEYS = frozenset(k.lower() for k in (
    "aws:SourceArn", "aws:SourceVpc", "aws:SourceVpce", "aws:SourceOwner",
    "aws:SourceAccount", "s3:x-amz-server-side-encryption-aws-kms-key-id", "aws:userid",
    "aws:PrincipalOrgID", "aws:PrincipalAccount", "aws:PrincipalArn",
    "s3:DataAccessPointArn", "s3:DataAccessPointAccount",
))
_FIXED_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "ArnEquals", "StringLike", "ArnLike"})


def _confines(c: Condition) -> bool:
    if c.if_exists or c.qualifier == "ForAllValues":
        return False   # a request without the key passes: confines nothing
    if any("*" in v or "?" in v or "${" in v for v in c.values):
        return False
    if c.key == "aws:sourceip":
        if c.operator != "IpAddress":
            return False
        for v in c.values:
            try:
                net = ipaddress.ip_network(v.strip(), strict=False)
            except ValueError:
                return False
            if net.prefixlen < (8 if net.version == 4 else 32):
                return False
        return True
    if c.key == "aws:userid" and any(v.endswith(":*") for v in c.values):
        return False
    return c.key in _CONFINING_KEYS and c.operator in _FIXED_OPERATORS


def is_public(policy: Policy | None) -> bool:
    """GetBucketPolicyStatus IsPublic: an Allow to everyone (Principal "*", or any
    NotPrincipal) that no condition confines to fixed values."""
    if policy is None:
        return False
    for s in policy.statements:
        if s.effect != "Allow":
            continue
        to_everyone = s.principals.everyone or s.not_principal or any(
            "*" in p for p in (*s.principals.aws, *s.principals.canonical)
        )
        if to_everyone and not any(_confines(c) for c in s.conditions):
            return True
    return False
