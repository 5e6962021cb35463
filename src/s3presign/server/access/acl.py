"""ACLs: canned ACLs, x-amz-grant-* headers, S3's AccessControlPolicy XML, the ACL
check, and the Object Ownership rules that decide whether ACLs apply at all.

Everything is pure: grants in, grants or decisions out. Canonical ids and e-mail
addresses are resolved through callables the server passes in (its accounts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping
from xml.etree.ElementTree import Element

from s3presign.core.s3errors import S3Error
from s3presign.server import xml
from s3presign.server.access.policy import RequestPrincipal

XSI = "http://www.w3.org/2001/XMLSchema-instance"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)
PUBLIC_GROUPS = (ALL_USERS, AUTHENTICATED_USERS)

PERMISSIONS = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")

# The canonical user S3 grants READ in aws-exec-read (Amazon EC2, to fetch AMI bundles).
EC2_CANONICAL_ID = "6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c"

CANNED = (
    "private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
    "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write",
)

GRANT_HEADERS = {
    "x-amz-grant-read": "READ",
    "x-amz-grant-write": "WRITE",
    "x-amz-grant-read-acp": "READ_ACP",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-full-control": "FULL_CONTROL",
}

# Object Ownership settings.
BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
BUCKET_OWNER_PREFERRED = "BucketOwnerPreferred"
OBJECT_WRITER = "ObjectWriter"
OWNERSHIP = (BUCKET_OWNER_ENFORCED, BUCKET_OWNER_PREFERRED, OBJECT_WRITER)


@dataclass(frozen=True, slots=True)
class Owner:
    id: str
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class Grantee:
    type: str                       # CanonicalUser | Group | AmazonCustomerByEmail
    id: str | None = None
    display_name: str | None = None
    uri: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    grantee: Grantee
    permission: str


@dataclass(frozen=True, slots=True)
class AccessControlPolicy:
    owner: Owner
    grants: tuple[Grant, ...]

    @property
    def is_public(self) -> bool:
        """AWS: an ACL is public if it grants anything to AllUsers or AuthenticatedUsers."""
        return any(g.grantee.type == "Group" and g.grantee.uri in PUBLIC_GROUPS for g in self.grants)

    @property
    def is_private(self) -> bool:
        """Only the owner, with FULL_CONTROL (what BucketOwnerEnforced requires of a bucket)."""
        return all(g.grantee.type == "CanonicalUser" and g.grantee.id == self.owner.id for g in self.grants)


def _user(o: Owner) -> Grantee:
    return Grantee("CanonicalUser", o.id, o.display_name)


def _group(uri: str) -> Grantee:
    return Grantee("Group", uri=uri)


def canned_acl(name: str, owner: Owner, bucket_owner: Owner | None = None, *, bucket: bool = False) -> AccessControlPolicy:
    """The grants S3 gives a canned ACL. ``owner``: the resource's owner; ``bucket_owner``:
    the bucket's (for bucket-owner-read / -full-control on objects)."""
    if name not in CANNED:
        raise S3Error("InvalidCannedAcl", elements={"ArgumentName": "x-amz-acl", "ArgumentValue": name})
    grants = [Grant(_user(owner), "FULL_CONTROL")]
    if name == "public-read":
        grants.append(Grant(_group(ALL_USERS), "READ"))
    elif name == "public-read-write":
        grants += [Grant(_group(ALL_USERS), "READ"), Grant(_group(ALL_USERS), "WRITE")]
    elif name == "authenticated-read":
        grants.append(Grant(_group(AUTHENTICATED_USERS), "READ"))
    elif name == "aws-exec-read":
        grants.append(Grant(Grantee("CanonicalUser", EC2_CANONICAL_ID, "za-team"), "READ"))
    elif name == "log-delivery-write":
        grants += [Grant(_group(LOG_DELIVERY), "WRITE"), Grant(_group(LOG_DELIVERY), "READ_ACP")]
    elif name in ("bucket-owner-read", "bucket-owner-full-control"):
        # On a bucket these mean private; on an object they add the bucket's owner.
        if not bucket and bucket_owner is not None and bucket_owner.id != owner.id:
            perm = "READ" if name == "bucket-owner-read" else "FULL_CONTROL"
            grants.append(Grant(_user(bucket_owner), perm))
    return AccessControlPolicy(owner, tuple(grants))


# --- x-amz-grant-* headers --------------------------------------------------------------

