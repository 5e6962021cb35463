"""Server-side encryption modes and the rules that bind them to signatures.

The rules are data: SSE_TABLE says which mode each signature version can
carry, OPERATION_SSE says what SSE means for each S3 operation. Code below
only looks them up.
"""

from __future__ import annotations

from .errors import PresignError

TYPE_CHECKING = False  # typing stays unimported at run time: `import s3presign` is on start-up paths
if TYPE_CHECKING:
    from typing import Mapping


def _md5(data: bytes):  # -> hash object; hashlib only when an SSE-C key is used
    import hashlib

    return hashlib.md5(data)


def _b64(data: bytes) -> str:
    from binascii import b2a_base64  # an extension module: loaded only for SSE-C / KMS context

    return b2a_base64(data, newline=False).decode()

H_SSE = "x-amz-server-side-encryption"
H_KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id"
H_KMS_CONTEXT = "x-amz-server-side-encryption-context"
H_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
H_C_ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"
H_C_KEY = "x-amz-server-side-encryption-customer-key"
H_C_KEY_MD5 = "x-amz-server-side-encryption-customer-key-md5"

SSE_C_ALGORITHM = "AES256"


class ModeRule:
    """One row of the SSE x signature-version table."""

    __slots__ = ("label", "header_value", "sigv2", "sigv2_refusal")

    def __init__(self, label: str, header_value: str | None, sigv2: bool, sigv2_refusal: str = "") -> None:
        self.label = label
        self.header_value = header_value  # x-amz-server-side-encryption value, if any
        self.sigv2 = sigv2
        self.sigv2_refusal = sigv2_refusal

    def __repr__(self) -> str:
        return f"ModeRule({self.label!r}, {self.header_value!r}, sigv2={self.sigv2})"


# The seed table. SigV4 allows every mode; SigV2 only those marked.
SSE_TABLE: dict[str, ModeRule] = {
    "none": ModeRule("none", None, True),
    "s3": ModeRule("SSE-S3 (AES256)", "AES256", True),
    "kms": ModeRule(
        "SSE-KMS (aws:kms)",
        "aws:kms",
        False,
        "SSE-KMS requires Signature Version 4 (S3 answers InvalidArgument to a SigV2 "
        "request that writes or reads a KMS-encrypted object); use signature_version='v4' (CLI: --signature-version v4)",
    ),
    "dsse": ModeRule(
        "DSSE-KMS (aws:kms:dsse)",
        "aws:kms:dsse",
        False,
        "DSSE-KMS requires Signature Version 4 (S3 answers InvalidArgument to a SigV2 "
        "request that writes or reads a KMS-encrypted object); use signature_version='v4' (CLI: --signature-version v4)",
    ),
    "c": ModeRule("SSE-C, key supplied at use", None, True),
    "c-key": ModeRule(
        "SSE-C, key fixed at signing",
        None,
        False,
        "an SSE-C key fixed at signing requires Signature Version 4: SigV2 leaves the "
        "key-MD5 header out of the signature, so the URL could not be bound to the key; "
        "use signature_version='v4' (CLI: --signature-version v4), or SSE.customer() without a key to let whoever uses "
        "the URL supply it",
    ),
}

# What SSE means for an operation:
#   "write":  the request chooses the encryption (all SSE request headers)
#   "object": the request uses an existing object (SSE-C key headers; KMS needs SigV4)
#   None:     SSE means nothing here
OPERATION_SSE: dict[str, str | None] = {
    "PutObject": "write",
    "CopyObject": "write",
    "CreateMultipartUpload": "write",
    "PostObject": "write",
    "GetObject": "object",
    "HeadObject": "object",
    "UploadPart": "object",
    "CompleteMultipartUpload": "object",
    "DeleteObject": None,
    "AbortMultipartUpload": None,
    "ListParts": None,
    "Other": None,
}


def key_md5(key: bytes) -> str:
    return _b64(_md5(key).digest())


