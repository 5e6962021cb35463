"""Object and bucket tags: the Tagging XML, the x-amz-tagging header, S3's limits.

Tags are an ordered ``dict[str, str]`` (S3 keeps the order given). Both forms go
through one ``validate`` so a header and a body are held to the same rules.
"""

from __future__ import annotations

import unicodedata
from typing import Mapping
from urllib.parse import parse_qsl

from s3presign.core.s3errors import S3Error
from s3presign.server import xml

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256
RESERVED_PREFIX = "aws:"
# Besides Unicode letters, digits and spaces: S3's documented tag punctuation.
_PUNCTUATION = frozenset("+-=._:/@")
DIRECTIVES = ("COPY", "REPLACE")


def _allowed(text: str) -> bool:
    for ch in text:
        if ch in _PUNCTUATION:
            continue
        cat = unicodedata.category(ch)
        if cat[0] in ("L", "N") or cat == "Zs":
            continue
        return False
    return True


def validate(tags: Mapping[str, str], *, bucket: bool = False) -> dict[str, str]:
    """S3's tag rules, in S3's order: count, then each tag's key and value."""
    if len(tags) > (MAX_BUCKET_TAGS if bucket else MAX_OBJECT_TAGS):
        raise S3Error("TooManyBucketTags" if bucket else "TooManyObjectTags")
    for k, v in tags.items():
        if len(k) > MAX_KEY_CHARS:
            raise S3Error("TagKeyTooLong")
        if not k or not _allowed(k):
            raise S3Error("TagKeyInvalid")
        if k.lower().startswith(RESERVED_PREFIX):
            raise S3Error("TagReservedPrefix")
        if len(v) > MAX_VALUE_CHARS:
            raise S3Error("TagValueTooLong")
        if not _allowed(v):
            raise S3Error("TagValueInvalid")
    return dict(tags)


def parse_tagging_xml(body: bytes, *, bucket: bool = False) -> dict[str, str]:
    """Put*Tagging body -> tags. Not a Tagging document: MalformedXML; a key twice: InvalidTag."""
    root = xml.parse(body)
    if xml.local(root.tag) != "Tagging":
        raise S3Error("MalformedXML")
    tagset = xml.child(root, "TagSet")
    if tagset is None:
        raise S3Error("MalformedXML")
    tags: dict[str, str] = {}
    for tag in xml.children(tagset, "Tag"):
        key, value = xml.text(tag, "Key"), xml.text(tag, "Value")
        if key is None or value is None:
            raise S3Error("MalformedXML")
        if key in tags:
            raise S3Error("TagDuplicateKey")
        tags[key] = value
    return validate(tags, bucket=bucket)


def render_tagging_xml(tags: Mapping[str, str]) -> bytes:
    items = "".join(xml.tree("Tag", xml.el("Key", k), xml.el("Value", v)) for k, v in tags.items())
    return xml.document("Tagging", [xml.tree("TagSet", items)])


def parse_tagging_header(value: str) -> dict[str, str]:
    """x-amz-tagging (and POST's ``tagging`` field is XML, not this): URL-encoded
    ``k1=v1&k2=v2``; a value may be empty; a key twice is S3's InvalidArgument."""
    try:
        pairs = parse_qsl(value, keep_blank_values=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise S3Error("InvalidTaggingHeader") from None
    tags: dict[str, str] = {}
    for k, v in pairs:
        if k in tags:
            raise S3Error("InvalidTaggingHeader")
        tags[k] = v
    return validate(tags)


def tagging_directive(headers: Mapping[str, str]) -> str:
    """CopyObject's x-amz-tagging-directive: COPY (default) or REPLACE."""
    d = headers.get("x-amz-tagging-directive", "COPY").strip().upper()
    if d not in DIRECTIVES:
        raise S3Error("InvalidTaggingDirective")
    return d


def tag_count_header(tags: Mapping[str, str]) -> str | None:
    """GetObject/HeadObject's x-amz-tagging-count (absent when there are none)."""
    return str(len(tags)) if tags else None