_GRANT_ITEM = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*"([^"]*)"\s*(?:,|$)', re.IGNORECASE)

Resolver = Callable[[str], "Owner | None"]


def _resolve(kind: str, value: str, resolve_id: Resolver | None, resolve_email: Resolver | None) -> Grantee:
    kind = kind.lower()
    if kind == "id":
        found = resolve_id(value) if resolve_id else Owner(value)
        if found is None:
            raise S3Error("InvalidAclId", elements={"ArgumentName": "CanonicalUser/ID", "ArgumentValue": value})
        return _user(found)
    if kind == "uri":
        if value not in GROUPS:
            raise S3Error("InvalidArgument", detail="Invalid group uri",
                          elements={"ArgumentName": "uri", "ArgumentValue": value})
        return _group(value)
    found = resolve_email(value) if resolve_email else None
    if found is None:
        raise S3Error("UnresolvableGrantByEmailAddress", elements={"EmailAddress": value})
    return _user(found)


def grants_from_headers(
    headers: Mapping[str, str],
    *,
    resolve_id: Resolver | None = None,
    resolve_email: Resolver | None = None,
) -> list[Grant] | None:
    """x-amz-grant-* -> grants (None: no grant header). E-mail grantees become the
    canonical users they resolve to, as S3 stores them."""
    present = [h for h in GRANT_HEADERS if h in headers]
    if not present:
        return None
    grants: list[Grant] = []
    for h in present:
        text = headers[h].strip()
        pos = 0
        while pos < len(text):
            m = _GRANT_ITEM.match(text, pos)
            if m is None or m.end() == pos:
                raise S3Error("InvalidArgument", detail="Invalid grant header",
                              elements={"ArgumentName": h, "ArgumentValue": headers[h]})
            grants.append(Grant(_resolve(m.group(1), m.group(2), resolve_id, resolve_email), GRANT_HEADERS[h]))
            pos = m.end()
        if not text:
            raise S3Error("InvalidArgument", detail="Invalid grant header",
                          elements={"ArgumentName": h, "ArgumentValue": headers[h]})
    return grants


def acl_from_request(
    headers: Mapping[str, str],
    owner: Owner,
    bucket_owner: Owner | None = None,
    *,
    bucket: bool = False,
    resolve_id: Resolver | None = None,
    resolve_email: Resolver | None = None,
) -> AccessControlPolicy | None:
    """The ACL a PUT/POST/Copy/CreateBucket/CreateMultipartUpload asks for: x-amz-acl or
    x-amz-grant-* (never both), None when the request names none."""
    canned = headers.get("x-amz-acl")
    grants = grants_from_headers(headers, resolve_id=resolve_id, resolve_email=resolve_email)
    if canned is not None and grants is not None:
        raise S3Error("CannedAclAndGrants")
    if canned is not None:
        return canned_acl(canned.strip(), owner, bucket_owner, bucket=bucket)
    if grants is not None:
        return AccessControlPolicy(owner, tuple(grants))
    return None


# --- AccessControlPolicy XML -----------------------------------------------------------


def parse_acl_xml(
    body: bytes,
    *,
    resolve_id: Resolver | None = None,
    resolve_email: Resolver | None = None,
) -> AccessControlPolicy:
    """A Put*Acl body -> AccessControlPolicy (MalformedACLError when it is not one)."""
    try:
        root = xml.parse(body)
    except S3Error:
        raise S3Error("MalformedACLError") from None
    if xml.local(root.tag) != "AccessControlPolicy":
        raise S3Error("MalformedACLError")
    owner_el = xml.child(root, "Owner")
    if owner_el is None or not (xml.text(owner_el, "ID") or "").strip():
        raise S3Error("MalformedACLError")
    owner = Owner((xml.text(owner_el, "ID") or "").strip(), xml.text(owner_el, "DisplayName"))
    acl_el = xml.child(root, "AccessControlList")
    grants: list[Grant] = []
    for g in (xml.children(acl_el, "Grant") if acl_el is not None else []):
        grants.append(_parse_grant(g, resolve_id, resolve_email))
    return AccessControlPolicy(owner, tuple(grants))


