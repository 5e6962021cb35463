"""ACLs: canned grants, grant headers, the XML as S3 writes it, the ACL check, Object
Ownership."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree
from hypothesis import given, strategies as st

from s3presign.core.s3errors import S3Error
from s3presign.server.access import acl
from s3presign.server.access.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    LOG_DELIVERY,
    AccessControlPolicy,
    Grant,
    Grantee,
    Owner,
)
from s3presign.server.access.policy import ANONYMOUS, RequestPrincipal

MAIN = Owner("a" * 64, "main")
ALT = Owner("b" * 64, "alt")
MAIN_P = RequestPrincipal("111122223333", MAIN.id, "arn:aws:iam::111122223333:root")
ALT_P = RequestPrincipal("444455556666", ALT.id, "arn:aws:iam::444455556666:root")
ACCOUNTS = {MAIN.id: MAIN, ALT.id: ALT}
EMAILS = {"alt@example.com": ALT}
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


def user(o, perm):
    return Grant(Grantee("CanonicalUser", o.id, o.display_name), perm)


def group(uri, perm):
    return Grant(Grantee("Group", uri=uri), perm)


@pytest.mark.parametrize(
    "name, grants",
    [
        ("private", [user(ALT, "FULL_CONTROL")]),
        ("public-read", [user(ALT, "FULL_CONTROL"), group(ALL_USERS, "READ")]),
        ("public-read-write", [user(ALT, "FULL_CONTROL"), group(ALL_USERS, "READ"), group(ALL_USERS, "WRITE")]),
        ("authenticated-read", [user(ALT, "FULL_CONTROL"), group(AUTHENTICATED_USERS, "READ")]),
        ("aws-exec-read", [user(ALT, "FULL_CONTROL"),
                           Grant(Grantee("CanonicalUser", acl.EC2_CANONICAL_ID, "za-team"), "READ")]),
        ("bucket-owner-read", [user(ALT, "FULL_CONTROL"), user(MAIN, "READ")]),
        ("bucket-owner-full-control", [user(ALT, "FULL_CONTROL"), user(MAIN, "FULL_CONTROL")]),
        ("log-delivery-write", [user(ALT, "FULL_CONTROL"), group(LOG_DELIVERY, "WRITE"), group(LOG_DELIVERY, "READ_ACP")]),
    ],
)
def test_canned_acls_on_an_object_written_by_alt_in_mains_bucket(name, grants):
    assert acl.canned_acl(name, ALT, MAIN) == AccessControlPolicy(ALT, tuple(grants))


def test_bucket_owner_acls_mean_private_on_a_bucket_and_for_the_bucket_owners_own_objects():
    for name in ("bucket-owner-read", "bucket-owner-full-control"):
        assert acl.canned_acl(name, MAIN, MAIN, bucket=True).grants == (user(MAIN, "FULL_CONTROL"),)
        assert acl.canned_acl(name, MAIN, MAIN).grants == (user(MAIN, "FULL_CONTROL"),)


def test_an_unknown_canned_acl_is_invalid_argument():
    with pytest.raises(S3Error) as e:
        acl.canned_acl("public", MAIN)
    assert (e.value.status, e.value.code) == (400, "InvalidArgument")
    assert e.value.elements == {"ArgumentName": "x-amz-acl", "ArgumentValue": "public"}


def test_grant_headers_parse_ids_uris_and_emails():
    headers = {
        "x-amz-grant-read": f'uri="{ALL_USERS}", id="{ALT.id}"',
        "x-amz-grant-write-acp": 'emailAddress="alt@example.com"',
        "x-amz-grant-full-control": f'id="{MAIN.id}"',
    }
    got = acl.grants_from_headers(headers, resolve_id=ACCOUNTS.get, resolve_email=EMAILS.get)
    assert got == [group(ALL_USERS, "READ"), user(ALT, "READ"), user(ALT, "WRITE_ACP"), user(MAIN, "FULL_CONTROL")]
    assert acl.grants_from_headers({}) is None


@pytest.mark.parametrize(
    "headers, name, code",
    [
        ({"x-amz-grant-read": 'id="_foo"'}, "InvalidAclId", "InvalidArgument"),
        ({"x-amz-grant-read": 'emailAddress="nobody@example.com"'}, "UnresolvableGrantByEmailAddress",
         "UnresolvableGrantByEmailAddress"),
        ({"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/Everyone"'}, "InvalidArgument",
         "InvalidArgument"),
        ({"x-amz-grant-read": "id=unquoted"}, "InvalidArgument", "InvalidArgument"),
        ({"x-amz-grant-read": ""}, "InvalidArgument", "InvalidArgument"),
        ({"x-amz-acl": "private", "x-amz-grant-read": f'id="{ALT.id}"'}, "CannedAclAndGrants", "InvalidRequest"),
    ],
)
def test_bad_acl_headers(headers, name, code):
    with pytest.raises(S3Error) as e:
        acl.acl_from_request(headers, MAIN, resolve_id=ACCOUNTS.get, resolve_email=EMAILS.get)
    assert (e.value.name, e.value.code, e.value.status) == (name, code, 400)


def test_acl_from_request():
    assert acl.acl_from_request({}, MAIN) is None
    assert acl.acl_from_request({"x-amz-acl": "public-read"}, MAIN).is_public
    got = acl.acl_from_request({"x-amz-grant-read": f'id="{ALT.id}"'}, MAIN, resolve_id=ACCOUNTS.get)
    assert got == AccessControlPolicy(MAIN, (user(ALT, "READ"),))


def test_the_xml_is_s3s():
    body = acl.render_acl_xml(acl.canned_acl("public-read", MAIN))
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">')
    root = ElementTree.fromstring(body)
    assert root.find(f"{NS}Owner/{NS}ID").text == MAIN.id
    assert root.find(f"{NS}Owner/{NS}DisplayName").text == "main"
    grants = root.findall(f"{NS}AccessControlList/{NS}Grant")
    assert [g.find(f"{NS}Grantee").get(f"{XSI}type") for g in grants] == ["CanonicalUser", "Group"]
    assert grants[1].find(f"{NS}Grantee/{NS}URI").text == ALL_USERS
    assert [g.find(f"{NS}Permission").text for g in grants] == ["FULL_CONTROL", "READ"]
    assert b'<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">' in body


def test_botocore_serialized_acl_parses():
    """The body boto3 sends for put_bucket_acl(AccessControlPolicy=...)."""
    from botocore.session import get_session

    client = get_session().create_client("s3", region_name="us-east-1", aws_access_key_id="a",
                                         aws_secret_access_key="b")
    captured = {}

    def grab(request, **_):
        captured["body"] = request.body
        raise RuntimeError("stop")

    client.meta.events.register("before-send.s3.PutBucketAcl", grab)
    with pytest.raises(RuntimeError):
        client.put_bucket_acl(Bucket="b", AccessControlPolicy={
            "Owner": {"ID": MAIN.id, "DisplayName": "main"},
            "Grants": [{"Grantee": {"ID": ALT.id, "Type": "CanonicalUser"}, "Permission": "READ"},
                       {"Grantee": {"URI": AUTHENTICATED_USERS, "Type": "Group"}, "Permission": "WRITE"},
                       {"Grantee": {"EmailAddress": "alt@example.com", "Type": "AmazonCustomerByEmail"},
                        "Permission": "READ_ACP"}]})
    got = acl.parse_acl_xml(captured["body"], resolve_id=ACCOUNTS.get, resolve_email=EMAILS.get)
    assert got == AccessControlPolicy(Owner(MAIN.id, "main"), (user(ALT, "READ"), group(AUTHENTICATED_USERS, "WRITE"),
                                                               user(ALT, "READ_ACP")))


_ids = st.text("0123456789abcdef", min_size=64, max_size=64)
_names = st.one_of(st.none(), st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                                      max_size=20).filter(lambda s: s.strip() == s))
_grantees = st.one_of(
    st.builds(lambda i, n: Grantee("CanonicalUser", i, n), _ids, _names),
    st.sampled_from([Grantee("Group", uri=u) for u in acl.GROUPS]),
)


@given(st.builds(Owner, _ids, _names),
       st.lists(st.builds(Grant, _grantees, st.sampled_from(acl.PERMISSIONS)), max_size=8))
def test_render_then_parse_is_the_identity(owner, grants):
    acp = AccessControlPolicy(owner, tuple(grants))
    assert acl.parse_acl_xml(acl.render_acl_xml(acp)) == acp


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b"<Other/>",
        b"<AccessControlPolicy><AccessControlList/></AccessControlPolicy>",   # no Owner
        b"<AccessControlPolicy><Owner><ID>x</ID></Owner><AccessControlList><Grant><Permission>READ</Permission>"
        b"</Grant></AccessControlList></AccessControlPolicy>",               # no Grantee
        b'<AccessControlPolicy xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Owner><ID>x</ID></Owner>'
        b'<AccessControlList><Grant><Grantee xsi:type="CanonicalUser"><ID>y</ID></Grantee>'
        b"<Permission>ADMIN</Permission></Grant></AccessControlList></AccessControlPolicy>",
        b'<AccessControlPolicy xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Owner><ID>x</ID></Owner>'
        b'<AccessControlList><Grant><Grantee xsi:type="Robot"><ID>y</ID></Grantee>'
        b"<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
        b'<!DOCTYPE x [<!ENTITY e "boom">]><AccessControlPolicy><Owner><ID>&e;</ID></Owner></AccessControlPolicy>',
    ],
)
def test_malformed_acl_xml(body):
    with pytest.raises(S3Error) as e:
        acl.parse_acl_xml(body)
    assert (e.value.status, e.value.code) == (400, "MalformedACLError")


def test_acl_allows():
    grants = (user(MAIN, "FULL_CONTROL"), user(ALT, "READ_ACP"), group(AUTHENTICATED_USERS, "READ"),
              group(ALL_USERS, "WRITE"))
    assert all(acl.acl_allows(grants, MAIN_P, p) for p in acl.PERMISSIONS)
    assert acl.acl_allows(grants, ALT_P, "READ_ACP") and acl.acl_allows(grants, ALT_P, "READ")
    assert not acl.acl_allows(grants, ALT_P, "WRITE_ACP")
    assert not acl.acl_allows(grants, ANONYMOUS, "READ")   # AuthenticatedUsers excludes anonymous
    assert acl.acl_allows(grants, ANONYMOUS, "WRITE")
    assert not acl.acl_allows(grants, ANONYMOUS, "WRITE", ignore_public=True)
    assert not acl.acl_allows((group(LOG_DELIVERY, "WRITE"),), ALT_P, "WRITE")


def test_public_and_private():
    assert acl.canned_acl("public-read", MAIN).is_public and acl.canned_acl("authenticated-read", MAIN).is_public
    assert not acl.canned_acl("log-delivery-write", MAIN).is_public
    assert acl.canned_acl("private", MAIN).is_private
    assert not acl.canned_acl("bucket-owner-read", ALT, MAIN).is_private


class TestObjectOwnership:
    def test_enforced_accepts_no_acl_and_bucket_owner_full_control_only(self):
        e = acl.BUCKET_OWNER_ENFORCED
        acl.check_write_acl(e, None, MAIN)
        h = {"x-amz-acl": "bucket-owner-full-control"}
        acl.check_write_acl(e, acl.acl_from_request(h, ALT, MAIN), MAIN, h)
        explicit = AccessControlPolicy(ALT, (user(MAIN, "FULL_CONTROL"),))
        acl.check_write_acl(e, explicit, MAIN, {"x-amz-grant-full-control": f'id="{MAIN.id}"'})
        for canned in ("private", "public-read", "bucket-owner-read"):
            h = {"x-amz-acl": canned}
            with pytest.raises(S3Error) as err:
                acl.check_write_acl(e, acl.acl_from_request(h, ALT, MAIN), MAIN, h)
            assert (err.value.status, err.value.code, err.value.message) == (
                400, "AccessControlListNotSupported", "The bucket does not allow ACLs")
        with pytest.raises(S3Error):
            acl.check_write_acl(e, AccessControlPolicy(ALT, (user(ALT, "READ"),)), MAIN, {})

    def test_other_settings_accept_any_acl(self):
        for setting in (acl.OBJECT_WRITER, acl.BUCKET_OWNER_PREFERRED):
            acl.check_write_acl(setting, acl.canned_acl("public-read", ALT), MAIN, {"x-amz-acl": "public-read"})
            acl.check_put_acl(setting)

    def test_put_acl_is_refused_while_acls_are_disabled(self):
        with pytest.raises(S3Error) as e:
            acl.check_put_acl(acl.BUCKET_OWNER_ENFORCED)
        assert e.value.code == "AccessControlListNotSupported"

    def test_create_bucket_and_enforcing_need_a_private_bucket_acl(self):
        acl.check_create_bucket_acl(acl.BUCKET_OWNER_ENFORCED, None)
        acl.check_create_bucket_acl(acl.BUCKET_OWNER_ENFORCED, acl.canned_acl("private", MAIN, bucket=True))
        acl.check_create_bucket_acl(acl.OBJECT_WRITER, acl.canned_acl("public-read", MAIN, bucket=True))
        for check in (lambda: acl.check_create_bucket_acl(acl.BUCKET_OWNER_ENFORCED, acl.canned_acl("public-read", MAIN)),
                      lambda: acl.check_enforce_ownership(acl.canned_acl("public-read", MAIN))):
            with pytest.raises(S3Error) as e:
                check()
            assert (e.value.status, e.value.code) == (400, "InvalidBucketAclWithObjectOwnership")
        acl.check_enforce_ownership(acl.canned_acl("private", MAIN))

    def test_object_owner(self):
        assert acl.object_owner(acl.BUCKET_OWNER_ENFORCED, ALT, MAIN, None) == MAIN
        assert acl.object_owner(acl.BUCKET_OWNER_PREFERRED, ALT, MAIN, "bucket-owner-full-control") == MAIN
        assert acl.object_owner(acl.BUCKET_OWNER_PREFERRED, ALT, MAIN, None) == ALT
        assert acl.object_owner(acl.OBJECT_WRITER, ALT, MAIN, "bucket-owner-full-control") == ALT

    def test_effective_acl_shows_the_bucket_owner_full_control_when_enforced(self):
        stored = acl.canned_acl("public-read", ALT)
        assert acl.effective_acl(acl.BUCKET_OWNER_ENFORCED, stored, MAIN) == acl.canned_acl("private", MAIN)
        assert acl.effective_acl(acl.OBJECT_WRITER, stored, MAIN) == stored

    def test_ownership_controls_xml(self):
        for v in acl.OWNERSHIP:
            assert acl.parse_ownership_controls(acl.render_ownership_controls(v)) == v
        for bad in (b"<OwnershipControls><Rule><ObjectOwnership>Mine</ObjectOwnership></Rule></OwnershipControls>",
                    b"<OwnershipControls/>", b"<Other><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></Other>"):
            with pytest.raises(S3Error) as e:
                acl.parse_ownership_controls(bad)
            assert e.value.code == "MalformedXML"
        assert acl.ownership_header({"x-amz-object-ownership": "ObjectWriter"}) == "ObjectWriter"
        assert acl.ownership_header({}) is None
        with pytest.raises(S3Error):
            acl.ownership_header({"x-amz-object-ownership": "Mine"})
