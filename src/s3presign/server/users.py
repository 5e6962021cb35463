"""Who may sign requests: the users (access keys) and the S3 account each belongs to.

Two directories, one interface (``lookup``, ``account``, ``accounts``, ``first_account``):

- :class:`FileUsers`: the embedded default, the users of ``--credentials`` (or the
  environment, or a generated pair), fixed for the life of the process.
- :class:`DatabaseUsers`: the distributed shape, the ``s3p_users`` table of the
  metadata database, managed by ``s3presign user`` and shared by every instance.
  Secrets (and session tokens) are sealed under the master key: the database and
  its dumps hold only ciphertext bound to the access key.

Consistency of :class:`DatabaseUsers`: every process keeps a snapshot of the table
and reads one counter row (``s3p_meta.users-version``, bumped by every change in
the same transaction) every :data:`POLL` seconds, reloading the table when it
moved. A user added, removed or disabled anywhere is therefore seen by every
instance within about :data:`POLL` seconds, and request handling never waits on
the database for a user. If the counter cannot be read for :data:`STALE` seconds
(the database is away), lookups answer 503 instead of trusting an old snapshot.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping

from s3presign.core.credentials import Credentials
from s3presign.server import keys

log = logging.getLogger("s3presign.server")

POLL = 0.5  # seconds between reads of the version counter
STALE = 10.0  # a snapshot not confirmed for this long is not trusted (503)
VERSION_ROW = "users-version"
ACTIVE, INACTIVE = "Active", "Inactive"  # IAM's words for an access key's status

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS s3p_users (access_key TEXT PRIMARY KEY, secret TEXT NOT NULL,"
    " token TEXT NOT NULL, account_id TEXT NOT NULL, canonical_id TEXT NOT NULL,"
    " display_name TEXT NOT NULL, status TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)"
)
_COLUMNS = "access_key, secret, token, account_id, canonical_id, display_name, status, created"
_ACCESS_KEY = re.compile(r"[A-Za-z0-9_+=,.@-]{3,128}\Z")
_SECRET = re.compile(r"[\x21-\x7e]{1,256}\Z")  # printable ASCII, no spaces
_ACCOUNT_ID = re.compile(r"\d{12}\Z")
_SEALING_INFO = b"s3presign users v1"


class UserError(ValueError):
    """A management request refused (unknown key, key taken, malformed value)."""


@dataclass(frozen=True, slots=True)
class Account:
    """An S3 account: a 64-hex canonical id, a 12-digit account id and the display
    name S3 shows in Owner elements. Several access keys may share one account."""

    canonical_id: str
    account_id: str
    display_name: str


@lru_cache(maxsize=256)
def owner_id(access_key: str) -> str:
    """The canonical id of a file user's account (derived from its access key)."""
    return hashlib.sha256(b"s3presign owner:" + access_key.encode()).hexdigest()


@lru_cache(maxsize=256)
def account_of(access_key: str) -> Account:
    """A file user's account, derived from its access key (stable across restarts)."""
    number = int(hashlib.sha256(b"s3presign account:" + access_key.encode()).hexdigest(), 16) % 10**12
    return Account(owner_id(access_key), str(number).zfill(12), access_key)


@lru_cache(maxsize=256)
def configured_account(access_key: str, spec: Any) -> Account:
    """An account with the operator's settings (a config.AccountSpec); each one not set is
    derived: the canonical id from the account id when that is set (every user of one
    account shares it), else from the access key; the display name is the access key."""
    derived = account_of(access_key)
    account_id = spec.account_id or derived.account_id
    canonical = spec.canonical_id or (
        hashlib.sha256(b"s3presign canonical:" + account_id.encode()).hexdigest() if spec.account_id
        else derived.canonical_id)
    return Account(canonical, account_id, spec.display_name or derived.display_name)


class FileUsers:
    """The users given at start-up: each access key its own account, unless the file
    sets an account id, canonical id or display name for it (``accounts``)."""

    def __init__(self, users: Mapping[str, Credentials], accounts: Mapping[str, Any] | None = None) -> None:
        self._users = dict(users)
        specs = accounts or {}
        self._accounts = {k: configured_account(k, specs[k]) if k in specs else account_of(k) for k in self._users}
        self._by_id: dict[str, Account] = {}
        for account in self._accounts.values():
            self._by_id.setdefault(account.canonical_id, account)

    def lookup(self, access_key: str) -> Credentials | None:
        return self._users.get(access_key)

    def account(self, access_key: str) -> Account:
        found = self._accounts.get(access_key)
        return found if found is not None else account_of(access_key)

    def accounts(self) -> Iterable[Account]:
        return self._accounts.values()

    def account_by_id(self, canonical_id: str) -> Account | None:
        return self._by_id.get(canonical_id)

    def first_account(self) -> Account:
        return next(iter(self._accounts.values()), account_of(""))

    def snapshot(self) -> dict[str, Credentials]:
        return dict(self._users)


