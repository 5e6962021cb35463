"""Bucket policy validation: each fault gets S3's MalformedPolicy message."""

from __future__ import annotations

import json

import pytest

from s3presign.core.s3errors import S3Error
from s3presign.server.access.policy import Condition, parse_policy, split_operator

BUCKET = "photos"
ACCOUNT = "111122223333"


def stmt(**over):
    s = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    for k, v in over.items():
        if v is None:
            s.pop(k, None)
        else:
            s[k] = v
    return s


def doc(*statements, **top):
    d = {"Version": "2012-10-17", "Statement": list(statements)}
    d.update(top)
    return json.dumps(d)


def refused(body, **kw) -> S3Error:
    with pytest.raises(S3Error) as e:
        parse_policy(body, BUCKET, **kw)
    assert (e.value.status, e.value.code) == (400, "MalformedPolicy")
    return e.value


def test_a_valid_policy_parses_into_typed_statements():
    p = parse_policy(doc(stmt(Condition={"StringEquals": {"s3:x-amz-acl": ["private", "bucket-owner-read"]}})), BUCKET)
    (s,) = p.statements
    assert s.effect == "Allow" and s.actions == ("s3:getobject",)
    assert s.resources == (f"arn:aws:s3:::{BUCKET}/*",)
    assert s.principals.aws == (f"arn:aws:iam::{ACCOUNT}:root",)
    assert s.conditions == (Condition("StringEquals", "s3:x-amz-acl", ("private", "bucket-owner-read")),)
    assert p.version == "2012-10-17" and p.variables


def test_the_policy_text_is_kept_as_sent():
    body = doc(stmt())
    assert parse_policy(body, BUCKET).text == body


def test_a_single_statement_object_and_single_strings_are_accepted():
    body = json.dumps({"Statement": stmt(Action="s3:ListBucket", Resource=f"arn:aws:s3:::{BUCKET}")})
    p = parse_policy(body, BUCKET)
    assert len(p.statements) == 1 and p.version == "2008-10-17" and not p.variables