def _parse_grant(g: Element, resolve_id: Resolver | None, resolve_email: Resolver | None) -> Grant:
    grantee_el = xml.child(g, "Grantee")
    permission = (xml.text(g, "Permission") or "").strip()
    if grantee_el is None or permission not in PERMISSIONS:
        raise S3Error("MalformedACLError")
    kind = grantee_el.get(f"{{{XSI}}}type")
    if kind == "CanonicalUser":
        gid = (xml.text(grantee_el, "ID") or "").strip()
        if not gid:
            raise S3Error("MalformedACLError")
        if resolve_id is None:   # no accounts to consult: keep the name as sent
            return Grant(Grantee("CanonicalUser", gid, xml.text(grantee_el, "DisplayName")), permission)
        return Grant(_resolve("id", gid, resolve_id, resolve_email), permission)
    if kind == "Group":
        uri = (xml.text(grantee_el, "URI") or "").strip()
        if not uri:
            raise S3Error("MalformedACLError")
        return Grant(_resolve("uri", uri, resolve_id, resolve_email), permission)
    if kind == "AmazonCustomerByEmail":
        email = (xml.text(grantee_el, "EmailAddress") or "").strip()
        if not email:
            raise S3Error("MalformedACLError")
        return Grant(_resolve("emailAddress", email, resolve_id, resolve_email), permission)
    raise S3Error("MalformedACLError")


def _grantee_xml(g: Grantee) -> str:
    head = f'<Grantee xmlns:xsi="{XSI}" xsi:type="{g.type}">'
    if g.type == "Group":
        return head + xml.el("URI", g.uri) + "</Grantee>"
    if g.type == "AmazonCustomerByEmail":
        return head + xml.el("EmailAddress", g.email) + "</Grantee>"
    return head + xml.el("ID", g.id) + xml.el("DisplayName", g.display_name) + "</Grantee>"


def render_acl_xml(acp: AccessControlPolicy) -> bytes:
    """Get*Acl's body, as S3 writes it."""
    owner = xml.tree("Owner", xml.el("ID", acp.owner.id), xml.el("DisplayName", acp.owner.display_name))
    grants = "".join(
        xml.tree("Grant", _grantee_xml(g.grantee), xml.el("Permission", g.permission)) for g in acp.grants
    )
    return xml.document("AccessControlPolicy", [owner, xml.tree("AccessControlList", grants)])


# --- the ACL check ---------------------------------------------------------------------

# IAM action -> the ACL permission that grants it, for the bucket's ACL ("bucket") or the
# object's ("object"): AWS's "Mapping of ACL permissions and access policy permissions".
ACL_GRANTS: dict[str, tuple[str, str]] = {
    "s3:ListBucket": ("bucket", "READ"),
    "s3:ListBucketVersions": ("bucket", "READ"),
    "s3:ListBucketMultipartUploads": ("bucket", "READ"),
    "s3:PutObject": ("bucket", "WRITE"),
    "s3:DeleteObject": ("bucket", "WRITE"),
    "s3:DeleteObjectVersion": ("bucket", "WRITE"),
    "s3:AbortMultipartUpload": ("bucket", "WRITE"),
    "s3:GetBucketAcl": ("bucket", "READ_ACP"),
    "s3:PutBucketAcl": ("bucket", "WRITE_ACP"),
    "s3:GetObject": ("object", "READ"),
    "s3:GetObjectVersion": ("object", "READ"),
    "s3:GetObjectTorrent": ("object", "READ"),
    "s3:GetObjectAcl": ("object", "READ_ACP"),
    "s3:GetObjectVersionAcl": ("object", "READ_ACP"),
    "s3:PutObjectAcl": ("object", "WRITE_ACP"),
    "s3:PutObjectVersionAcl": ("object", "WRITE_ACP"),
}


def _grantee_matches(g: Grantee, who: RequestPrincipal, ignore_public: bool) -> bool:
    if g.type == "Group":
        if ignore_public and g.uri in PUBLIC_GROUPS:
            return False
        if g.uri == ALL_USERS:
            return True
        if g.uri == AUTHENTICATED_USERS:
            return not who.anonymous
        return False   # LogDelivery: no requester here is S3's log delivery
    return who.canonical_id is not None and g.id == who.canonical_id


def acl_allows(grants: Iterable[Grant], who: RequestPrincipal, permission: str, *, ignore_public: bool = False) -> bool:
    """Does any grant give ``who`` ``permission`` (FULL_CONTROL gives every one)?
    ``ignore_public``: Block Public Access IgnorePublicAcls."""
    return any(
        (g.permission == permission or g.permission == "FULL_CONTROL")
        and _grantee_matches(g.grantee, who, ignore_public)
        for g in grants
    )