class SSE:
    """An SSE mode with its parameters. Build one with the class methods.

    For writes it becomes the SSE request headers; for reads (GET/HEAD) it
    describes how the object is stored, which is what decides the headers and
    the signature version a read needs.
    """

    __slots__ = ("mode", "key_id", "context", "bucket_key", "_key", "_cache")

    def __init__(
        self,
        mode: str,
        *,
        key_id: str | None = None,
        context: str | None = None,
        bucket_key: bool | None = None,
        customer_key: bytes | None = None,
    ) -> None:
        if mode not in SSE_TABLE or mode == "none":
            raise PresignError(
                f"unknown SSE mode {mode!r}; use SSE.s3(), SSE.kms(), SSE.dsse() or SSE.customer()"
            )
        self.mode = mode
        self.key_id = key_id
        self.context = context  # already base64(JSON)
        self.bucket_key = bucket_key
        self._key = customer_key
        self._cache: dict[tuple[str, str], tuple[dict[str, str], tuple[str, ...]]] = {}

    # --- constructors -------------------------------------------------------
    @classmethod
    def s3(cls) -> "SSE":
        """SSE-S3: S3 manages the key (x-amz-server-side-encryption: AES256)."""
        return cls("s3")

    @classmethod
    def kms(
        cls,
        key_id: str | None = None,
        context: Mapping[str, str] | None = None,
        bucket_key: bool | None = None,
    ) -> "SSE":
        """SSE-KMS. ``key_id`` is passed through as given (id, ARN, alias name or alias ARN)."""
        return cls("kms", key_id=_check_key_id(key_id), context=encode_context(context), bucket_key=_check_bool(bucket_key))

    @classmethod
    def dsse(cls, key_id: str | None = None, context: Mapping[str, str] | None = None) -> "SSE":
        """DSSE-KMS: two layers of encryption under a KMS key."""
        return cls("dsse", key_id=_check_key_id(key_id), context=encode_context(context))

    @classmethod
    def customer(cls, key: bytes | None = None) -> "SSE":
        """SSE-C. Without ``key`` the URL leaves the key to whoever uses it (only the
        algorithm is signed); with a 32-byte ``key`` the URL works only with that key."""
        if key is None:
            return cls("c")
        if isinstance(key, str):
            raise PresignError("an SSE-C key is 32 raw bytes, not text; pass bytes (e.g. base64.b64decode(...))")
        if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
            size = len(key) if isinstance(key, (bytes, bytearray)) else type(key).__name__
            raise PresignError(
                f"an SSE-C key must be exactly 32 bytes (AES-256), got {size}; "
                "generate one with os.urandom(32)"
            )
        return cls("c-key", customer_key=bytes(key))

    @classmethod
    def parse(cls, spec: str, *, customer_key: bytes | None = None, context: Mapping[str, str] | None = None) -> "SSE | None":
        """The CLI form: none | s3 | kms[:KEY-ID] | dsse[:KEY-ID] | c | c-key."""
        name, _, arg = spec.partition(":")
        name = name.strip().lower()
        if name in ("none", ""):
            return None
        if name in ("s3", "aes256", "sse-s3"):
            return cls.s3()
        if name in ("kms", "aws:kms", "sse-kms"):
            return cls.kms(arg or None, context)
        if name in ("dsse", "aws:kms:dsse", "dsse-kms"):
            return cls.dsse(arg or None, context)
        if name in ("c", "sse-c"):
            return cls.customer()
        if name == "c-key":
            if customer_key is None:
                raise PresignError("--sse c-key fixes the key at signing; give it with --sse-c-key-file FILE")
            return cls.customer(customer_key)
        raise PresignError(f"unknown SSE mode {spec!r}; use none, s3, kms[:KEY-ID], dsse[:KEY-ID], c or c-key")

    # --- facts ----------------------------------------------------------------
    @property
    def rule(self) -> ModeRule:
        return SSE_TABLE[self.mode]

    @property
    def customer_key(self) -> bytes | None:
        return self._key

    @property
    def is_customer(self) -> bool:
        return self.mode in ("c", "c-key")

    def __repr__(self) -> str:
        parts = [self.mode]
        if self.key_id:
            parts.append(f"key_id={self.key_id!r}")
        if self.mode == "c-key":
            parts.append(f"key_md5={key_md5(self._key or b'')!r}")
        return f"SSE({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SSE) and (self.mode, self.key_id, self.context, self.bucket_key, self._key) == (
            other.mode, other.key_id, other.context, other.bucket_key, other._key
        )

    def __hash__(self) -> int:
        return hash((self.mode, self.key_id, self.context, self.bucket_key, self._key))

    # --- headers --------------------------------------------------------------
    def headers_for(self, operation: str, signature_version: str) -> tuple[dict[str, str], tuple[str, ...]]:
        """(headers to sign, names the consumer must add) for one operation.

        Raises PresignError where the table forbids the combination.
        """
        cached = self._cache.get((operation, signature_version))
        if cached is not None:
            return cached
        use = OPERATION_SSE.get(operation)
        if use is None:
            raise PresignError(
                f"SSE means nothing for {operation}; drop sse= (it is set when the object "
                "is written, and needed again only to read or extend it)"
            )
        rule = self.rule
        if signature_version == "v2" and not rule.sigv2:
            # Reads of SSE-S3 / SSE-C objects are fine under SigV2; KMS never is.
            raise PresignError(rule.sigv2_refusal)
        signed: dict[str, str] = {}
        required: tuple[str, ...] = ()
        if self.is_customer:
            signed[H_C_ALGORITHM] = SSE_C_ALGORITHM
            if self._key is not None:
                signed[H_C_KEY] = _b64(self._key)
                signed[H_C_KEY_MD5] = key_md5(self._key)
            else:
                required = (H_C_KEY, H_C_KEY_MD5)
        elif use == "write":
            signed[H_SSE] = rule.header_value or ""
            if self.key_id is not None:
                signed[H_KMS_KEY] = self.key_id
            if self.context is not None:
                signed[H_KMS_CONTEXT] = self.context
            if self.bucket_key is not None:
                signed[H_BUCKET_KEY] = "true" if self.bucket_key else "false"
        result = (signed, required)
        self._cache[(operation, signature_version)] = result
        return result


