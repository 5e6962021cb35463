"""What every handler receives: the server's state and the request being served."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from s3presign.core.credentials import Credentials
from s3presign.core.s3errors import S3Error
from s3presign.core.verify import AuthResult
from s3presign.server.auth import Payload
from s3presign.server.config import AccountSpec, ServerConfig
from s3presign.server.encryption import Encryption
from s3presign.server.http import Request
from s3presign.server.storage import AsyncStorage, Storage


@dataclass
class ServerState:
    """Created once per server: configuration, storage and encryption."""

    config: ServerConfig
    storage: Storage  # the blocking contract (for start-up, tools, the embedded demo)
    encryption: Encryption
    # (bucket, key, version) -> (record, reader): SSE-S3 readers of recently read versions,
    # so a hot object's key is unsealed once, not per GET. See objects._reader.
    readers: dict[tuple[str, str, str], tuple[Any, Any]] = field(default_factory=dict)
    store: AsyncStorage = field(init=False)  # what handlers await

    def __post_init__(self) -> None:
        self.store = AsyncStorage(self.storage)

    def lookup(self, access_key: str) -> Credentials | None:
        return self.config.users.get(access_key)

    def account(self, access_key: str) -> "Account":
        spec = self.config.accounts.get(access_key)
        return account_of(access_key) if spec is None else configured_account(access_key, spec)

    def account_by_id(self, canonical_id: str) -> "Account | None":
        """The configured account with this canonical id, for Owner elements that show the
        display name the operator set now (None: no user has it)."""
        by_id = self.__dict__.get("_by_id")
        if by_id is None:   # the users are fixed for the server's life: built once
            by_id = {}
            for access_key in self.config.users:
                account = self.account(access_key)
                by_id.setdefault(account.canonical_id, account)
            self.__dict__["_by_id"] = by_id
        return by_id.get(canonical_id)

    @property
    def first_account(self) -> "Account":
        """Who owns a bucket created before owners were recorded: the first user."""
        return self.account(next(iter(self.config.users)))


@lru_cache(maxsize=64)
def owner_id(access_key: str) -> str:
    """A stable canonical user id for an access key (S3 shows a 64-hex id)."""
    return hashlib.sha256(b"s3presign owner:" + access_key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Account:
    """One user of the credentials file as an S3 account: a 64-hex canonical id and a
    12-digit account id, both derived from the access key (stable across restarts),
    and the display name S3 shows in Owner elements."""

    canonical_id: str
    account_id: str
    display_name: str


@lru_cache(maxsize=256)
def account_of(access_key: str) -> Account:
    account = str(int(hashlib.sha256(b"s3presign account:" + access_key.encode()).hexdigest(), 16) % 10**12)
    return Account(owner_id(access_key), account.zfill(12), access_key)


@lru_cache(maxsize=256)
def configured_account(access_key: str, spec: AccountSpec) -> Account:
    """An account with the operator's settings; each one not set is derived: the canonical
    id from the account id when that is set (every user of one account shares it), else
    from the access key; the display name is the access key."""
    derived = account_of(access_key)
    account_id = spec.account_id or derived.account_id
    canonical = spec.canonical_id or (
        hashlib.sha256(b"s3presign canonical:" + account_id.encode()).hexdigest() if spec.account_id
        else derived.canonical_id)
    return Account(canonical, account_id, spec.display_name or derived.display_name)


class Ctx:
    """One request in flight: who sent it, which bucket and key it names."""

    __slots__ = ("state", "req", "auth", "bucket", "key", "operation", "access", "found")

    def __init__(self, state: ServerState, req: Request, bucket: str, key: str) -> None:
        self.state = state
        self.req = req
        self.auth: AuthResult | None = None
        self.bucket = bucket
        self.key = key
        self.operation: str | None = None
        self.access: Any = None   # handlers.authz.Access, once authorization ran
        # GET/HEAD: the current version authorization read (None: the handler looks it up)
        self.found: Any = None

    @property
    def signature_version(self) -> str:
        return self.auth.signature_version if self.auth is not None else "v4"

    @property
    def owner(self) -> tuple[str, str]:
        """(ID, DisplayName) of the requester, for Owner elements."""
        if self.auth is None:
            return owner_id(""), ""
        account = self.state.account(self.auth.access_key)
        return account.canonical_id, account.display_name

    async def read_body(self, limit: int, *, require_digest: bool = False, body_checksums: bool = True) -> bytes:
        """A small request body (XML), verified like any payload (x-amz-content-sha256,
        Content-MD5, x-amz-checksum-*); ``require_digest`` is S3's rule for DeleteObjects
        and PutBucketEncryption that one of Content-MD5 or a checksum be sent."""
        headers = self.req.headers
        if require_digest and "content-md5" not in headers and not any(
            n.startswith("x-amz-checksum-") for n in headers
        ) and "x-amz-trailer" not in headers:
            raise S3Error("MissingContentMD5")
        payload = Payload(self.req, self.auth, max_size=limit, length_required=False, body_checksums=body_checksums)
        parts = [chunk async for chunk in payload.chunks()]
        payload.finish()
        return b"".join(parts)
