"""`s3presign serve`: run the strict S3-compatible endpoint."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from s3presign.core.sse import decode_key_file

from s3presign.server.config import (
    ConfigError,
    Limits,
    ServerConfig,
    accounts_from_file,
    check_data_tree,
    clean_debris,
    default_data_dir,
    lock_data_dir,
    prepare_data_dir,
    resolve_users,
)


_DEFAULTS = Limits()
_SPARE_FILES = 64  # descriptors beyond the connections: data files, the log, the listener


def _connection_limit(asked: int | None) -> int:
    """--max-connections, checked against the open-file limit (raised to its hard
    limit if need be), so that no connection is ever refused for want of a descriptor."""
    import resource

    want = (asked if asked is not None else _DEFAULTS.max_connections) + _SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    room = want if soft == resource.RLIM_INFINITY else soft - _SPARE_FILES
    if asked is None:
        return max(1, min(_DEFAULTS.max_connections, room))
    if asked < 1:
        raise ConfigError("--max-connections must be at least 1")
    if asked > room:
        raise ConfigError(
            f"--max-connections {asked} needs {asked + _SPARE_FILES} open files but the limit is {soft}; "
            f"lower --max-connections or raise it (ulimit -n)"
        )
    return asked


def _master_key(path: Path) -> bytes:
    """A 32-byte key from a file: raw bytes, or that key as base64 or hex text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read --master-key-file {path}: {exc.strerror or exc}") from None
    key = decode_key_file(data)
    if key is not None:
        return key
    raise ConfigError(f"--master-key-file {path} must hold a 32-byte key (raw, base64 or hex)")


def _blob_config(metadata_url: str | None, endpoint: str | None, bucket: str | None, prefix: str,
                 region: str | None, profile: str | None, ca_bundle: Path | None, style: str,
                 part_mib: int, cache_mib: int = 32) -> object | None:
    """The S3 blob store's configuration, resolved as the AWS CLI resolves it; its keys
    come from S3PRESIGN_BLOB_* (never a command line, where ps shows them)."""
    if not bucket:
        if metadata_url:
            raise ConfigError("--metadata-url needs --blob-bucket (the ciphertext must be shared too)")
        if endpoint:
            raise ConfigError("--blob-endpoint needs --blob-bucket")
        return None
    if not metadata_url:
        raise ConfigError("--blob-bucket needs --metadata-url (the metadata must be shared too)")
    from s3presign.server.blobs_s3 import S3BlobConfig

    env = os.environ
    options: dict = {"part_size": part_mib * 1024 * 1024, "addressing_style": style,
                     "cache_size": cache_mib * 1024 * 1024}
    if ca_bundle is not None:
        options["verify"] = str(ca_bundle)
    return S3BlobConfig.resolve(
        bucket=bucket, endpoint=endpoint, prefix=prefix, region=region, profile=profile,
        access_key=env.get("S3PRESIGN_BLOB_ACCESS_KEY_ID"), secret_key=env.get("S3PRESIGN_BLOB_SECRET_ACCESS_KEY"),
        session_token=env.get("S3PRESIGN_BLOB_SESSION_TOKEN"), **options,
    )


def _tls(data_dir: Path, cert: Path | None, key: Path | None, self_signed: bool,
         hosts: list[str]) -> tuple[str | None, str | None, str | None]:
    """(cert file, key file, CA file to trust) for the TLS options given."""
    if self_signed and (cert or key):
        raise ConfigError("--tls-self-signed makes its own certificate; drop --tls-cert/--tls-key")
    if bool(cert) != bool(key):
        raise ConfigError("--tls-cert and --tls-key go together; give both")
    if self_signed:
        from s3presign.server.tls import make_self_signed

        made = make_self_signed(data_dir / ".s3presign" / "tls", hosts)
        return str(made[0]), str(made[1]), str(made[2])
    if not cert or not key:
        return None, None, None
    from s3presign.server.tls import check_files

    try:
        check_files(cert, key)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return str(cert), str(key), None