# --- the table ----------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """One row of s3p_users as the CLI shows it (never the secret)."""

    access_key: str
    account: Account
    status: str
    created: float
    has_token: bool


class UserStore:
    """The s3p_users table of a :class:`metadata.Metadata`: management and loading."""

    def __init__(self, meta: Any, master_key: bytes) -> None:
        self.meta = meta
        self._key = keys.hkdf(master_key, _SEALING_INFO)
        with meta.tx() as t:
            if meta.dialect.schema_lock:
                meta._exec(t, meta.dialect.schema_lock)
            meta._exec(t, _SCHEMA)

    # sealing: the secret is bound to its access key, so a row's secret copied onto
    # another row does not open
    def _seal(self, access_key: str, field: str, value: str) -> str:
        if not value:
            return ""
        sealed = keys.seal(self._key, value.encode(), {"user": access_key, "field": field})
        return base64.b64encode(sealed).decode()

    def _unseal(self, access_key: str, field: str, text: str) -> str:
        if not text:
            return ""
        return keys.unseal(self._key, base64.b64decode(text), {"user": access_key, "field": field}).decode()

    def version(self) -> str:
        return self.meta.get(VERSION_ROW) or "0"

    def _bump(self, t: Any) -> None:
        current = self.meta.value(t, VERSION_ROW, lock=True, default="0")
        self.meta.set(t, VERSION_ROW, str(int(current or 0) + 1))

    def add(self, access_key: str, secret: str, *, session_token: str | None = None,
            account_id: str | None = None, display_name: str | None = None) -> User:
        """A new active user. Without ``account_id`` it gets its own account, derived
        from the access key as a file user's is (moving users from a credentials file
        into the database keeps every bucket's owner); with the id of an existing
        account, it is one more key of that account."""
        if not _ACCESS_KEY.match(access_key or ""):
            raise UserError("an access key id is 3 to 128 letters, digits or _+=,.@-")
        if not _SECRET.match(secret or ""):
            raise UserError("a secret access key is 1 to 256 printable characters without spaces")
        if account_id is not None and not _ACCOUNT_ID.match(account_id):
            raise UserError("an account id is 12 digits")
        if display_name is not None and not 1 <= len(display_name) <= 128:
            raise UserError("a display name is 1 to 128 characters")
        with self.meta.tx() as t:
            self._bump(t)  # the counter row's lock also orders concurrent adds
            if self.meta._exec(t, "SELECT 1 FROM s3p_users WHERE access_key = ?", (access_key,)).fetchone():
                raise UserError(f"access key {access_key} already exists; remove it first or choose another")
            if account_id is None:
                derived = account_of(access_key)
                account = Account(derived.canonical_id, derived.account_id, display_name or access_key)
            else:
                row = self.meta._exec(t, "SELECT canonical_id, display_name FROM s3p_users WHERE account_id = ?"
                                         " ORDER BY created LIMIT 1", (account_id,)).fetchone()
                if row is not None:
                    account = Account(row[0], account_id, display_name or row[1])
                else:
                    canonical = hashlib.sha256(b"s3presign owner:account:" + account_id.encode()).hexdigest()
                    account = Account(canonical, account_id, display_name or access_key)
            created = time.time()
            self.meta._exec(t, f"INSERT INTO s3p_users ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (
                access_key, self._seal(access_key, "secret", secret),
                self._seal(access_key, "token", session_token or ""),
                account.account_id, account.canonical_id, account.display_name, ACTIVE, created))
        return User(access_key, account, ACTIVE, created, bool(session_token))

    def remove(self, access_key: str) -> User:
        with self.meta.tx() as t:
            self._bump(t)
            user = self._get(t, access_key)
            self.meta._exec(t, "DELETE FROM s3p_users WHERE access_key = ?", (access_key,))
        return user

    def set_status(self, access_key: str, active: bool) -> User:
        status = ACTIVE if active else INACTIVE
        with self.meta.tx() as t:
            self._bump(t)
            user = self._get(t, access_key)
            self.meta._exec(t, "UPDATE s3p_users SET status = ? WHERE access_key = ?", (status, access_key))
        return User(user.access_key, user.account, status, user.created, user.has_token)

    def _get(self, t: Any, access_key: str) -> User:
        row = self.meta._exec(t, f"SELECT {_COLUMNS} FROM s3p_users WHERE access_key = ?", (access_key,)).fetchone()
        if row is None:
            raise UserError(f"no user with access key {access_key}")
        return self._user(row)

    @staticmethod
    def _user(row: Any) -> User:
        return User(row[0], Account(row[4], row[3], row[5]), row[6], float(row[7]), bool(row[2]))

    def list(self) -> list[User]:
        """Every user, oldest first."""
        return [self._user(r) for r in self.meta._all(f"SELECT {_COLUMNS} FROM s3p_users ORDER BY created, access_key")]

    def load(self) -> tuple[str, dict[str, tuple[Credentials, Account]], dict[str, Account]]:
        """(version, active users with their unsealed credentials, every account by its
        canonical id, oldest first), read in one transaction so the version names exactly
        this table."""
        with self.meta.tx() as t:
            version = self.meta.value(t, VERSION_ROW) or "0"
            rows = self.meta._exec(t, f"SELECT {_COLUMNS} FROM s3p_users ORDER BY created, access_key").fetchall()
        users: dict[str, tuple[Credentials, Account]] = {}
        accounts: dict[str, Account] = {}
        for row in rows:
            user = self._user(row)
            accounts.setdefault(user.account.canonical_id, user.account)
            if user.status != ACTIVE:
                continue
            try:
                secret = self._unseal(user.access_key, "secret", row[1])
                token = self._unseal(user.access_key, "token", row[2]) or None
            except keys.SealError:  # a row not sealed by this master key (or altered): not a user
                log.error("users: the secret of %s does not open under the master key; ignored", user.access_key)
                continue
            users[user.access_key] = (Credentials(user.access_key, secret, token), user.account)
        return version, users, accounts


