"""Policy evaluation as a pure function: operators, modifiers, missing keys, wildcards,
Not* elements, deny precedence, policy variables."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, strategies as st

from s3presign.server.access.policy import (
    ANONYMOUS,
    OPERATORS,
    Condition,
    Decision,
    RequestContext,
    RequestPrincipal,
    _condition_holds,
    evaluate,
    parse_policy,
    wildcard_match,
)

BUCKET = "photos"
ALICE = RequestPrincipal("111122223333", "a" * 64, "arn:aws:iam::111122223333:root")
BOB = RequestPrincipal("444455556666", "b" * 64, "arn:aws:iam::444455556666:user/bob")
OBJ = f"arn:aws:s3:::{BUCKET}/k"


def policy(*statements, version="2012-10-17"):
    return parse_policy(json.dumps({"Version": version, "Statement": list(statements)}), BUCKET)


def allow(**kw):
    s = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    s.update(kw)
    return s


def deny(**kw):
    return allow(Effect="Deny", **kw)


def ctx(action="s3:GetObject", resource=OBJ, who=BOB, **keys):
    return RequestContext(who, action, resource, {k.lower(): v if isinstance(v, tuple) else (v,) for k, v in keys.items()})


def holds(op, key, values, present, qualifier=None, if_exists=False):
    c = Condition(op, key, tuple(values), qualifier, if_exists)
    keys = {} if present is None else {key: tuple(present)}
    return _condition_holds(c, keys, True)


# --- one row per operator: (operator, policy values, request value, expected) ---------
CASES = [
    ("StringEquals", ["abc"], "abc", True), ("StringEquals", ["abc"], "ABC", False),
    ("StringNotEquals", ["abc"], "abd", True), ("StringNotEquals", ["abc", "abd"], "abd", False),
    ("StringEqualsIgnoreCase", ["AbC"], "aBc", True), ("StringEqualsIgnoreCase", ["abc"], "abd", False),
    ("StringNotEqualsIgnoreCase", ["AbC"], "abc", False), ("StringNotEqualsIgnoreCase", ["abc"], "x", True),
    ("StringLike", ["home/*/doc?.txt"], "home/al/ice/doc1.txt", True), ("StringLike", ["a?c"], "abbc", False),
    ("StringLike", ["ABC*"], "abcd", False),
    ("StringNotLike", ["tmp/*"], "home/x", True), ("StringNotLike", ["tmp/*"], "tmp/x", False),
    ("NumericEquals", ["10"], "10.0", True), ("NumericEquals", ["10"], "11", False),
    ("NumericEquals", ["10"], "ten", False),
    ("NumericNotEquals", ["10"], "11", True), ("NumericNotEquals", ["10"], "10", False),
    ("NumericLessThan", ["600000"], "599999", True), ("NumericLessThan", ["600000"], "600000", False),
    ("NumericLessThanEquals", ["5"], "5", True), ("NumericLessThanEquals", ["5"], "6", False),
    ("NumericGreaterThan", ["5"], "6", True), ("NumericGreaterThan", ["5"], "5", False),
    ("NumericGreaterThanEquals", ["5"], "5", True), ("NumericGreaterThanEquals", ["5"], "4.9", False),
    ("DateEquals", ["2026-01-01T00:00:00Z"], "1767225600", True),
    ("DateEquals", ["2026-01-01"], "2026-01-01T00:00:00+00:00", True),
    ("DateNotEquals", ["2026-01-01T00:00:00Z"], "2026-01-01T00:00:01Z", True),
    ("DateLessThan", ["2026-06-01T00:00:00Z"], "2026-05-31T23:59:59Z", True),
    ("DateLessThan", ["2026-06-01T00:00:00Z"], "2026-06-01T00:00:00Z", False),
    ("DateLessThanEquals", ["2026-06-01T00:00:00Z"], "2026-06-01T02:00:00+02:00", True),
    ("DateGreaterThan", ["1767225600"], "2026-01-01T00:00:01Z", True),
    ("DateGreaterThanEquals", ["2026-01-01T00:00:00Z"], "2025-12-31T23:59:59Z", False),
    ("DateGreaterThan", ["2026-01-01"], "not a date", False),
    ("Bool", ["true"], "true", True), ("Bool", ["false"], "true", False), ("Bool", ["True"], "true", True),
    ("BinaryEquals", ["QmluYXJ5"], "QmluYXJ5", True), ("BinaryEquals", ["QmluYXJ5"], "QmluYXJ6", False),
    ("IpAddress", ["192.0.2.0/24"], "192.0.2.77", True), ("IpAddress", ["192.0.2.0/24"], "192.0.3.1", False),
    ("IpAddress", ["2001:db8::/32"], "2001:db8:1::5", True), ("IpAddress", ["2001:db8::/32"], "2001:db9::1", False),
    ("IpAddress", ["203.0.113.7"], "203.0.113.7", True), ("IpAddress", ["10.0.0.0/8"], "::1", False),
    ("NotIpAddress", ["192.0.2.0/24"], "198.51.100.1", True), ("NotIpAddress", ["192.0.2.0/24"], "192.0.2.1", False),
    ("ArnEquals", ["arn:aws:iam::111122223333:root"], "arn:aws:iam::111122223333:root", True),
    ("ArnLike", ["arn:aws:iam::*:user/*"], "arn:aws:iam::444455556666:user/bob", True),
    ("ArnLike", ["arn:aws:iam::*:user/*"], "arn:aws:iam::444455556666:root", False),
    ("ArnLike", ["arn:aws:s3:::b/*"], "arn:aws:s3:::b/x:y:z", True),
    ("ArnLike", ["arn:aws:iam::*:*"], "not-an-arn", False),
    ("ArnNotEquals", ["arn:aws:iam::111122223333:root"], "arn:aws:iam::444455556666:root", True),
    ("ArnNotLike", ["arn:aws:iam::1111*"], "arn:aws:iam::111122223333:root", True),
    ("ArnNotLike", ["arn:aws:iam::*:root"], "arn:aws:iam::111122223333:root", False),
]


@pytest.mark.parametrize("op, values, actual, expected", CASES)
def test_operator(op, values, actual, expected):
    assert holds(op, "k", values, [actual]) is expected


def test_every_operator_in_the_table_has_a_case():
    assert {c[0] for c in CASES} | {"Null"} == set(OPERATORS)


# --- missing keys, IfExists, Null ----------------------------------------------------------
POSITIVE = [n for n, o in OPERATORS.items() if not o.negated and n != "Null"]
NEGATED = [n for n, o in OPERATORS.items() if o.negated]


@pytest.mark.parametrize("op", POSITIVE)
def test_a_missing_key_fails_a_positive_operator(op):
    assert holds(op, "k", ["x"], None) is False


@pytest.mark.parametrize("op", NEGATED)
def test_a_missing_key_satisfies_a_negated_operator(op):
    # IAM: "If the key ... is not present in the request context ... the condition
    # returns true" for the negated operators (nothing matched).
    assert holds(op, "k", ["x"], None) is True


@pytest.mark.parametrize("op", POSITIVE + NEGATED)
def test_ifexists_is_true_when_the_key_is_missing_and_the_operator_otherwise(op):
    assert holds(op, "k", ["x"], None, if_exists=True) is True
    for _, values, actual, expected in (c for c in CASES if c[0] == op):
        assert holds(op, "k", values, [actual], if_exists=True) is expected


def test_null_tests_presence():
    assert holds("Null", "k", ["true"], None) is True
    assert holds("Null", "k", ["true"], ["v"]) is False
    assert holds("Null", "k", ["false"], ["v"]) is True
    assert holds("Null", "k", ["false"], None) is False
    assert holds("Null", "k", ["true"], []) is True   # an empty set is absent


# --- set qualifiers ------------------------------------------------------------------------


def test_for_any_value_needs_one_request_value_to_match():
    assert holds("StringEquals", "k", ["a", "b"], ["z", "b"], "ForAnyValue") is True
    assert holds("StringEquals", "k", ["a", "b"], ["z", "y"], "ForAnyValue") is False
    assert holds("StringEquals", "k", ["a"], None, "ForAnyValue") is False
    assert holds("StringEquals", "k", ["a"], [], "ForAnyValue") is False
    assert holds("StringEquals", "k", ["a"], None, "ForAnyValue", if_exists=True) is True


def test_for_all_values_needs_every_request_value_to_match_and_is_vacuous_when_missing():
    assert holds("StringEquals", "k", ["a", "b"], ["a", "b"], "ForAllValues") is True
    assert holds("StringEquals", "k", ["a", "b"], ["a", "c"], "ForAllValues") is False
    assert holds("StringEquals", "k", ["a"], None, "ForAllValues") is True
    assert holds("StringEquals", "k", ["a"], [], "ForAllValues") is True


def test_negated_operators_under_set_qualifiers():
    # ForAnyValue:StringNotEquals: some request value is none of the policy's.
    assert holds("StringNotEquals", "k", ["a"], ["a", "z"], "ForAnyValue") is True
    assert holds("StringNotEquals", "k", ["a"], ["a"], "ForAnyValue") is False
    # ForAllValues:StringNotEquals: no request value is any of the policy's.
    assert holds("StringNotEquals", "k", ["a"], ["y", "z"], "ForAllValues") is True
    assert holds("StringNotEquals", "k", ["a"], ["a", "z"], "ForAllValues") is False
    assert holds("StringNotEquals", "k", ["a"], None, "ForAllValues") is True


def test_request_object_tag_keys_with_for_all_values_limits_which_tags_may_be_set():
    p = policy(allow(Action="s3:PutObject", Principal={"AWS": BOB.account_id},
                     Condition={"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team", "env"]}}))
    assert evaluate(p, ctx("s3:PutObject", **{"s3:RequestObjectTagKeys": ("team",)})) is Decision.ALLOW
    assert evaluate(p, ctx("s3:PutObject", **{"s3:RequestObjectTagKeys": ("team", "cost")})) is Decision.NO_OPINION


def test_conditions_are_and_across_keys_and_operators_or_across_values():
    p = policy(allow(Condition={"StringEquals": {"s3:prefix": ["a/", "b/"], "s3:delimiter": "/"},
                                "NumericLessThanEquals": {"s3:max-keys": "100"}}))
    assert evaluate(p, ctx(**{"s3:prefix": "b/", "s3:delimiter": "/", "s3:max-keys": "10"})) is Decision.ALLOW
    assert evaluate(p, ctx(**{"s3:prefix": "c/", "s3:delimiter": "/", "s3:max-keys": "10"})) is Decision.NO_OPINION
    assert evaluate(p, ctx(**{"s3:prefix": "a/", "s3:delimiter": "/", "s3:max-keys": "1000"})) is Decision.NO_OPINION
    assert evaluate(p, ctx(**{"s3:prefix": "a/", "s3:max-keys": "10"})) is Decision.NO_OPINION


# --- wildcards ---------------------------------------------------------------------------


def _reference(pattern: str, value: str) -> bool:
    """A straightforward recursive glob, to check the regex-based one against."""
    if not pattern:
        return not value
    if pattern[0] == "*":
        return any(_reference(pattern[1:], value[i:]) for i in range(len(value) + 1))
    if value and (pattern[0] == "?" or pattern[0] == value[0]):
        return _reference(pattern[1:], value[1:])
    return False


@given(st.text("ab*?/.", max_size=8), st.text("ab/.*?", max_size=8))
def test_wildcard_match_agrees_with_a_reference_glob(pattern, value):
    assert wildcard_match(pattern, value) == _reference(pattern, value)


def test_regex_metacharacters_are_literal():
    assert wildcard_match("a+b(c)[d]$", "a+b(c)[d]$")
    assert not wildcard_match("a.c", "abc")


def test_actions_match_without_case_and_resources_with_case():
    p = policy(allow(Action="S3:GET*", Resource=f"arn:aws:s3:::{BUCKET}/Docs/*"))
    assert evaluate(p, ctx("s3:GetObject", f"arn:aws:s3:::{BUCKET}/Docs/a")) is Decision.ALLOW
    assert evaluate(p, ctx("s3:getobjectversion", f"arn:aws:s3:::{BUCKET}/Docs/a")) is Decision.ALLOW
    assert evaluate(p, ctx("s3:GetObject", f"arn:aws:s3:::{BUCKET}/docs/a")) is Decision.NO_OPINION
    assert evaluate(p, ctx("s3:PutObject", f"arn:aws:s3:::{BUCKET}/Docs/a")) is Decision.NO_OPINION


def test_a_star_in_a_resource_crosses_slashes():
    p = policy(allow(Resource=f"arn:aws:s3:::{BUCKET}/*.jpg"))
    assert evaluate(p, ctx(resource=f"arn:aws:s3:::{BUCKET}/a/b/c.jpg")) is Decision.ALLOW
    assert evaluate(p, ctx(resource=f"arn:aws:s3:::{BUCKET}/a/b/c.png")) is Decision.NO_OPINION


# --- principals, Not* ----------------------------------------------------------------------


def test_principal_forms():
    for principal, who, expected in [
        ("*", ANONYMOUS, True),
        ({"AWS": "*"}, ANONYMOUS, True),
        ({"AWS": BOB.account_id}, BOB, True),
        ({"AWS": f"arn:aws:iam::{BOB.account_id}:root"}, BOB, True),   # the account: any of its principals
        ({"AWS": BOB.arn}, BOB, True),
        ({"AWS": "arn:aws:iam::444455556666:user/carol"}, BOB, False),
        ({"AWS": BOB.account_id}, ALICE, False),
        ({"AWS": BOB.account_id}, ANONYMOUS, False),
        ({"CanonicalUser": "b" * 64}, BOB, True),
        ({"CanonicalUser": "b" * 64}, ALICE, False),
        ({"Service": "logging.s3.amazonaws.com"}, BOB, False),
    ]:
        p = policy(allow(Principal=principal))
        got = evaluate(p, ctx(who=who)) is Decision.ALLOW
        assert got is expected, (principal, who)


def test_not_principal_denies_everyone_but_the_named():
    p = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.account_id}, "Action": "s3:*",
         "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}), BUCKET)
    assert evaluate(p, ctx(who=BOB)) is Decision.DENY
    assert evaluate(p, ctx(who=ANONYMOUS)) is Decision.DENY
    assert evaluate(p, ctx(who=ALICE)) is Decision.NO_OPINION


def test_not_action_and_not_resource():
    p = parse_policy(json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": "*", "NotAction": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "NotResource": f"arn:aws:s3:::{BUCKET}/public/*"},
    ]}), BUCKET)
    assert evaluate(p, ctx("s3:PutObject", f"arn:aws:s3:::{BUCKET}/public/x")) is Decision.ALLOW
    assert evaluate(p, ctx("s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/public/x")) is Decision.NO_OPINION
    assert evaluate(p, ctx("s3:GetObject", f"arn:aws:s3:::{BUCKET}/public/x")) is Decision.ALLOW
    assert evaluate(p, ctx("s3:GetObject", f"arn:aws:s3:::{BUCKET}/private/x")) is Decision.DENY


def test_an_explicit_deny_wins_over_any_allow_in_any_order():
    a, d = allow(), deny(Principal={"AWS": BOB.account_id})
    for statements in ((a, d), (d, a)):
        p = policy(*statements)
        assert evaluate(p, ctx(who=BOB)) is Decision.DENY
        assert evaluate(p, ctx(who=ALICE)) is Decision.ALLOW


def test_no_policy_and_no_matching_statement_have_no_opinion():
    assert evaluate(None, ctx()) is Decision.NO_OPINION
    assert evaluate(policy(allow(Action="s3:PutObject")), ctx()) is Decision.NO_OPINION


# --- policy variables ----------------------------------------------------------------------


def test_policy_variables_are_substituted_in_2012_10_17_only():
    s = allow(Resource=f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/*", Principal={"AWS": BOB.account_id})
    keys = {"aws:username": "bob"}
    assert evaluate(policy(s), ctx(resource=f"arn:aws:s3:::{BUCKET}/home/bob/a", **keys)) is Decision.ALLOW
    assert evaluate(policy(s), ctx(resource=f"arn:aws:s3:::{BUCKET}/home/eve/a", **keys)) is Decision.NO_OPINION
    # Without the key the variable resolves to nothing and the resource matches nothing.
    assert evaluate(policy(s), ctx(resource=f"arn:aws:s3:::{BUCKET}/home//a")) is Decision.NO_OPINION
    # 2008-10-17: the text is literal.
    old = policy(s, version="2008-10-17")
    assert evaluate(old, ctx(resource=f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/a", **keys)) is Decision.ALLOW


def test_policy_variables_in_condition_values_and_special_characters():
    s = allow(Action="s3:ListBucket", Resource=f"arn:aws:s3:::{BUCKET}",
              Condition={"StringLike": {"s3:prefix": ["home/${aws:username}/*", "literal-${*}"]}})
    assert evaluate(policy(s), ctx("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", **{"aws:username": "bob",
                                                                             "s3:prefix": "home/bob/x"})) is Decision.ALLOW
    assert evaluate(policy(s), ctx("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", **{"aws:username": "bob",
                                                                             "s3:prefix": "literal-zzz"})) is Decision.ALLOW
    assert evaluate(policy(s), ctx("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", **{"aws:username": "bob",
                                                                             "s3:prefix": "home/eve/x"})) is Decision.NO_OPINION
