"""S3's SSE request headers: parsed into what to do, or refused exactly as S3 does.

Every rule raises an :class:`S3Error` by its name in the one error table. The
functions only read headers; keys, KMS and data are :mod:`server.encryption`'s.
Header names are matched case-insensitively.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping
from xml.sax.saxutils import escape

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from s3presign.core.s3errors import S3Error
from s3presign.core.sse import H_BUCKET_KEY, H_C_ALGORITHM, H_KMS_CONTEXT, H_KMS_KEY, H_SSE, SSE_C_ALGORITHM

SSE_S3 = "AES256"
SSE_KMS = "aws:kms"
SSE_DSSE = "aws:kms:dsse"
SSE_C = "SSE-C"
KMS_MODES = frozenset({SSE_KMS, SSE_DSSE})
SSE_VALUES = frozenset({SSE_S3, SSE_KMS, SSE_DSSE})

H_CONTEXT = H_KMS_CONTEXT
H_CUSTOMER = H_C_ALGORITHM.removesuffix("algorithm")
H_COPY_CUSTOMER = "x-amz-copy-source-server-side-encryption-customer-"


@dataclass(frozen=True)
class CustomerKey:
    """An SSE-C key from the request. Its bytes never appear in repr or logs."""

    key: bytes = field(repr=False)
    key_md5: str  # base64, as the client sent it and as responses echo it
    algorithm: str = SSE_C_ALGORITHM

    def headers(self) -> dict[str, str]:
        """The response headers S3 echoes for an SSE-C request."""
        return {
            H_CUSTOMER + "algorithm": self.algorithm,
            H_CUSTOMER + "key-MD5": self.key_md5,
        }


@dataclass(frozen=True)
class SseRequest:
    """What a write asked for. ``mode`` None: the request named no encryption."""

    mode: str | None = None
    kms_key_id: str | None = None
    context: Mapping[str, str] | None = None  # the caller's KMS encryption context
    bucket_key_enabled: bool | None = None
    customer_key: CustomerKey | None = None

    @classmethod
    def from_bucket_default(cls, config: Mapping[str, Any]) -> "SseRequest":
        """The request a bucket's default encryption rule stands for."""
        return cls(
            mode=config["SSEAlgorithm"],
            kms_key_id=config.get("KMSMasterKeyID") or None,
            bucket_key_enabled=config.get("BucketKeyEnabled"),
        )


def _amz(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k[:6].lower() == "x-amz-"}


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _customer_key(h: Mapping[str, str], prefix: str, secure: bool, allow_insecure: bool) -> CustomerKey | None:
    algorithm, key, md5 = h.get(prefix + "algorithm"), h.get(prefix + "key"), h.get(prefix + "key-md5")
    if algorithm is None and key is None and md5 is None:
        return None
    if not secure and not allow_insecure:
        raise S3Error("SseCRequiresHttps")
    if algorithm is None:
        raise S3Error("SseCAlgorithmMissing")
    if algorithm != SSE_C_ALGORITHM:
        raise S3Error("SseCBadAlgorithm")
    if key is None:
        raise S3Error("SseCKeyMissing")
    raw = _b64(key)
    if raw is None or len(raw) != 32:
        raise S3Error("SseCKeyInvalid")
    if md5 is None:
        raise S3Error("SseCKeyMd5Missing")
    if _b64(md5) != hashlib.md5(raw).digest():
        raise S3Error("SseCKeyMd5Mismatch")
    return CustomerKey(raw, md5.strip(), algorithm)


def kms_needs_v4() -> S3Error:
    """S3's refusal of anything SSE-KMS signed with Signature Version 2."""
    return S3Error("KmsRequiresSigV4", elements={"ArgumentName": "Authorization", "ArgumentValue": "null"})


def parse_context(value: str) -> dict[str, str]:
    """x-amz-server-side-encryption-context: base64 of a JSON string-to-string map."""
    raw = _b64(value)
    try:
        context = json.loads(raw.decode("utf-8")) if raw is not None else None
    except (UnicodeDecodeError, ValueError):
        context = None
    if not isinstance(context, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in context.items()
    ):
        raise S3Error("InvalidEncryptionContext")
    return context


def parse_write_sse(
    headers: Mapping[str, str], *, secure: bool, allow_insecure_ssec: bool, signature_version: str
) -> SseRequest:
    """The SSE of a PUT, POST object, CreateMultipartUpload or copy target."""
    h = _amz(headers)
    sse = h.get(H_SSE)
    customer = _customer_key(h, H_CUSTOMER, secure, allow_insecure_ssec)
    if customer is not None and sse is not None:
        raise S3Error("SseCWithSse")
    if sse is not None and sse not in SSE_VALUES:
        raise S3Error("UnknownSse", elements={"ArgumentName": H_SSE, "ArgumentValue": sse})
    kms_key, context_header = h.get(H_KMS_KEY), h.get(H_CONTEXT)
    if sse not in KMS_MODES:
        if kms_key is not None or context_header is not None:
            raise S3Error("KmsKeyWithoutKms")
    elif signature_version == "v2":
        raise kms_needs_v4()
    bucket_key = h.get(H_BUCKET_KEY)
    return SseRequest(
        mode=SSE_C if customer is not None else sse,
        kms_key_id=kms_key.strip() if kms_key else None,
        context=parse_context(context_header) if context_header is not None else None,
        bucket_key_enabled=None if bucket_key is None else bucket_key.strip().lower() == "true",
        customer_key=customer,
    )