def _start_console(address: str, policy: Path | None, scheme: str, host: str, port: int, region: str,
                   ca: str | None, users: dict) -> None:
    """The console and signing service, in a thread of this process (imported only here)."""
    from s3presign.console import start
    from s3presign.console.server import parse_address
    from s3presign.core.errors import PresignError

    local = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    endpoint = f"{scheme}://{f'[{local}]' if ':' in local else local}:{port}"
    try:
        chost, cport = parse_address(address)
        running = start(endpoint, region, host=chost, port=cport, ca_file=ca, users=users, policy_file=policy)
    except (PresignError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"  console: {running.url} (signing service: {running.url}s3/)")
    if chost not in ("127.0.0.1", "::1", "localhost"):
        click.echo(f"  warning: the console listens on {chost}, not only on loopback")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where buckets, objects and keys live [default: $S3PRESIGN_DATA_DIR or ~/.local/share/s3presign].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback unless you say otherwise).")
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks a free one.")
@click.option("--region", default="us-east-1", show_default=True, help="The region this endpoint is (signatures must name it).")
@click.option("--domain", metavar="NAME", help="Also accept virtual-hosted style: BUCKET.NAME[:PORT].")
@click.option("--tls-cert", type=click.Path(path_type=Path, dir_okay=False), help="TLS certificate (PEM); with --tls-key.")
@click.option("--tls-key", type=click.Path(path_type=Path, dir_okay=False), help="TLS private key (PEM).")
@click.option("--tls-self-signed", is_flag=True, help="Serve HTTPS with a certificate made for localhost (its CA is printed).")
@click.option("--credentials", "credentials_file", type=click.Path(path_type=Path, dir_okay=False),
              help="AWS-style credentials file: every [section] with aws_access_key_id/aws_secret_access_key is a user; "
                   "optional aws_account_id (12 digits; users sharing one are one account), canonical_user_id "
                   "(64 hex) and display_name set its account, as ACLs and Owner elements show it.")
@click.option("--master-key-file", type=click.Path(path_type=Path, dir_okay=False),
              help="Use this 32-byte master key (raw, base64 or hex) instead of the data dir's.")
@click.option("--allow-insecure-ssec", is_flag=True,
              help="Accept SSE-C keys over plain HTTP (S3 refuses them; for local tests only).")
@click.option("--new-bucket-defaults", type=click.Choice(["current", "legacy"]), default="current", show_default=True,
              help="Settings of new buckets: AWS's current ones (SSE-C writes blocked, ACLs disabled, Block Public "
                   "Access on) or the pre-2023 ones, for suites written before the change.")
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="One line per request on stderr.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes serving the one port (use up to one per CPU core).")
@click.option("--idle-timeout", default=_DEFAULTS.idle_timeout, show_default=True, type=float, metavar="SECONDS",
              help="Close a connection idle this long (keep-alive, or before its first request).")
@click.option("--header-timeout", default=_DEFAULTS.header_timeout, show_default=True, type=float, metavar="SECONDS",
              help="Answer RequestTimeout to a request whose headers take longer than this.")
@click.option("--body-timeout", default=_DEFAULTS.body_timeout, show_default=True, type=float, metavar="SECONDS",
              help="Answer RequestTimeout when a request body stalls this long.")
@click.option("--send-timeout", default=_DEFAULTS.send_timeout, show_default=True, type=float, metavar="SECONDS",
              help="Cut a connection whose client reads nothing of the response for this long.")
@click.option("--max-connections", default=None, type=int, metavar="N",
              help=f"Concurrent connections; beyond them requests get 503 SlowDown [default: {_DEFAULTS.max_connections}, "
                   "or what the open-file limit allows].")
@click.option("--max-header-size", default=_DEFAULTS.max_header_bytes, show_default=True, type=int, metavar="BYTES",
              help="Largest request header section (S3: 8 KiB).")
@click.option("--send-buffer", default=_DEFAULTS.send_buffer, show_default=True, type=int, metavar="BYTES",
              help="Response bytes queued per connection before the server waits for the client.")
@click.option("--console-address", metavar="HOST:PORT",
              help="Also serve the web console and the signing service here (off unless given; e.g. 127.0.0.1:9001).")
@click.option("--console-policy", type=click.Path(path_type=Path, dir_okay=False),
              help="Signing-service policy (JSON): tokens, buckets/prefixes, methods, SSE, sizes, expiries.")
@click.option("--metadata-url", envvar="S3PRESIGN_METADATA_URL", metavar="URL",
              help="Distributed shape: metadata in PostgreSQL (postgresql://USER:PASS@HOST:PORT/DB; prefer the "
                   "env S3PRESIGN_METADATA_URL for the password). Needs --blob-bucket and --master-key-file.")
@click.option("--blob-endpoint", envvar="S3PRESIGN_BLOB_ENDPOINT", metavar="URL",
              help="S3 store for the ciphertext [default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's].")
@click.option("--blob-bucket", envvar="S3PRESIGN_BLOB_BUCKET", metavar="NAME",
              help="Existing bucket on that store holding the ciphertext (never created).")
