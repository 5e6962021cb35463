"""What every handler receives: the server's state and the request being served."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from s3presign.core.credentials import Credentials
from s3presign.core.s3errors import S3Error
from s3presign.core.verify import AuthResult
from s3presign.server.auth import Payload
from s3presign.server.config import ServerConfig
from s3presign.server.encryption import Encryption
from s3presign.server.http import Request
from s3presign.server.storage import AsyncStorage, Storage
from s3presign.server.users import Account, FileUsers, account_of, owner_id  # noqa: F401 (re-exported)


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
    # who may sign: users.FileUsers (the embedded default) or users.DatabaseUsers
    users: Any = None

    def __post_init__(self) -> None:
        self.store = AsyncStorage(self.storage)
        if self.users is None:
            self.users = FileUsers(self.config.users, self.config.accounts)

    def lookup(self, access_key: str) -> Credentials | None:
        return self.users.lookup(access_key)

    def account(self, access_key: str) -> Account:
        return self.users.account(access_key)

    def account_by_id(self, canonical_id: str) -> Account | None:
        """The account with this canonical id, for Owner elements that show the display
        name set now (None: no user has it)."""
        return self.users.account_by_id(canonical_id)

    @property
    def first_account(self) -> Account:
        """Who owns a bucket created before owners were recorded: the first user."""
        return self.users.first_account()



class Ctx:
    """One request in flight: who sent it, which bucket and key it names."""

    __slots__ = ("state", "req", "auth", "bucket", "key", "operation", "access", "found", "found_versioned")

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
        self.found_versioned = False  # ... and whether its bucket has had versioning

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
