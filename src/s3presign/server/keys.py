"""The master key and key sealing: how every stored key is protected.

A sealed key is ``version || iv || AES-256-GCM(kek, secret)`` where the KEK and
nonce are derived with HKDF-SHA256 from the sealing key and a fresh random iv.
The context (bucket, object, mode, KMS context...) is the associated data, so a
sealed key copied onto another object or into another role does not unseal.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from hashlib import sha256
from pathlib import Path
from typing import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_SIZE = 32
_SEAL_VERSION = b"\x01"
_IV = 32
_NONCE = 12
_SEAL_INFO = b"s3presign seal v1"
_CHECK_INFO = b"s3presign sse-c check v1"


class KeyStoreError(OSError):
    """A key file that cannot be used (wrong size, loose permissions, other master).

    An OSError so the CLI reports it in one line, like any unusable data dir.
    """


class SealError(Exception):
    """A sealed key did not unseal: wrong sealing key, other context, or tampering."""


def key_dir(data_dir: Path) -> Path:
    """Where the server's key files live: a dot-dir, never a valid bucket name."""
    return Path(data_dir) / ".s3presign" / "keys"


def hkdf(key: bytes, info: bytes, salt: bytes | None = None, length: int = KEY_SIZE) -> bytes:
    """HKDF-SHA256: every derived key in the server comes from here."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def canonical(context: Mapping[str, str]) -> bytes:
    """One byte string per context: sorted, compact JSON, UTF-8."""
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(sealing_key: bytes, secret: bytes, context: Mapping[str, str]) -> bytes:
    """Encrypt ``secret`` under ``sealing_key``, bound to ``context``."""
    iv = secrets.token_bytes(_IV)
    derived = hkdf(sealing_key, _SEAL_INFO, salt=iv, length=KEY_SIZE + _NONCE)
    sealed = AESGCM(derived[:KEY_SIZE]).encrypt(derived[KEY_SIZE:], secret, canonical(context))
    return _SEAL_VERSION + iv + sealed


def unseal(sealing_key: bytes, sealed: bytes, context: Mapping[str, str]) -> bytes:
    """The secret :func:`seal` protected; SealError unless key and context both match."""
    if len(sealed) < 1 + _IV + 16 or sealed[:1] != _SEAL_VERSION:
        raise SealError("not a sealed key")
    iv = sealed[1 : 1 + _IV]
    derived = hkdf(sealing_key, _SEAL_INFO, salt=iv, length=KEY_SIZE + _NONCE)
    try:
        return AESGCM(derived[:KEY_SIZE]).decrypt(derived[KEY_SIZE:], sealed[1 + _IV :], canonical(context))
    except InvalidTag:
        raise SealError("sealed key failed authentication") from None


def key_check(key: bytes, salt: bytes | None = None) -> tuple[bytes, bytes]:
    """(salt, HMAC) that tells a wrong SSE-C key later without storing the key or its MD5."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    return salt, hmac.new(key, _CHECK_INFO + salt, sha256).digest()


def key_matches(key: bytes, salt: bytes, mac: bytes) -> bool:
    """Constant-time comparison against a stored :func:`key_check`."""
    return hmac.compare_digest(key_check(key, salt)[1], mac)


def fingerprint(key: bytes) -> str:
    """A short public id of a key (to notice a different master), not its hash."""
    return hmac.new(key, b"s3presign fingerprint", sha256).hexdigest()[:16]


_KCV_INFO = b"s3presign master key check value v1"


def key_check_value(key: bytes) -> str:
    """A public value that tells whether ``key`` is the master a data dir was
    written under (an HMAC under the key: it reveals nothing of it)."""
    return hmac.new(key, _KCV_INFO, sha256).hexdigest()


def check_master_key(data_dir: Path, key: bytes, source: str) -> None:
    """Refuse a master key that is not the one this data dir's keys and objects
    were sealed under (its check value is stored beside them on first use).

    ``source`` names where the key came from, for the message."""
    path = key_dir(Path(data_dir)) / "master.check"
    value = key_check_value(key)
    if not path.exists():
        legacy = key_dir(Path(data_dir)) / "kms.json"  # written before the check value existed
        try:
            recorded = json.loads(legacy.read_bytes()).get("master") if legacy.exists() else None
        except (OSError, ValueError, AttributeError):
            recorded = None
        if recorded is not None and recorded != fingerprint(key):
            raise KeyStoreError(_mismatch(source, data_dir, legacy))
        write_private(path, value.encode() + b"\n")
        return
    try:
        stored = read_private(path).decode("ascii").strip()
    except (UnicodeDecodeError, ValueError):
        raise KeyStoreError(f"{path} is not a key check value; restore it from a backup") from None
    if not hmac.compare_digest(stored.encode(), value.encode()):
        raise KeyStoreError(_mismatch(source, data_dir, path))


def check_master_key_shared(meta: object, key: bytes, source: str, where: str) -> None:
    """The distributed form of :func:`check_master_key`: the check value lives in the
    metadata database, written by the first instance; an instance started with
    another master key refuses to start instead of sealing under a second key."""
    value = key_check_value(key)
    with meta.tx() as t:  # type: ignore[attr-defined]
        stored = meta.value(t, "master-check", default=value)  # type: ignore[attr-defined]
    if not hmac.compare_digest((stored or "").encode(), value.encode()):
        raise KeyStoreError(
            f"{source} is not the master key of the deployment in {where} (its check value differs); "
            f"give every instance the same --master-key-file"
        )


def _mismatch(source: str, data_dir: Path, path: Path) -> str:
    return (
        f"{source} is not the master key data dir {data_dir} was written with (see {path}); "
        f"give the --master-key-file it was created with"
    )


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with 0700 on the directories we create."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``: a 0600 temp file, fsync, rename."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def read_private(path: Path) -> bytes:
    """Read a key file, refusing one that group or others could read (as ssh does)."""
    fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode & 0o777
        if mode & 0o077:
            raise KeyStoreError(f"{path} has permissions {mode:04o}; run: chmod 600 {path}")
        return f.read()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_master_key(data_dir: Path) -> bytes:
    """The data dir's master key, created (0600) on first use.

    Creation links a complete temp file into place, so two servers starting at
    once agree on one key and neither ever reads a half-written file.
    """
    path = key_dir(data_dir) / "master.key"
    if not path.exists():
        private_dir(path.parent)
        tmp = path.with_name(f".master.{secrets.token_hex(6)}.tmp")
        write_private(tmp, secrets.token_bytes(KEY_SIZE))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = read_private(path)
    if len(key) != KEY_SIZE:
        raise KeyStoreError(f"{path} is not a {KEY_SIZE}-byte key")
    return key