@click.option("--blob-prefix", envvar="S3PRESIGN_BLOB_PREFIX", default="", metavar="PREFIX",
              help="Key prefix inside --blob-bucket, e.g. s3presign/.")
@click.option("--blob-region", envvar="S3PRESIGN_BLOB_REGION", metavar="NAME",
              help="Region to sign for [default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1].")
@click.option("--blob-profile", envvar="S3PRESIGN_BLOB_PROFILE", metavar="NAME",
              help="AWS CLI profile for the store's credentials (else S3PRESIGN_BLOB_ACCESS_KEY_ID/"
                   "S3PRESIGN_BLOB_SECRET_ACCESS_KEY, else the AWS CLI chain).")
@click.option("--blob-ca-bundle", envvar="S3PRESIGN_BLOB_CA_BUNDLE", type=click.Path(path_type=Path, dir_okay=False),
              help="CA bundle for an HTTPS store [default: AWS_CA_BUNDLE, the profile's ca_bundle].")
@click.option("--blob-addressing-style", envvar="S3PRESIGN_BLOB_ADDRESSING_STYLE", default="path",
              show_default=True, type=click.Choice(["path", "virtual"]), help="virtual for Amazon S3.")
@click.option("--blob-part-size", envvar="S3PRESIGN_BLOB_PART_SIZE", default=8, show_default=True,
              type=click.IntRange(5, 5 * 1024), metavar="MiB", help="Multipart part size to the store (memory per write).")
@click.option("--blob-cache-size", envvar="S3PRESIGN_BLOB_CACHE_SIZE", default=32, show_default=True,
              type=click.IntRange(0, 64 * 1024), metavar="MiB",
              help="Memory for small blobs (ciphertext) kept after a read; always consistent (blobs are immutable). 0: none.")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDR",
              envvar="S3PRESIGN_TRUSTED_PROXY",
              help="A load balancer's address whose X-Forwarded-Proto/-For are believed (TLS ending there "
                   "still counts as HTTPS, which SSE-C needs). Repeatable; none by default.")
@click.option("--gc-grace", envvar="S3PRESIGN_GC_GRACE", default=3600.0, show_default=True, type=float,
              metavar="SECONDS", help="Distributed shape: unreferenced blobs younger than this are left alone.")