# --- Object Ownership --------------------------------------------------------------------


def _is_bucket_owner_full_control(acp: AccessControlPolicy, bucket_owner: Owner) -> bool:
    """bucket-owner-full-control, canned or as explicit grants: FULL_CONTROL to the bucket
    owner, nothing to anyone else but the writer."""
    has_owner = any(g.grantee.type == "CanonicalUser" and g.grantee.id == bucket_owner.id
                    and g.permission == "FULL_CONTROL" for g in acp.grants)
    others = [g for g in acp.grants if not (g.grantee.type == "CanonicalUser"
                                            and g.grantee.id in (bucket_owner.id, acp.owner.id))]
    return has_owner and not others


def check_write_acl(ownership: str, requested: AccessControlPolicy | None, bucket_owner: Owner,
                    headers: Mapping[str, str] | None = None) -> None:
    """PutObject, POST, CopyObject, CreateMultipartUpload: under BucketOwnerEnforced only
    no ACL or bucket-owner-full-control is accepted (S3: AccessControlListNotSupported)."""
    if ownership != BUCKET_OWNER_ENFORCED or requested is None:
        return
    canned = (headers or {}).get("x-amz-acl")
    if canned is not None and canned.strip() == "bucket-owner-full-control":
        return
    if canned is None and _is_bucket_owner_full_control(requested, bucket_owner):
        return
    raise S3Error("AccessControlListNotSupported")


def check_put_acl(ownership: str) -> None:
    """PutBucketAcl / PutObjectAcl: refused outright while ACLs are disabled."""
    if ownership == BUCKET_OWNER_ENFORCED:
        raise S3Error("AccessControlListNotSupported")


def check_create_bucket_acl(ownership: str, requested: AccessControlPolicy | None) -> None:
    """CreateBucket with BucketOwnerEnforced and an ACL granting anyone but the owner."""
    if ownership == BUCKET_OWNER_ENFORCED and requested is not None and not requested.is_private:
        raise S3Error("InvalidBucketAclWithObjectOwnership")


def check_enforce_ownership(bucket_acl: AccessControlPolicy) -> None:
    """PutBucketOwnershipControls BucketOwnerEnforced: the bucket ACL must be private."""
    if not bucket_acl.is_private:
        raise S3Error("InvalidBucketAclWithObjectOwnership")


def object_owner(ownership: str, writer: Owner, bucket_owner: Owner, canned: str | None) -> Owner:
    """Who owns a newly written object."""
    if ownership == BUCKET_OWNER_ENFORCED:
        return bucket_owner
    if ownership == BUCKET_OWNER_PREFERRED and canned == "bucket-owner-full-control":
        return bucket_owner
    return writer


def effective_acl(ownership: str, stored: AccessControlPolicy, bucket_owner: Owner) -> AccessControlPolicy:
    """What Get*Acl returns and what the ACL check reads: with ACLs disabled, the bucket
    owner's FULL_CONTROL only, whatever was stored before."""
    if ownership == BUCKET_OWNER_ENFORCED:
        return AccessControlPolicy(bucket_owner, (Grant(_user(bucket_owner), "FULL_CONTROL"),))
    return stored


def parse_ownership_controls(body: bytes) -> str:
    """PutBucketOwnershipControls body -> the ObjectOwnership value (MalformedXML otherwise)."""
    root = xml.parse(body)
    rules = xml.children(root, "Rule") if xml.local(root.tag) == "OwnershipControls" else []
    if len(rules) != 1:
        raise S3Error("MalformedXML")
    value = (xml.text(rules[0], "ObjectOwnership") or "").strip()
    if value not in OWNERSHIP:
        raise S3Error("MalformedXML")
    return value


def render_ownership_controls(value: str) -> bytes:
    return xml.document("OwnershipControls", [xml.tree("Rule", xml.el("ObjectOwnership", value))])


def ownership_header(headers: Mapping[str, str]) -> str | None:
    """CreateBucket's x-amz-object-ownership (InvalidArgument for an unknown value)."""
    v = headers.get("x-amz-object-ownership")
    if v is None:
        return None
    v = v.strip()
    if v not in OWNERSHIP:
        raise S3Error("InvalidArgument", detail="Invalid x-amz-object-ownership header",
                      elements={"ArgumentName": "x-amz-object-ownership", "ArgumentValue": v})
    return v
