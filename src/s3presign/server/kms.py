"""The key service behind SSE-KMS and DSSE-KMS.

:class:`KeyService` is the small interface the server needs (resolve a key id,
make a data key, open one), so an external KMS can replace the built-in
:class:`LocalKeyService`. The local service keeps its keys in one JSON file in
the data dir (0600), each key's material sealed by the master key; a change
made by ``s3presign kms`` is seen by a running server at its next request.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import secrets
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol

from s3presign.core.s3errors import S3Error
from s3presign.server import keys

DEFAULT_ALIAS = "alias/aws/s3"
DEFAULT_ACCOUNT = "000000000000"
_ARN = re.compile(r"arn:aws:kms:([a-z0-9-]+):(\d{12}):(key|alias)/(.+)\Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_ALIAS = re.compile(r"alias/[a-zA-Z0-9/_-]{1,250}\Z")


class KmsUsageError(ValueError):
    """A management request the key service refuses (bad alias, alias taken...)."""


@dataclass(frozen=True)
class DataKey:
    """A fresh data key: in clear for this request only, and sealed for storage."""

    plaintext: bytes = field(repr=False)
    ciphertext: bytes
    key_arn: str


class KeyService(Protocol):
    """What the server needs from a KMS. Errors are S3Errors (KmsNotFound, KmsDisabled...)."""

    def resolve(self, key_id: str | None) -> str:
        """The full ARN of an enabled key; ``None`` names the default ``aws/s3`` key."""
        ...

    def generate_data_key(self, key_arn: str, context: Mapping[str, str]) -> DataKey:
        """A random 256-bit data key, sealed under ``key_arn`` and bound to ``context``."""
        ...

    def decrypt(self, key_arn: str, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        """The data key sealed in ``ciphertext``; fails unless the context is the same."""
        ...


@dataclass(frozen=True)
class KmsKey:
    """A key's public description (never its material)."""

    key_id: str
    arn: str
    region: str
    description: str
    enabled: bool
    created: str
    managed: bool
    aliases: tuple[str, ...]


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class LocalKeyService:
    """The built-in KMS: keys in ``<data dir>/.s3presign/keys/kms.json``."""

    def __init__(self, data_dir: Path, master_key: bytes, *, region: str = "us-east-1",
                 account: str = DEFAULT_ACCOUNT) -> None:
        self._dir = keys.key_dir(Path(data_dir))
        self._path = self._dir / "kms.json"
        self._master = master_key
        self.region = region
        self._account = account
        self._lock = threading.RLock()
        self._stamp: tuple[int, int, int] | None = None
        self._state: dict[str, Any] = {}
        self._material: dict[str, bytes] = {}

    # --- the KeyService interface ------------------------------------------

    def resolve(self, key_id: str | None) -> str:
        key_id = key_id or DEFAULT_ALIAS
        record = self._find(key_id)
        if record["region"] != self.region:  # S3 uses only keys of its own region
            raise S3Error("KmsKeyDoesNotExist", key_id=key_id)
        if not record["enabled"]:
            raise S3Error("KmsDisabled", key_id=self._arn(record))
        return self._arn(record)

    def generate_data_key(self, key_arn: str, context: Mapping[str, str]) -> DataKey:
        plaintext = secrets.token_bytes(keys.KEY_SIZE)
        sealed = keys.seal(self._key_material(key_arn), plaintext, context)
        return DataKey(plaintext, sealed, key_arn)

    def decrypt(self, key_arn: str, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        return keys.unseal(self._key_material(key_arn), ciphertext, context)

    # --- management (the `s3presign kms` commands) ---------------------------

    def create_key(self, description: str = "", alias: str | None = None) -> KmsKey:
        """A new enabled key in this service's region, optionally with an alias."""
        if alias is not None:
            self._check_alias(alias)
        with self._writing() as state:
            key_id = self._new_key(state, description, managed=False)
            if alias is not None:
                self._add_alias(state, alias, key_id)
        return self.describe(key_id)

    def create_alias(self, alias: str, key_id: str) -> KmsKey:
        """Point a new alias at an existing key."""
        self._check_alias(alias)
        record = self._find(key_id)
        with self._writing() as state:
            self._add_alias(state, alias, record["id"])
        return self.describe(record["id"])

    def set_enabled(self, key_id: str, enabled: bool) -> KmsKey:
        """Enable or disable a key; objects under a disabled key cannot be read or written."""
        record = self._find(key_id)
        with self._writing() as state:
            state["keys"][record["id"]]["enabled"] = enabled
        return self.describe(record["id"])

    def describe(self, key_id: str) -> KmsKey:
        record = self._find(key_id)
        aliases = self._state["aliases"].get(record["region"], {})
        return KmsKey(
            key_id=record["id"], arn=self._arn(record), region=record["region"],
            description=record["description"], enabled=record["enabled"], created=record["created"],
            managed=record["managed"],
            aliases=tuple(sorted(a for a, k in aliases.items() if k == record["id"])),
        )

    def list_keys(self) -> list[KmsKey]:
        """Every key, all regions, oldest first."""
        self._refresh()
        ids = sorted(self._state["keys"], key=lambda k: self._state["keys"][k]["created"])
        return [self.describe(self._arn({"id": k, **self._state["keys"][k]})) for k in ids]

    # --- internals -----------------------------------------------------------

    def _arn(self, record: Mapping[str, Any]) -> str:
        return f"arn:aws:kms:{record['region']}:{self._account}:key/{record['id']}"

    def _find(self, key_id: str) -> dict[str, Any]:
        """The record a key id, ARN or alias names; creates aws/s3 on first use."""
        self._refresh()
        match = _ARN.match(key_id)
        if match:
            region, account, kind, rest = match.groups()
            if account != self._account:
                raise S3Error("KmsKeyDoesNotExist", key_id=key_id)
            return self._by_alias(f"alias/{rest}", region) if kind == "alias" else self._by_id(rest, region, key_id)
        if key_id.startswith("alias/"):
            return self._by_alias(key_id, self.region)
        if _UUID.match(key_id):
            return self._by_id(key_id, self.region, self._arn({"id": key_id, "region": self.region}))
        raise S3Error("KmsNotFound", key_id=key_id)

    def _by_id(self, key_uuid: str, region: str, shown: str) -> dict[str, Any]:
        record = self._state["keys"].get(key_uuid)
        if record is None or record["region"] != region:
            raise S3Error("KmsKeyDoesNotExist", key_id=shown)
        return {"id": key_uuid, **record}

    def _by_alias(self, alias: str, region: str) -> dict[str, Any]:
        key_uuid = self._state["aliases"].get(region, {}).get(alias)
        if key_uuid is None and alias == DEFAULT_ALIAS and region == self.region:
            key_uuid = self._default_key()
        if key_uuid is None:
            raise S3Error("KmsAliasNotFound", alias=f"arn:aws:kms:{region}:{self._account}:{alias}")
        return {"id": key_uuid, **self._state["keys"][key_uuid]}

    def _default_key(self) -> str:
        with self._writing() as state:
            aliases = state["aliases"].setdefault(self.region, {})
            if DEFAULT_ALIAS not in aliases:  # another process may have just made it
                aliases[DEFAULT_ALIAS] = self._new_key(
                    state, "Default key that protects my S3 objects", managed=True
                )
            return aliases[DEFAULT_ALIAS]

    def _new_key(self, state: dict[str, Any], description: str, *, managed: bool) -> str:
        key_id = str(uuid.uuid4())
        arn = self._arn({"id": key_id, "region": self.region})
        material = keys.seal(self._master, secrets.token_bytes(keys.KEY_SIZE), {"kms-key": arn})
        state["keys"][key_id] = {
            "region": self.region, "description": description, "enabled": True,
            "created": _now(), "managed": managed,
            "material": base64.b64encode(material).decode(),
        }
        return key_id

    def _check_alias(self, alias: str) -> None:
        if not _ALIAS.match(alias):
            raise KmsUsageError(f"alias {alias!r} must look like alias/NAME (letters, digits, / _ -)")
        if alias.startswith("alias/aws/"):
            raise KmsUsageError("aliases that begin with alias/aws/ are reserved for AWS managed keys")

    def _add_alias(self, state: dict[str, Any], alias: str, key_uuid: str) -> None:
        region = state["keys"][key_uuid]["region"]
        aliases = state["aliases"].setdefault(region, {})
        if alias in aliases:
            raise KmsUsageError(f"alias {alias} already exists in {region}")
        aliases[alias] = key_uuid

    def _key_material(self, key_arn: str) -> bytes:
        record = self._find(key_arn)
        arn = self._arn(record)
        if not record["enabled"]:
            raise S3Error("KmsDisabled", key_id=arn)
        with self._lock:
            material = self._material.get(arn)
            if material is None:
                sealed = base64.b64decode(record["material"])
                material = self._material[arn] = keys.unseal(self._master, sealed, {"kms-key": arn})
        return material

    def _refresh(self, force: bool = False) -> None:
        """Reload the key file when it changed on disk (e.g. `s3presign kms disable-key`)."""
        try:
            st = self._path.stat()
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp == self._stamp and self._state and not force:
                return
            state = self._load() if stamp is not None else self._empty()
            self._state, self._stamp = state, stamp

    def _empty(self) -> dict[str, Any]:
        return {"version": 1, "account": self._account, "master": keys.fingerprint(self._master),
                "keys": {}, "aliases": {}}

    def _load(self) -> dict[str, Any]:
        try:
            state = json.loads(keys.read_private(self._path))
        except ValueError:
            raise keys.KeyStoreError(f"{self._path} is not a key file") from None
        if state.get("master") != keys.fingerprint(self._master):
            raise keys.KeyStoreError(f"{self._path} was sealed by a different master key (give the server's --master-key-file)")
        self._account = state.get("account", self._account)
        return state

    @contextmanager
    def _writing(self) -> Iterator[dict[str, Any]]:
        """Lock (threads and processes), reload, let the caller change a copy of the
        state, then write it back atomically: the CLI and a running server never
        lose each other's changes, and a failed change leaves nothing half-applied."""
        with self._lock, _flock(keys.private_dir(self._dir) / "kms.lock"):
            self._refresh(force=True)
            state = json.loads(json.dumps(self._state))
            yield state
            keys.write_private(self._path, json.dumps(state, indent=1).encode())
            self._refresh(force=True)


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    with os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class SharedKeyService(LocalKeyService):
    """The built-in KMS for the distributed shape: the same state as kms.json, one
    row of the metadata database, so every instance sees every key, alias and
    enable/disable at its next request (each request re-reads the row: no stale
    answer after another instance's write). The material stays sealed by the master
    key; unsealed material is cached per ARN, which is safe because a key's material
    never changes (only its enabled flag, which is re-read)."""

    ROW = "kms"

    def __init__(self, meta: Any, master_key: bytes, *, region: str = "us-east-1",
                 account: str = DEFAULT_ACCOUNT) -> None:
        super().__init__(Path("/nonexistent"), master_key, region=region, account=account)
        self._meta = meta
        self._text: str | None = None

    def _parse(self, text: str | None) -> dict[str, Any]:
        if not text:
            return self._empty()
        try:
            state = json.loads(text)
        except ValueError:
            raise keys.KeyStoreError("the metadata database's key service row is not a key file") from None
        if state.get("master") != keys.fingerprint(self._master):
            raise keys.KeyStoreError("the metadata database's keys were sealed by a different master key")
        self._account = state.get("account", self._account)
        return state

    def _refresh(self, force: bool = False) -> None:
        text = self._meta.get(self.ROW)
        with self._lock:
            if text == self._text and self._state and not force:
                return
            self._state, self._text = self._parse(text), text

    @contextmanager
    def _writing(self) -> Iterator[dict[str, Any]]:
        """Row-locked read-modify-write in one transaction: two instances changing
        keys at once never lose each other's change."""
        with self._lock:
            with self._meta.tx() as t:
                text = self._meta.value(t, self.ROW, lock=True, default=json.dumps(self._empty()))
                state = self._parse(text)
                self._state, self._text = state, text
                changed = json.loads(json.dumps(state))
                yield changed
                self._meta.set(t, self.ROW, json.dumps(changed))
            self._refresh(force=True)
