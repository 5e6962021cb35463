"""Access control, as pure functions the handlers call (no I/O here).

- ``actions``: the table of operations -> IAM actions and resources.
- ``policy``: bucket policies: parse/validate (MalformedPolicy), evaluate, is_public.
- ``context``: request facts -> condition keys -> RequestContext.
- ``acl``: canned ACLs, grant headers, AccessControlPolicy XML, ACL check, Object Ownership.
- ``authorize``: S3's decision order over policy, owner and ACL; Block Public Access.
- ``tagging``: tags in XML and in x-amz-tagging, with S3's limits.
- ``defaults``: current vs legacy new-bucket defaults; PublicAccessBlock and
  BlockedEncryptionTypes rules.
"""