# Every header parse_read_sse reads, as ASGI names them (lower-case): a read naming none of
# them (most GETs) need not be parsed.
READ_SSE_HEADERS = (H_SSE, H_CUSTOMER + "algorithm", H_CUSTOMER + "key", H_CUSTOMER + "key-md5")


def parse_read_sse(
    headers: Mapping[str, str], *, secure: bool, allow_insecure_ssec: bool, signature_version: str
) -> CustomerKey | None:
    """The SSE-C key of a GET or HEAD; naming an SSE mode on a read is refused."""
    h = _amz(headers)
    if H_SSE in h:
        raise S3Error("SseOnRead", elements={"ArgumentName": H_SSE, "ArgumentValue": h[H_SSE]})
    return _customer_key(h, H_CUSTOMER, secure, allow_insecure_ssec)


def parse_copy_source_sse(
    headers: Mapping[str, str], *, secure: bool, allow_insecure_ssec: bool
) -> CustomerKey | None:
    """The SSE-C key of a copy's source object (x-amz-copy-source-...-customer-*)."""
    return _customer_key(_amz(headers), H_COPY_CUSTOMER, secure, allow_insecure_ssec)


# --- bucket default encryption (PutBucketEncryption / GetBucketEncryption) -----

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _children(node: Any) -> dict[str, Any]:
    return {child.tag.rpartition("}")[2]: child for child in node}


def _text(node: Any | None) -> str | None:
    return None if node is None else (node.text or "").strip()


def parse_bucket_encryption_xml(body: bytes) -> dict[str, Any]:
    """A ServerSideEncryptionConfiguration body -> its (first) rule as a dict.

    Keys: SSEAlgorithm, KMSMasterKeyID (or None), BucketKeyEnabled (bool) and,
    when given, BlockedEncryptionTypes (list of str).
    """
    if not body.strip():
        raise S3Error("MissingRequestBody")
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise S3Error("MalformedXML") from None
    rule = _children(root).get("Rule") if root.tag.rpartition("}")[2] == "ServerSideEncryptionConfiguration" else None
    parts = _children(rule) if rule is not None else {}
    default = _children(parts["ApplyServerSideEncryptionByDefault"]) if "ApplyServerSideEncryptionByDefault" in parts else {}
    algorithm = _text(default.get("SSEAlgorithm"))
    bucket_key = _text(parts.get("BucketKeyEnabled"))
    if algorithm not in SSE_VALUES or bucket_key not in (None, "true", "false"):
        raise S3Error("MalformedXML")
    kms_key = _text(default.get("KMSMasterKeyID")) or None
    if kms_key is not None and algorithm not in KMS_MODES:
        raise S3Error("KmsKeyIdNotApplicable")
    config: dict[str, Any] = {
        "SSEAlgorithm": algorithm,
        "KMSMasterKeyID": kms_key,
        "BucketKeyEnabled": bucket_key == "true",
    }
    if "BlockedEncryptionTypes" in parts:
        config["BlockedEncryptionTypes"] = [_text(n) or "" for n in parts["BlockedEncryptionTypes"]]
    return config


def render_bucket_encryption_xml(config: Mapping[str, Any]) -> bytes:
    """The GetBucketEncryption body for a rule from :func:`parse_bucket_encryption_xml`."""
    default = f"<SSEAlgorithm>{escape(config['SSEAlgorithm'])}</SSEAlgorithm>"
    if config.get("KMSMasterKeyID"):
        default += f"<KMSMasterKeyID>{escape(config['KMSMasterKeyID'])}</KMSMasterKeyID>"
    rule = f"<ApplyServerSideEncryptionByDefault>{default}</ApplyServerSideEncryptionByDefault>"
    rule += f"<BucketKeyEnabled>{'true' if config.get('BucketKeyEnabled') else 'false'}</BucketKeyEnabled>"
    if "BlockedEncryptionTypes" in config:
        types = "".join(f"<EncryptionType>{escape(t)}</EncryptionType>" for t in config["BlockedEncryptionTypes"])
        rule += f"<BlockedEncryptionTypes>{types}</BlockedEncryptionTypes>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ServerSideEncryptionConfiguration xmlns="{_NS}"><Rule>{rule}</Rule>'
        "</ServerSideEncryptionConfiguration>"
    ).encode()