def serve(
    data_dir: Path | None, host: str, port: int, region: str, domain: str | None,
    tls_cert: Path | None, tls_key: Path | None, tls_self_signed: bool, credentials_file: Path | None,
    master_key_file: Path | None, allow_insecure_ssec: bool, new_bucket_defaults: str, access_log: bool, workers: int,
    idle_timeout: float, header_timeout: float, body_timeout: float, send_timeout: float,
    max_connections: int | None, max_header_size: int, send_buffer: int,
    console_address: str | None = None, console_policy: Path | None = None,
    metadata_url: str | None = None, blob_endpoint: str | None = None, blob_bucket: str | None = None,
    blob_prefix: str = "", blob_region: str | None = None, blob_profile: str | None = None,
    blob_ca_bundle: Path | None = None, blob_addressing_style: str = "path", blob_part_size: int = 8,
    blob_cache_size: int = 32, gc_grace: float = 3600.0, trusted_proxies: tuple[str, ...] = (),
) -> None:
    """Run a strict S3-compatible endpoint: it verifies SigV2 and SigV4 exactly as
    Amazon S3 does and encrypts every object at rest (SSE-S3 by default).

    Users come from --credentials FILE, else AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY, else a key pair is generated (kept in the data dir)
    and printed; in the distributed shape they live in the metadata database
    (`s3presign user`). Stop it with Ctrl-C or SIGTERM.

    \b
    Examples:
      s3presign serve
      s3presign serve --port 0 --data-dir /tmp/s3 --region eu-west-1
      AWS_ACCESS_KEY_ID=dev AWS_SECRET_ACCESS_KEY=devsecret s3presign serve
      s3presign serve --domain s3.localhost --tls-self-signed
      s3presign serve --host 0.0.0.0 --workers 4 --credentials users.ini
      aws --endpoint-url http://127.0.0.1:9000 s3 ls

    Distributed shape (N instances behind a load balancer; see docs/DEPLOY.md):

    \b
      S3PRESIGN_METADATA_URL=postgresql://s3p:PASS@db:5432/s3p \\
      S3PRESIGN_BLOB_ACCESS_KEY_ID=... S3PRESIGN_BLOB_SECRET_ACCESS_KEY=... \\
      s3presign serve --blob-endpoint http://rgw:7480 --blob-bucket s3p-blobs \\
        --master-key-file master.key
      s3presign user add ALICE0123456789 --metadata-url ... --master-key-file master.key
    """
    from s3presign.cli.main import Refused
    from s3presign.server.app import bind, create_app
    from s3presign.server.app import serve as serve_app
    from s3presign.core.errors import PresignError
    from s3presign.server.keys import KeyStoreError

    os.umask(0o077)  # everything this process creates under the data dir: 0600 files, 0700 dirs
    try:
        directory = prepare_data_dir(data_dir if data_dir is not None else default_data_dir())
        lock_data_dir(directory)  # held until the process (and its workers) exit
        check_data_tree(directory)
        clean_debris(directory)
        blobs = _blob_config(metadata_url, blob_endpoint, blob_bucket, blob_prefix, blob_region, blob_profile,
                             blob_ca_bundle, blob_addressing_style, blob_part_size, blob_cache_size)
        if metadata_url:  # the users live in the database, shared by every instance
            if credentials_file is not None:
                raise ConfigError(
                    "in the distributed shape the users live in the metadata database: import the file once with "
                    f"`s3presign user import {credentials_file}` and drop --credentials")
            users, source = {}, "the metadata database"
        else:
            users, source = resolve_users(credentials_file, directory)
        limits = Limits(
            idle_timeout=idle_timeout, header_timeout=header_timeout, body_timeout=body_timeout,
            send_timeout=send_timeout, max_connections=_connection_limit(max_connections),
            max_header_bytes=max_header_size, send_buffer=send_buffer,
        )
        config = ServerConfig(
            limits=limits,
            data_dir=directory, users=users, region=region, domain=domain,
            accounts=accounts_from_file(credentials_file) if credentials_file is not None else {},
            allow_insecure_ssec=allow_insecure_ssec, new_bucket_defaults=new_bucket_defaults,
            master_key=_master_key(master_key_file) if master_key_file else None,
            access_log=sys.stderr if access_log else None,
            metadata_url=metadata_url, blobs=blobs, gc_grace=gc_grace,
            trusted_proxies=tuple(trusted_proxies),
        )
        names = [host] if host not in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "::") else []
        names += [config.domain, f"*.{config.domain}"] if config.domain else []
        certfile, keyfile, ca = _tls(directory, tls_cert, tls_key, tls_self_signed, names)
        app = create_app(config)
    except (ConfigError, KeyStoreError, PresignError) as exc:
        raise Refused(str(exc)) from None
    except OSError as exc:  # the database or the blob store cannot be reached at start-up
        raise Refused(f"cannot start: {exc}") from None
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound_port = sock.getsockname()[1]
    scheme = "https" if certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"s3presign serve: listening on {scheme}://{shown}:{bound_port}")
    click.echo(f"  region {region}, data dir {directory}" + (f", {workers} workers" if workers > 1 else ""))
    if blobs is not None:
        from urllib.parse import urlsplit

        db = urlsplit(metadata_url or "")
        click.echo(f"  distributed: metadata postgresql://{db.hostname}:{db.port or 5432}{db.path}, "
                   f"blobs {blobs.endpoint}/{blobs.bucket}/{blobs.prefix}")
    if domain:
        click.echo(f"  virtual-hosted style: {scheme}://BUCKET.{domain}:{bound_port}")
    if ca:
        click.echo(f"  TLS: trust {ca} (e.g. AWS_CA_BUNDLE={ca})")
    if allow_insecure_ssec:
        click.echo("  warning: SSE-C keys are accepted over plain HTTP (--allow-insecure-ssec)")
    if console_address and workers > 1:
        raise click.ClickException("--console-address runs beside one worker; drop --workers or the console")
    if console_address:
        _start_console(console_address, console_policy, scheme, host, bound_port, region, ca,
                       app.state.users.snapshot())
    elif console_policy:
        raise click.ClickException("--console-policy needs --console-address HOST:PORT")
    if source == "generated":
        user = next(iter(users.values()))
        click.echo(f"  credentials (generated): AWS_ACCESS_KEY_ID={user.access_key} AWS_SECRET_ACCESS_KEY={user.secret_key}")
    elif metadata_url:
        count = len(app.state.users.snapshot())
        click.echo(f"  users: {count} in {source}" + ("" if count else " (add one: s3presign user add)"))
    else:
        click.echo(f"  users: {len(users)} from {source}")
    sys.stdout.flush()
    status = serve_app(app, sock, certfile=certfile, keyfile=keyfile, workers=workers)
    if status:
        click.echo("s3presign serve: stopped: the workers could not be kept up (see the log)", err=True)
        sys.exit(status)
    click.echo("s3presign serve: stopped")
