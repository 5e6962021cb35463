"""`s3presign user`: the users (access keys) of a distributed deployment.

They live in the metadata database (PostgreSQL), their secrets sealed under the
master key, and every instance sees a change within about a second, without a
restart. The embedded server keeps its users in its --credentials file.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def database_options(func: F) -> F:
    """--metadata-url and --master-key-file, as `s3presign serve` takes them."""
    func = click.option("--master-key-file", type=click.Path(path_type=Path, dir_okay=False), required=True,
                        help="The deployment's master key (every instance's --master-key-file).")(func)
    func = click.option("--metadata-url", envvar="S3PRESIGN_METADATA_URL", metavar="URL", required=True,
                        help="The deployment's PostgreSQL (prefer the env S3PRESIGN_METADATA_URL: it holds "
                             "the password).")(func)
    return func


def open_database(metadata_url: str, master_key_file: Path) -> tuple[Any, bytes]:
    """(Metadata, master key) of a distributed deployment, the key checked against the
    database's check value (stored there if this is the deployment's first use)."""
    from s3presign.cli.main import Refused
    from s3presign.cli.serve import _master_key
    from s3presign.server import keys
    from s3presign.server.config import ConfigError
    from s3presign.server.metadata import Metadata, MetadataUnavailable, PostgreSQL

    if not metadata_url.startswith(("postgres://", "postgresql://")):
        raise Refused("--metadata-url must be a PostgreSQL URL: postgresql://USER:PASS@HOST:PORT/DB")
    try:
        master = _master_key(master_key_file)
        meta = Metadata(PostgreSQL(metadata_url))
        keys.check_master_key_shared(meta, master, "--master-key-file", "the metadata database")
    except (ConfigError, keys.KeyStoreError) as exc:
        raise Refused(str(exc)) from None
    except MetadataUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    return meta, master


def _store(metadata_url: str, master_key_file: Path):  # -> users.UserStore
    from s3presign.server.users import UserStore

    meta, master = open_database(metadata_url, master_key_file)
    return UserStore(meta, master)


def _run(action: Callable[[], Any]) -> Any:
    from s3presign.cli.main import Refused
    from s3presign.server.users import UserError

    try:
        return action()
    except UserError as exc:
        raise Refused(str(exc)) from None


def _show(user) -> None:  # user: users.User
    created = datetime.fromtimestamp(user.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    token = "  (session token)" if user.has_token else ""
    click.echo(f"{user.access_key}  {user.status:<8}  {user.account.account_id}  {created}  "
               f"{user.account.display_name}{token}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def user() -> None:
    """Manage the users of a distributed deployment (in its metadata database).

    Every instance sees an added, removed or disabled user within about a
    second, without a restart. Secrets are sealed under the master key; the
    database never holds one in clear. The embedded server's users are its
    --credentials file instead.

    \b
    Examples:
      export S3PRESIGN_METADATA_URL=postgresql://s3p:PASS@db:5432/s3p
      s3presign user add --master-key-file master.key            # generates a key pair
      s3presign user add ALICE0123456789 --secret-stdin --name alice --master-key-file master.key
      s3presign user import users.ini --master-key-file master.key
      s3presign user list --master-key-file master.key
      s3presign user disable ALICE0123456789 --master-key-file master.key
      s3presign user remove ALICE0123456789 --master-key-file master.key
    """


@user.command("add")
@click.argument("access_key", required=False)
@click.option("--secret-stdin", is_flag=True, help="Read the secret access key from stdin (else one is generated).")
@click.option("--account", "account_id", metavar="ID",
              help="12-digit account id: an existing one adds a key to that account [default: an account of its own].")
@click.option("--name", "display_name", help="Display name of a new account (Owner elements) [default: the key id].")
@database_options
def add(access_key: str | None, secret_stdin: bool, account_id: str | None, display_name: str | None,
        metadata_url: str, master_key_file: Path) -> None:
    """Add an active user; prints ACCESS_KEY SECRET (the secret only if generated).

    \b
    Examples:
      s3presign user add --master-key-file master.key
      printf %s "$SECRET" | s3presign user add ALICE0123456789 --secret-stdin --master-key-file master.key
    """
    import secrets
    import string

    from s3presign.cli.main import Refused

    if secret_stdin:
        secret = sys.stdin.readline().strip()
        if not secret:
            raise Refused("--secret-stdin: no secret on stdin")
    else:
        secret = secrets.token_urlsafe(30)[:40]
    if access_key is None:
        alphabet = string.ascii_uppercase + string.digits
        access_key = "S3P" + "".join(secrets.choice(alphabet) for _ in range(17))
    store = _store(metadata_url, master_key_file)
    made = _run(lambda: store.add(access_key, secret, account_id=account_id, display_name=display_name))
    click.echo(made.access_key if secret_stdin else f"{made.access_key} {secret}")


@user.command("import")
@click.argument("credentials_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@database_options
def import_(credentials_file: Path, metadata_url: str, master_key_file: Path) -> None:
    """Add every user of an AWS-style credentials file (the embedded server's --credentials);
    access keys already in the database are left as they are.

    \b
    Example:
      s3presign user import users.ini --master-key-file master.key
    """
    from s3presign.cli.main import Refused
    from s3presign.server.config import ConfigError, users_from_file
    from s3presign.server.users import UserError

    try:
        users = users_from_file(credentials_file)
    except ConfigError as exc:
        raise Refused(str(exc)) from None
    store = _store(metadata_url, master_key_file)
    present = {u.access_key for u in store.list()}
    added = 0
    for creds in users.values():
        if creds.access_key in present:
            click.echo(f"{creds.access_key}: already present, left as it is")
            continue
        try:
            store.add(creds.access_key, creds.secret_key, session_token=creds.session_token)
        except UserError as exc:
            raise Refused(f"{creds.access_key}: {exc}") from None
        added += 1
    click.echo(f"{added} user(s) added from {credentials_file}")


@user.command("list")
@database_options
def list_(metadata_url: str, master_key_file: Path) -> None:
    """List the users: access key, status, account id, created, display name.

    \b
    Example:
      s3presign user list --master-key-file master.key
    """
    for row in _store(metadata_url, master_key_file).list():
        _show(row)


@user.command("remove")
@click.argument("access_key")
@database_options
def remove(access_key: str, metadata_url: str, master_key_file: Path) -> None:
    """Remove ACCESS_KEY: every instance refuses it within about a second.

    \b
    Example:
      s3presign user remove ALICE0123456789 --master-key-file master.key
    """
    store = _store(metadata_url, master_key_file)
    _show(_run(lambda: store.remove(access_key)))


def _set_status(active: bool) -> Callable[..., None]:
    def command(access_key: str, metadata_url: str, master_key_file: Path) -> None:
        store = _store(metadata_url, master_key_file)
        _show(_run(lambda: store.set_status(access_key, active)))

    return command


user.command("disable", help="""Make ACCESS_KEY inactive: refused (InvalidAccessKeyId) until enabled again.

\b
Example:
  s3presign user disable ALICE0123456789 --master-key-file master.key
""")(database_options(click.argument("access_key")(_set_status(False))))

user.command("enable", help="""Make ACCESS_KEY active again.

\b
Example:
  s3presign user enable ALICE0123456789 --master-key-file master.key
""")(database_options(click.argument("access_key")(_set_status(True))))