def decode_key_file(data: bytes) -> bytes | None:
    """A 256-bit key as files hold it: 32 raw bytes, or their base64 or hex text."""
    if len(data) == 32:
        return data
    import base64
    import binascii

    text = data.strip()
    for decode in (lambda t: base64.b64decode(t, validate=True), binascii.unhexlify):
        try:
            key = decode(text)
        except (binascii.Error, ValueError):
            continue
        if len(key) == 32:
            return key
    return None


def customer_key_headers(key: bytes) -> dict[str, str]:
    """The two headers whoever uses an SSE-C URL adds for their key."""
    if len(key) != 32:
        raise PresignError(f"an SSE-C key must be exactly 32 bytes (AES-256), got {len(key)}")
    return {H_C_KEY: _b64(key), H_C_KEY_MD5: key_md5(key)}


def encode_context(context: Mapping[str, str] | str | None) -> str | None:
    """A KMS encryption context as S3 wants it: base64 of a JSON string map."""
    if context is None:
        return None
    import base64
    import json

    if isinstance(context, str):
        try:
            decoded = json.loads(base64.b64decode(context, validate=True))
        except ValueError:
            raise PresignError(
                "a KMS encryption context is a dict of strings (or its base64 JSON); "
                "pass e.g. {'project': 'x'}"
            ) from None
        _check_context(decoded)
        return context
    _check_context(context)
    text = json.dumps(dict(context), separators=(",", ":"), sort_keys=True)
    return _b64(text.encode())


def _check_context(context: object) -> None:
    if not hasattr(context, "items") or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in context.items()
    ):
        raise PresignError(
            "a KMS encryption context must map strings to strings, e.g. {'project': 'x'}"
        )


def _check_key_id(key_id: str | None) -> str | None:
    if key_id is not None and (not isinstance(key_id, str) or not key_id.strip()):
        raise PresignError("a KMS key id must be a non-empty string (id, ARN, alias/NAME or alias ARN)")
    return key_id


def _check_bool(value: bool | None) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise PresignError("bucket_key must be True, False or None")
    return value
