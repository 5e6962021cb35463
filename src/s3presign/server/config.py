"""The server's configuration: data dir, users, region, addressing.

Everything that can be wrong with the operator's setup is found here, at
start-up, and reported as one ConfigError line (never a traceback).
"""

from __future__ import annotations

import configparser
import os
import re
import secrets
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, TextIO

from s3presign.core.credentials import Credentials

_REGION = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
GENERATED_CREDENTIALS = Path(".s3presign") / "credentials"


class ConfigError(Exception):
    """A setup the server cannot run with; the message is one line for the operator."""


@dataclass(frozen=True)
class Limits:
    """Per-connection limits, S3-like by default (S3 closes an idle connection
    after about 20 s and refuses a header section over 8 KiB)."""

    idle_timeout: float = 20.0  # keep-alive, and before a first request
    header_timeout: float = 20.0  # from a request's first byte to the end of its headers
    body_timeout: float = 20.0  # silence while the app waits for body bytes
    send_timeout: float = 60.0  # a client that reads nothing of our response
    max_header_bytes: int = 8 * 1024
    max_connections: int = 1000
    send_buffer: int = 256 * 1024  # bytes queued per connection before the app waits

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "header_timeout", "body_timeout", "send_timeout"):
            if not 0 < getattr(self, name) <= 3600:
                raise ConfigError(f"--{name.replace('_', '-')} must be between 0 and 3600 seconds")
        if not 1 <= self.max_connections <= 1_000_000:
            raise ConfigError("--max-connections must be at least 1")
        if not 1024 <= self.max_header_bytes <= 1024 * 1024:
            raise ConfigError("--max-header-size must be between 1024 and 1048576 bytes")
        if not 16 * 1024 <= self.send_buffer <= 64 * 1024 * 1024:
            raise ConfigError("--send-buffer must be between 16384 and 67108864 bytes")

    @property
    def tick(self) -> float:
        """How often deadlines are checked: a fraction of the shortest timeout."""
        shortest = min(self.idle_timeout, self.header_timeout, self.body_timeout, self.send_timeout)
        return max(0.05, min(1.0, shortest / 4))


_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
_CANONICAL_ID = re.compile(r"^[0-9a-f]{64}$")
MAX_DISPLAY_NAME = 128


@dataclass(frozen=True)
class AccountSpec:
    """What the operator set for one user's account (None: derived, stable across restarts).

    ``account_id``: the 12-digit AWS account id (``aws_account_id`` in the credentials
    file, the key the AWS CLI and SDKs read). Users that give the same one are one
    account: they own the same buckets. ``canonical_id``: the 64-hex canonical user id
    of ACL grants and Owner elements. ``display_name``: Owner's DisplayName."""

    account_id: str | None = None
    canonical_id: str | None = None
    display_name: str | None = None