@pytest.mark.parametrize(
    "body, message",
    [
        ("", "Policies must be valid JSON and the first byte must be '{'"),
        ("[]", "Policies must be valid JSON and the first byte must be '{'"),
        (" " + doc(stmt()), "Policies must be valid JSON and the first byte must be '{'"),
        ('{"Statement": [', "This policy contains invalid Json"),
        ('{"Statement": [], "Statement": []}', "This policy contains invalid Json"),
        (doc(stmt(), Version="2020-01-01"), "The policy must contain a valid version string"),
        (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
        (doc(), "Could not parse the policy: Statement is empty!"),
        (doc(stmt(), Extra=1), "Invalid policy syntax."),
        (doc(stmt(Bogus="x")), "Invalid policy syntax."),
        (doc(stmt(Effect=None)), "Missing required field Effect"),
        (doc(stmt(Effect="Permit")), "Invalid effect: Permit"),
        (doc(stmt(Principal=None)), "Missing required field Principal"),
        (doc(stmt(Principal="someone")), "Invalid principal in policy"),
        (doc(stmt(Principal={"AWS": "not-an-arn"})), "Invalid principal in policy"),
        (doc(stmt(Principal={"Federated": "x"})), "Invalid principal in policy"),
        (doc(stmt(Principal={})), "Invalid principal in policy"),
        (doc(stmt(Principal=None, NotPrincipal={"AWS": ACCOUNT})), "Invalid principal in policy"),
        (doc(stmt(Action=None)), "Missing required field Action"),
        (doc(stmt(Action="s3:Fly")), "Policy has invalid action"),
        (doc(stmt(Action="ec2:RunInstances")), "Policy has invalid action"),
        (doc(stmt(Resource=None)), "Missing required field Resource"),
        (doc(stmt(Resource="*")), "Policy has invalid resource"),
        (doc(stmt(Resource="arn:aws:s3:::other/*")), "Policy has invalid resource"),
        (doc(stmt(Resource="photos/*")), "Policy has invalid resource"),
        (doc(stmt(Action="s3:ListBucket")), "Action does not apply to any resource(s) in statement"),
        (doc(stmt(Resource=f"arn:aws:s3:::{BUCKET}")), "Action does not apply to any resource(s) in statement"),
        (doc(stmt(Condition={"StringFancy": {"aws:SourceIp": "x"}})), "Invalid Condition type : StringFancy"),
        (doc(stmt(Condition={"NullIfExists": {"s3:prefix": "true"}})), "Invalid Condition type : NullIfExists"),
        (doc(stmt(Condition={"ForSomeValues:StringEquals": {"s3:prefix": "a"}})),
         "Invalid Condition type : ForSomeValues:StringEquals"),
        (doc(stmt(Condition={"StringEquals": {"s3:x-acl": "private"}})), "Policy has an invalid condition key"),
        (doc(stmt(Condition={"StringEquals": {"iam:x": "y"}})), "Policy has an invalid condition key"),
        (doc(stmt(Condition={"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}})), "Invalid IP address in Conditions"),
        (doc(stmt(Condition={"StringEquals": {"s3:prefix": {"a": 1}}})), "Invalid policy syntax."),
        (doc(stmt(Action="s3:GetObject", NotAction="s3:PutObject")), "Invalid policy syntax."),
        ("{" + " " * 30000 + "}", "Missing required field Statement"),
    ],
)
def test_each_fault_gets_s3s_message(body, message):
    assert refused(body).message == message


def test_a_policy_beyond_20_kib_once_normalized_is_refused():
    many = [stmt(Sid=f"s{i}", Action=["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl"]) for i in range(150)]
    assert refused(doc(*many)).message == "Normalized policy document exceeds the maximum allowed size of 20480 bytes"


def test_whitespace_does_not_count_toward_the_size_limit():
    body = doc(stmt()).replace(",", "," + " " * 6000)
    assert len(body) > 20480
    assert parse_policy(body, BUCKET).statements


def test_unknown_principals_are_refused_when_the_server_knows_its_accounts():
    known = {f"arn:aws:iam::{ACCOUNT}:root"}
    assert parse_policy(doc(stmt()), BUCKET, known_principal=known.__contains__)
    other = stmt(Principal={"AWS": "arn:aws:iam::999999999999:root"})
    assert refused(doc(other), known_principal=known.__contains__).message == "Invalid principal in policy"


def test_everyone_and_canonical_user_and_service_principals_are_accepted():
    for principal in ("*", {"AWS": "*"}, {"CanonicalUser": "a" * 64}, {"Service": "logging.s3.amazonaws.com"},
                      {"AWS": [ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice"]}):
        assert parse_policy(doc(stmt(Principal=principal)), BUCKET)


def test_not_principal_with_deny_is_accepted():
    p = parse_policy(doc(stmt(Effect="Deny", Principal=None, NotPrincipal={"AWS": ACCOUNT})), BUCKET)
    assert p.statements[0].not_principal


def test_actions_are_case_insensitive_and_wildcards_must_name_a_real_action():
    assert parse_policy(doc(stmt(Action=["S3:getobject", "s3:Get*", "s3:*", "*"],
                                 Resource=[f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"])), BUCKET)
    assert refused(doc(stmt(Action="s3:Fly*"))).message == "Policy has invalid action"


def test_mixed_resources_satisfy_mixed_actions():
    # s3-tests' own shape: a bucket action listed with bucket and object ARNs.
    assert parse_policy(doc(stmt(Action="s3:ListBucket",
                                 Resource=[f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"])), BUCKET)


def test_resource_bucket_part_may_be_a_wildcard_matching_the_bucket():
    assert parse_policy(doc(stmt(Resource="arn:aws:s3:::pho*/*")), BUCKET)
    assert parse_policy(doc(stmt(Resource="arn:aws:s3:::*")), BUCKET)


def test_aws_condition_keys_are_accepted_whatever_they_are_and_s3_tag_keys_take_a_suffix():
    c = {"StringEquals": {"aws:SomethingNew": "x", "s3:ExistingObjectTag/team": "blue",
                          "s3:RequestObjectTag/team": "red", "S3:X-AMZ-ACL": "private"}}
    (s,) = parse_policy(doc(stmt(Condition=c)), BUCKET).statements
    assert {c.key for c in s.conditions} == {"aws:somethingnew", "s3:existingobjecttag/team",
                                            "s3:requestobjecttag/team", "s3:x-amz-acl"}
    assert refused(doc(stmt(Condition={"StringEquals": {"s3:ExistingObjectTag/": "x"}}))).message == \
        "Policy has an invalid condition key"


def test_condition_values_of_json_types_become_strings():
    c = {"Bool": {"aws:SecureTransport": False}, "NumericLessThan": {"s3:signatureAge": 600000},
         "NumericEquals": {"s3:max-keys": [10, 2.5]}}
    (s,) = parse_policy(doc(stmt(Condition=c)), BUCKET).statements
    values = {c.key: c.values for c in s.conditions}
    assert values == {"aws:securetransport": ("false",), "s3:signatureage": ("600000",),
                      "s3:max-keys": ("10", "2.5")}


@pytest.mark.parametrize(
    "written, parsed",
    [
        ("StringEquals", ("StringEquals", None, False)),
        ("StringLikeIfExists", ("StringLike", None, True)),
        ("ForAnyValue:StringEquals", ("StringEquals", "ForAnyValue", False)),
        ("ForAllValues:StringNotLikeIfExists", ("StringNotLike", "ForAllValues", True)),
        ("Null", ("Null", None, False)),
    ],
)
def test_operator_names_split_into_operator_qualifier_and_ifexists(written, parsed):
    assert split_operator(written) == parsed
