"""New-bucket defaults (current vs legacy), PublicAccessBlock XML, BlockedEncryptionTypes."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree

from s3presign.core.s3errors import S3Error
from s3presign.server.access import defaults
from s3presign.server.access.authorize import PublicAccessBlock
from s3presign.server.sse import parse_bucket_encryption_xml, render_bucket_encryption_xml

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_current_defaults_are_awss():
    d = defaults.new_bucket("current")
    assert d.object_ownership == "BucketOwnerEnforced"
    assert d.public_access_block == PublicAccessBlock(True, True, True, True)
    assert d.blocked_encryption_types == ("SSE-C",)


def test_legacy_defaults_enable_acls_and_ssec_without_public_access_block():
    d = defaults.new_bucket("legacy")
    assert (d.object_ownership, d.public_access_block, d.blocked_encryption_types) == ("ObjectWriter", None, None)


def test_the_create_bucket_header_wins():
    assert defaults.new_bucket("current", {"x-amz-object-ownership": "ObjectWriter"}).object_ownership == "ObjectWriter"


def test_ssec_writes_are_refused_on_a_blocking_bucket_and_allowed_after_unblocking():
    blocked = {"SSEAlgorithm": "AES256", "BlockedEncryptionTypes": ["SSE-C"]}
    with pytest.raises(S3Error) as e:
        defaults.check_ssec_write(blocked, request_is_ssec=True)
    assert (e.value.status, e.value.code) == (403, "AccessDenied")
    defaults.check_ssec_write(blocked, request_is_ssec=False)
    defaults.check_ssec_write({"SSEAlgorithm": "AES256", "BlockedEncryptionTypes": ["NONE"]}, request_is_ssec=True)
    defaults.check_ssec_write({"SSEAlgorithm": "AES256"}, request_is_ssec=True)
    defaults.check_ssec_write(None, request_is_ssec=True)


def test_blocked_types_element_inside_the_encryption_rule_round_trips_through_server_sse():
    rule = f"<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>" \
           f"</ApplyServerSideEncryptionByDefault>{defaults.blocked_types_xml(['SSE-C'])}</Rule>"
    body = f'<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{rule}' \
           "</ServerSideEncryptionConfiguration>".encode()
    config = parse_bucket_encryption_xml(body)
    assert defaults.check_blocked_types(config["BlockedEncryptionTypes"]) == ("SSE-C",)
    assert defaults.ssec_blocked(config)
    root = ElementTree.fromstring(render_bucket_encryption_xml(config))
    assert [e.text for e in root.findall(f"{NS}Rule/{NS}BlockedEncryptionTypes/{NS}EncryptionType")] == ["SSE-C"]


def test_botocore_serializes_blocked_encryption_types_the_way_this_parses():
    from botocore.session import get_session

    client = get_session().create_client("s3", region_name="us-east-1", aws_access_key_id="a",
                                         aws_secret_access_key="b")
    captured = {}

    def grab(request, **_):
        captured["body"] = request.body
        raise RuntimeError("stop")

    client.meta.events.register("before-send.s3.PutBucketEncryption", grab)
    with pytest.raises(RuntimeError):
        client.put_bucket_encryption(Bucket="b", ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]})
    config = parse_bucket_encryption_xml(captured["body"])
    assert config["BlockedEncryptionTypes"] == ["NONE"] and not defaults.ssec_blocked(config)


@pytest.mark.parametrize("types", [[], ["SSE-KMS"], ["NONE", "SSE-C"], ["SSE-C", "SSE-C"]])
def test_bad_blocked_types(types):
    with pytest.raises(S3Error) as e:
        defaults.check_blocked_types(types)
    assert e.value.code == "MalformedXML"


def test_public_access_block_xml():
    pab = PublicAccessBlock(True, False, True, False)
    body = defaults.render_public_access_block(pab)
    assert body == (b'<?xml version="1.0" encoding="UTF-8"?>\n<PublicAccessBlockConfiguration '
                    b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls>'
                    b"<IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy>"
                    b"<RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>")
    assert defaults.parse_public_access_block(body) == pab
    partial = b"<PublicAccessBlockConfiguration><BlockPublicPolicy>TRUE</BlockPublicPolicy></PublicAccessBlockConfiguration>"
    assert defaults.parse_public_access_block(partial) == PublicAccessBlock(block_public_policy=True)
    for bad in (b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>",
                b"<Other/>", b"<"):
        with pytest.raises(S3Error) as e:
            defaults.parse_public_access_block(bad)
        assert e.value.code == "MalformedXML"


def test_policy_status_xml():
    assert defaults.render_policy_status(True).endswith(b"<PolicyStatus xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                                                        b"<IsPublic>true</IsPublic></PolicyStatus>")