@dataclass
class ServerConfig:
    """What one server instance needs; built by `s3presign serve` or by an embedder."""

    data_dir: Path
    users: dict[str, Credentials]
    region: str = "us-east-1"
    accounts: dict[str, AccountSpec] = field(default_factory=dict)   # access key -> its settings
    domain: str | None = None
    allow_insecure_ssec: bool = False
    new_bucket_defaults: str = "current"   # access.defaults.DEFAULTS: "current" or "legacy"
    master_key: bytes | None = None
    access_log: TextIO | None = field(default=sys.stderr, repr=False)
    limits: Limits = field(default_factory=Limits)
    # The distributed shape: metadata in PostgreSQL, ciphertext on an S3 store
    # (an S3BlobConfig). Both or neither; the master key must then be given.
    metadata_url: str | None = field(default=None, repr=False)
    blobs: Any = None
    gc_grace: float = 3600.0  # seconds an unreferenced blob is left alone (distributed GC)
    trusted_proxies: tuple[str, ...] = ()  # addresses whose X-Forwarded-Proto is believed
    gc_interval: float = 600.0  # seconds between GC attempts (whichever instance holds the lease)

    @property
    def distributed(self) -> bool:
        return self.metadata_url is not None

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if (self.metadata_url is None) != (self.blobs is None):
            raise ConfigError("--metadata-url and --blob-bucket go together: the distributed shape needs both "
                              "(metadata in PostgreSQL, ciphertext in an S3 bucket)")
        if self.metadata_url is not None:
            if not self.metadata_url.startswith(("postgres://", "postgresql://")):
                raise ConfigError("--metadata-url must be a PostgreSQL URL: postgresql://USER:PASS@HOST:PORT/DB")
            if self.master_key is None:
                raise ConfigError("the distributed shape needs --master-key-file (the same key on every instance)")
        if not _REGION.match(self.region):
            raise ConfigError(f"invalid region {self.region!r}; use a name such as us-east-1")
        if self.domain is not None:
            self.domain = self.domain.lower().rstrip(".")
            if not _DOMAIN.match(self.domain):
                raise ConfigError(f"invalid --domain {self.domain!r}; use a host name such as s3.local")
        if self.new_bucket_defaults not in ("current", "legacy"):
            raise ConfigError(f"invalid new-bucket defaults {self.new_bucket_defaults!r}; use current or legacy")
        if not self.users and not self.distributed:  # distributed: users live in the database
            raise ConfigError("no users: give --credentials FILE or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        check_accounts(self.accounts)


def check_accounts(accounts: Mapping[str, AccountSpec]) -> None:
    """Each setting well-formed; an account id has one canonical id, and a canonical id one account."""
    canonical_of: dict[str, str] = {}
    account_of: dict[str, str] = {}
    for access, spec in accounts.items():
        if spec.account_id is not None and not _ACCOUNT_ID.match(spec.account_id):
            raise ConfigError(f"user {access}: aws_account_id {spec.account_id!r} must be 12 digits")
        if spec.canonical_id is not None and not _CANONICAL_ID.match(spec.canonical_id):
            raise ConfigError(f"user {access}: canonical_user_id must be 64 lower-case hex digits")
        name = spec.display_name
        if name is not None and (not name.strip() or len(name) > MAX_DISPLAY_NAME or not name.isprintable()):
            raise ConfigError(f"user {access}: display_name must be 1 to {MAX_DISPLAY_NAME} printable characters")
        if spec.canonical_id is None:
            continue
        account = spec.account_id or f"of user {access}"   # no account id: the user's own account
        seen = canonical_of.setdefault(account, spec.canonical_id)
        if seen != spec.canonical_id:
            raise ConfigError(f"account {account} is given two canonical_user_id values; "
                              "give every user of one account the same one (or none)")
        owner = account_of.setdefault(spec.canonical_id, account)
        if owner != account:
            raise ConfigError(f"canonical_user_id {spec.canonical_id} is given to two accounts "
                              f"({owner} and {account}); each account needs its own")


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$S3PRESIGN_DATA_DIR, else $XDG_DATA_HOME/s3presign, else ~/.local/share/s3presign."""
    env = os.environ if environ is None else environ
    if env.get("S3PRESIGN_DATA_DIR"):
        return Path(env["S3PRESIGN_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or os.path.join(env.get("HOME") or "~", ".local", "share")
    return Path(base).expanduser() / "s3presign"


def prepare_data_dir(path: Path) -> Path:
    """Create the data dir (0700) if needed and prove it is a writable directory."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"data dir {path} exists and is not a directory; choose another --data-dir")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = path / f".probe-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot use data dir {path}: {reason}; choose another --data-dir") from None
    return path.resolve()


# Directories the server writes below the data dir; each must be a usable
# directory if it exists (it is created otherwise).
_TREE = ("buckets", ".s3presign", ".s3presign/keys")
LOCK_FILE = Path(".s3presign") / "lock"


def lock_data_dir(path: Path) -> int:
    """Take the data dir for this server (an flock held for the process's life,
    shared with its workers): a second server on the same dir is refused."""
    import fcntl

    lock = path / LOCK_FILE
    try:
        lock.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot create {lock}: {exc.strerror or exc}; fix the data dir's permissions") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        holder = ""
        try:
            holder = f" (pid {int(lock.read_text().strip())})"
        except (OSError, ValueError):
            pass
        raise ConfigError(
            f"data dir {path} is in use by another s3presign serve{holder}; stop it or choose another --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def check_data_tree(path: Path) -> None:
    """Every directory the server uses is a directory it can read, write and enter,
    and so is every bucket's: found now, not as a 500 on each request."""
    dirs = [path / name for name in _TREE]
    buckets = path / "buckets"
    if buckets.is_dir() and os.access(buckets, os.R_OK | os.X_OK):
        with os.scandir(buckets) as entries:
            for entry in entries:
                if not entry.name.startswith("."):
                    bucket = Path(entry.path)
                    dirs += [bucket, bucket / "objects", bucket / "tmp"]
    for d in dirs:
        if not os.path.lexists(d):
            continue
        if not d.is_dir():
            raise ConfigError(f"{d} is not a directory; move it out of the data dir or choose another --data-dir")
        if not os.access(d, os.R_OK | os.W_OK | os.X_OK):
            raise ConfigError(f"{d} is not readable and writable by this user; run: chmod -R u+rwX {path}")
        bucket_json = d / "bucket.json"
        if d.parent == buckets and bucket_json.exists() and not os.access(bucket_json, os.R_OK | os.W_OK):
            raise ConfigError(f"{bucket_json} is not readable and writable by this user; run: chmod -R u+rwX {path}")
        _private(d, 0o700)
        if d.parent == buckets:
            _private(bucket_json, 0o600)
    for name in ("kms.lock", "kms.json", "master.key", "master.check"):
        _private(path / ".s3presign" / "keys" / name, 0o600)
    _private(path / LOCK_FILE, 0o600)


def _private(item: Path, mode: int) -> None:
    """Take group and other permissions off an entry an older version left open."""
    try:
        st = os.lstat(item)
    except OSError:
        return
    if st.st_mode & 0o077 and not os.path.islink(item):
        try:
            os.chmod(item, mode)
        except OSError:
            pass


def clean_debris(path: Path) -> int:
    """Remove what a crash left behind: temp files of interrupted uploads and key
    writes, half-built buckets, the trash. Safe at start-up only, with the data
    dir locked (no other writer can own them). Returns how many entries went."""
    import shutil

    removed = 0
    candidates = list((path / "buckets").glob("*/tmp/*")) + list((path / "buckets").glob(".new-*"))
    candidates += list((path / ".s3presign" / "keys").glob(".*.tmp"))
    candidates += [path / ".s3presign" / "trash"]
    for item in candidates:
        try:
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            elif os.path.lexists(item):
                item.unlink()
            else:
                continue
            removed += 1
        except OSError:
            pass
    return removed


def users_from_file(path: Path) -> dict[str, Credentials]:
    """Users from an AWS-style credentials file: every section with an access key pair."""
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as exc:
        raise ConfigError(f"cannot read credentials file {path}: {exc.strerror or exc}") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"cannot parse credentials file {path}: {first}") from None
    users: dict[str, Credentials] = {}
    sections: dict[str, str] = {}
    for section in parser.sections():
        items = dict(parser.items(section))
        access, secret = items.get("aws_access_key_id"), items.get("aws_secret_access_key")
        if access and secret:
            if access in sections:  # the last would win silently, locking the other user out
                raise ConfigError(
                    f"credentials file {path}: access key {access} is in both [{sections[access]}] and "
                    f"[{section}]; give each user its own aws_access_key_id"
                )
            sections[access] = section
            users[access] = Credentials(access, secret, items.get("aws_session_token") or None)
    if not users:
        raise ConfigError(
            f"credentials file {path} has no section with aws_access_key_id and aws_secret_access_key"
        )
    return users


def accounts_from_file(path: Path) -> dict[str, AccountSpec]:
    """The account settings of a credentials file's users (sections with a key pair):
    ``aws_account_id``, ``canonical_user_id``, ``display_name``, each optional."""
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except (OSError, configparser.Error, UnicodeDecodeError):
        return {}   # users_from_file reports it
    accounts: dict[str, AccountSpec] = {}
    for section in parser.sections():
        items = {k: v.strip() for k, v in parser.items(section)}
        access = items.get("aws_access_key_id")
        if not access or not items.get("aws_secret_access_key"):
            continue
        spec = AccountSpec(items.get("aws_account_id") or None, (items.get("canonical_user_id") or "").lower() or None,
                           items.get("display_name") or None)
        if spec != AccountSpec():
            accounts[access] = spec
    return accounts


def users_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Credentials]:
    env = os.environ if environ is None else environ
    access, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not (access and secret):
        return {}
    return {access: Credentials(access, secret, env.get("AWS_SESSION_TOKEN") or None)}


def generated_user(data_dir: Path) -> Credentials:
    """A key pair made once per data dir (kept 0600 in it, so restarts keep it)."""
    from s3presign.server.keys import read_private, write_private

    path = data_dir / GENERATED_CREDENTIALS
    if path.exists():
        try:
            access, _, secret = read_private(path).decode().strip().partition(":")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        if access and secret:
            return Credentials(access, secret)
    alphabet = string.ascii_uppercase + string.digits
    access = "S3P" + "".join(secrets.choice(alphabet) for _ in range(17))
    secret = secrets.token_urlsafe(30)[:40]
    write_private(path, f"{access}:{secret}\n".encode())
    return Credentials(access, secret)


def resolve_users(
    credentials_file: Path | None, data_dir: Path, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Credentials], str]:
    """(users, where they came from): the file, else the environment, else generated."""
    if credentials_file is not None:
        return users_from_file(credentials_file), f"credentials file {credentials_file}"
    users = users_from_environment(environ)
    if users:
        return users, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    user = generated_user(data_dir)
    return {user.access_key: user}, "generated"
