"""`s3presign kms`: manage the built-in key service's keys.

The commands work on what a running `s3presign serve` uses: the data dir's key
file, or with --metadata-url the deployment's metadata database (the keys every
instance shares). The server sees a change (a new key, a disabled one) at its
next request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def _options(func: F) -> F:
    """--data-dir, --region, --master-key-file and --metadata-url, shared by every kms command."""
    func = click.option("--metadata-url", envvar="S3PRESIGN_METADATA_URL", metavar="URL", default=None,
                        help="A distributed deployment's PostgreSQL (env S3PRESIGN_METADATA_URL): its shared "
                             "keys instead of a data dir's. Needs --master-key-file.")(func)
    func = click.option("--master-key-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
                        help="The master key the server was given with --master-key-file.")(func)
    func = click.option("--region", default="us-east-1", show_default=True,
                        help="Region of the keys (the server's --region).")(func)
    func = click.option("--data-dir", type=click.Path(path_type=Path), default=None,
                        help="The server's data dir (default: as `s3presign serve`).")(func)
    return func


def _service(data_dir: Path | None, region: str, master_key_file: Path | None,
             metadata_url: str | None = None):  # -> LocalKeyService
    """The key service of a data dir, or of a deployment's database; imported here so
    `s3presign --help` stays cheap."""
    import os

    from s3presign.cli.main import Refused

    if metadata_url:
        from s3presign.cli.user import open_database
        from s3presign.server.kms import SharedKeyService

        if master_key_file is None:
            raise Refused("--metadata-url needs --master-key-file (the deployment's master key)")
        if data_dir is not None:
            raise Refused("--metadata-url and --data-dir name two different key services; give one")
        meta, master = open_database(metadata_url, master_key_file)
        return SharedKeyService(meta, master, region=region)
    from s3presign.cli.serve import _master_key
    from s3presign.server import keys
    from s3presign.server.config import ConfigError, default_data_dir, prepare_data_dir
    from s3presign.server.encryption import Encryption

    os.umask(0o077)
    try:
        path = prepare_data_dir(data_dir if data_dir is not None else default_data_dir())
        if master_key_file is not None:
            master, source = _master_key(master_key_file), "--master-key-file"
        else:
            master, source = keys.load_master_key(path), f"{keys.key_dir(path)}/master.key"
        keys.check_master_key(path, master, source)
    except (ConfigError, keys.KeyStoreError) as exc:
        raise Refused(str(exc)) from None
    return Encryption(path, master, region=region).keys


def _alias(name: str) -> str:
    return name if name.startswith("alias/") else f"alias/{name}"


def _run(action: Callable[[], object]) -> object:
    """Turn the key service's refusals into one-line CLI errors (exit status 2)."""
    from s3presign.cli.main import Refused
    from s3presign.core.s3errors import S3Error
    from s3presign.server.kms import KmsUsageError

    try:
        return action()
    except KmsUsageError as exc:
        raise Refused(str(exc)) from None
    except S3Error as exc:
        raise Refused(f"{exc.code}: {exc.message}") from None


def _show(key) -> None:  # key: KmsKey
    state = "Enabled" if key.enabled else "Disabled"
    aliases = ",".join(key.aliases) or "-"
    click.echo(f"{key.arn}  {state:<8}  {aliases}  {key.description}".rstrip())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def kms() -> None:
    """Manage the built-in key service (SSE-KMS and DSSE-KMS keys).

    Keys live in the data dir, sealed by its master key (files are 0600);
    with --metadata-url, in a distributed deployment's database, where every
    instance shares them.
    Key ids are ARNs (arn:aws:kms:REGION:ACCOUNT:key/UUID), bare UUIDs or
    alias/NAME. The aws/s3 key is made by the server on first use.

    \b
    Examples:
      s3presign kms create-key --alias reports --description "monthly reports"
      s3presign kms list-keys --data-dir ./data
      s3presign kms create-alias alias/finance 1234abcd-12ab-34cd-56ef-1234567890ab
      s3presign kms disable-key alias/reports
      s3presign kms enable-key alias/reports
      S3PRESIGN_METADATA_URL=postgresql://... s3presign kms list-keys --master-key-file master.key
    """


@kms.command("create-key")
@click.option("--alias", help="An alias for the new key: NAME or alias/NAME.")
@click.option("--description", default="", help="Free text shown by list-keys.")
@_options
def create_key(alias: str | None, description: str, data_dir: Path | None, region: str, master_key_file: Path | None,
               metadata_url: str | None = None) -> None:
    """Create an enabled key and print its ARN.

    \b
    Example:
      s3presign kms create-key --alias reports --description "monthly reports"
    """
    service = _service(data_dir, region, master_key_file, metadata_url)
    key = _run(lambda: service.create_key(description, alias=_alias(alias) if alias else None))
    click.echo(key.arn)  # type: ignore[attr-defined]


@kms.command("list-keys")
@_options
def list_keys(data_dir: Path | None, region: str, master_key_file: Path | None,
               metadata_url: str | None = None) -> None:
    """List every key: ARN, state, aliases, description.

    \b
    Example:
      s3presign kms list-keys --data-dir ./data
    """
    for key in _service(data_dir, region, master_key_file, metadata_url).list_keys():
        _show(key)


@kms.command("create-alias")
@click.argument("alias")
@click.argument("key_id")
@_options
def create_alias(alias: str, key_id: str, data_dir: Path | None, region: str, master_key_file: Path | None,
               metadata_url: str | None = None) -> None:
    """Point a new ALIAS (NAME or alias/NAME) at KEY_ID (ARN, UUID or alias).

    \b
    Example:
      s3presign kms create-alias finance alias/reports
    """
    service = _service(data_dir, region, master_key_file, metadata_url)
    _show(_run(lambda: service.create_alias(_alias(alias), key_id)))


def _set_enabled(enabled: bool) -> Callable[..., None]:
    def command(key_id: str, data_dir: Path | None, region: str, master_key_file: Path | None,
               metadata_url: str | None = None) -> None:
        service = _service(data_dir, region, master_key_file, metadata_url)
        _show(_run(lambda: service.set_enabled(key_id, enabled)))

    return command


kms.command("disable-key", help="""Disable KEY_ID: objects under it can no longer be written or read.

\b
Example:
  s3presign kms disable-key alias/reports
""")(_options(click.argument("key_id")(_set_enabled(False))))

kms.command("enable-key", help="""Enable KEY_ID again.

\b
Example:
  s3presign kms enable-key alias/reports
""")(_options(click.argument("key_id")(_set_enabled(True))))