class DatabaseUsers:
    """The users of the metadata database, as a request sees them (see the module
    docstring for the consistency: a snapshot confirmed every POLL seconds)."""

    def __init__(self, store: UserStore, *, poll: float = POLL, stale: float = STALE) -> None:
        self._store = store
        self._poll = poll
        self._stale = stale
        self._lock = threading.Lock()
        self._pid = -1
        self._version, self._users, self._accounts = store.load()
        self._confirmed = time.monotonic()

    def _watch(self) -> None:
        """Start this process's poller (once per process: threads do not cross fork())."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="s3presign-users", daemon=True).start()

    def _run(self) -> None:
        warned = False
        while True:
            try:
                self.refresh()
                warned = False
            except Exception as exc:  # an outage: lookups turn to 503 once the snapshot is stale
                if not warned:
                    log.warning("users: cannot read the users table: %s", exc)
                    warned = True
            time.sleep(self._poll)

    def refresh(self) -> None:
        """Read the counter; reload the table if another process changed it."""
        version = self._store.version()
        if version != self._version:
            self._version, self._users, self._accounts = self._store.load()
        self._confirmed = time.monotonic()

    def _snapshot(self) -> dict[str, tuple[Credentials, Account]]:
        if self._pid != os.getpid():  # this process's first request: confirm the snapshot once, then poll
            with contextlib.suppress(Exception):
                self.refresh()
            self._watch()
        if time.monotonic() - self._confirmed > self._stale:
            from s3presign.server.metadata import MetadataUnavailable

            raise MetadataUnavailable(f"the users table has not been read for {self._stale:.0f} s")
        return self._users

    def lookup(self, access_key: str) -> Credentials | None:
        entry = self._snapshot().get(access_key)
        return entry[0] if entry is not None else None

    def account(self, access_key: str) -> Account:
        entry = self._users.get(access_key)
        return entry[1] if entry is not None else account_of(access_key)

    def accounts(self) -> Iterable[Account]:
        return list(self._accounts.values())

    def account_by_id(self, canonical_id: str) -> Account | None:
        return self._accounts.get(canonical_id)

    def first_account(self) -> Account:
        return next(iter(self._accounts.values()), account_of(""))

    def snapshot(self) -> dict[str, Credentials]:
        """The active users now (for the console, which signs as one of them)."""
        return {k: creds for k, (creds, _) in self._users.items()}
