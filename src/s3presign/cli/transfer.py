"""`s3presign put/get` (use a pre-signed URL) and `upload/download` (sign and use).

The work is in s3presign.client.transfer; this module is options, messages
and exit codes.
"""

from __future__ import annotations

import functools
import re
import sys
from typing import Any, Callable

import click

from s3presign.cli.generate import (
    build_presigner,
    build_sse,
    credential_options,
    parse_header,
    parse_s3_uri,
    read_customer_key,
    sse_options,
)

F = Callable[..., Any]
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.I)


def _one_line_errors(func: F) -> F:
    """A TransferError becomes one error line (plus hint lines) and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from s3presign.client.transfer import TransferError

        try:
            return func(*args, **kwargs)
        except TransferError as exc:
            click.echo(f"s3presign: error: {exc.message}", err=True)
            for hint in exc.hints:
                click.echo(f"  hint: {hint}", err=True)
            sys.exit(1)

    return wrapper


def transfer_options(func: F) -> F:
    """--ca-bundle, --retries, --progress/--no-progress."""
    options = [
        click.option("--ca-bundle", type=click.Path(dir_okay=False), envvar="AWS_CA_BUNDLE",
                     help="PEM file of CAs to trust (default: $AWS_CA_BUNDLE, else the system's)."),
        click.option("--retries", type=click.IntRange(0, 20), default=4, show_default=True,
                     help="Extra attempts after a network error or a 5xx, with backoff (only where safe)."),
        click.option("--progress/--no-progress", default=None,
                     help="Show a progress bar [default: only when stderr is a terminal]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def url_options(func: F) -> F:
    """--header, --sse-c-key-file, --from-json: what travels with a pre-signed URL."""
    options = [
        click.option("--header", "headers", multiple=True, metavar="NAME:VALUE",
                     help="A header to send (repeatable); the URL's signed headers must be sent with their values."),
        click.option("--sse-c-key-file", type=click.Path(dir_okay=False),
                     help="SSE-C key (32 raw bytes or their base64): sends the key and key-MD5 headers."),
        click.option("--from-json", type=click.Path(dir_okay=False), metavar="PRESIGNED.json",
                     help="The URL and its headers from `s3presign url ... --output json`."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _request(method: str, url: str | None, headers: tuple[str, ...], sse_c_key_file: str | None,
             from_json: str | None) -> Any:
    from s3presign.client.transfer import build_request

    key = read_customer_key(sse_c_key_file) if sse_c_key_file else None
    return build_request(method, url, from_json=from_json, headers=dict(parse_header(h) for h in headers),
                         customer_key=key)


def _integrity(md5_checked: bool, sse: str | None, etag: str | None) -> str:
    if md5_checked:
        return "MD5 verified against the ETag"
    if etag and "-" in etag:
        return "size checked; a multipart upload's ETag is not an MD5"
    return f"size checked; the ETag of an {sse or 'encrypted'} object is not an MD5"


def _client(ca_bundle: str | None, pool: int = 8) -> Any:
    from s3presign.client.transfer import http_client

    return http_client(ca_bundle, pool=pool)


PUT_EXAMPLES = """
\b
Examples:
  s3presign put "$URL" report.pdf
  s3presign put "$URL" data.csv --header x-amz-server-side-encryption:aws:kms
  s3presign url PUT s3://b/secret.bin --sse c --output json > put.json
  s3presign put --from-json put.json secret.bin --sse-c-key-file key.bin
"""


@click.command(epilog=PUT_EXAMPLES)
@click.argument("args", nargs=-1, metavar="URL FILE")
@url_options
@transfer_options
@_one_line_errors
def put(args: tuple[str, ...], headers: tuple[str, ...], sse_c_key_file: str | None, from_json: str | None,
        ca_bundle: str | None, retries: int, progress: bool | None) -> None:
    """Upload FILE through a pre-signed PUT URL (streamed; retried while the file
    is unchanged). With --from-json, give only FILE."""
    from s3presign.client.transfer import TransferError, put_file

    wanted = 1 if from_json else 2
    if len(args) != wanted:
        usage = "FILE (the URL comes from --from-json)" if from_json else "URL FILE"
        raise TransferError(f"put takes {usage}; got {len(args)} argument(s)")
    url, path = (None, args[0]) if from_json else args
    request = _request("PUT", url, headers, sse_c_key_file, from_json)
    with _client(ca_bundle) as client:
        sent = put_file(client, request, path, retries=retries, progress=progress)
    etag = f", ETag \"{sent.etag}\"" if sent.etag else ""
    click.echo(f"uploaded {path} to {request.where}: {sent.size} bytes{etag} "
               f"({_integrity(sent.md5_checked, sent.sse, sent.etag)}), SSE {sent.sse or 'none'}")


GET_EXAMPLES = """
\b
Examples:
  s3presign get "$URL"                      # saved under the key's last name
  s3presign get "$URL" -o report.pdf
  s3presign get "$URL" -o - | tar x         # to stdout
  s3presign get --from-json get.json --sse-c-key-file key.bin -o secret.bin
"""


def _report_download(source: str, received: Any) -> None:
    where = "stdout" if received.path == "-" else received.path
    click.echo(f"downloaded {source} to {where}: {received.size} bytes "
               f"({_integrity(received.md5_checked, received.sse, received.etag)}), SSE {received.sse or 'none'}",
               err=received.path == "-")


@click.command(epilog=GET_EXAMPLES)
@click.argument("url", required=False)
@click.option("-o", "--output", "output", metavar="FILE", help="Where to save it ('-': stdout) [default: the key's last name].")
@url_options
@transfer_options
@_one_line_errors
def get(url: str | None, output: str | None, headers: tuple[str, ...], sse_c_key_file: str | None,
        from_json: str | None, ca_bundle: str | None, retries: int, progress: bool | None) -> None:
    """Download through a pre-signed GET URL: resumed after network errors,
    checked against Content-Length and (when it is an MD5) the ETag, and
    written to a temporary file that replaces FILE only when complete."""
    from s3presign.client.transfer import default_name, get_file

    request = _request("GET", url, headers, sse_c_key_file, from_json)
    dest = output or default_name(request.url)
    with _client(ca_bundle) as client:
        received = get_file(client, request, dest, retries=retries, progress=progress)
    _report_download(request.where, received)


def parse_size(text: str) -> int:
    """'8MiB', '16M', '5242880', '1GB' (binary units, as the AWS CLI reads them)."""
    match = _SIZE.match(text)
    if not match:
        raise click.BadParameter(f"{text!r}: write a size such as 8MiB, 64M or 5242880")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** " kmgt".index(unit or " "))


UPLOAD_EXAMPLES = """
\b
Examples:
  s3presign upload s3://my-bucket/backup.tar big.tar
  s3presign upload s3://my-bucket/data.bin data.bin --sse kms:alias/backups --concurrency 8
  s3presign upload s3://b/k file --sse c --sse-c-key-file key.bin --part-size 64MiB
  s3presign upload s3://b/k file --endpoint-url https://127.0.0.1:9000 --ca-bundle ca.pem
"""


@click.command(epilog=UPLOAD_EXAMPLES)
@click.argument("uri", metavar="s3://BUCKET/KEY")
@click.argument("path", metavar="FILE")
@sse_options
@click.option("--part-size", metavar="SIZE", help="Part size, e.g. 8MiB [default: 8 MiB, grown to fit 10,000 parts].")
@click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True, help="Parts in flight at once.")
@credential_options
@transfer_options
@_one_line_errors
def upload(uri: str, path: str, sse: str, sse_c_key_file: str | None, kms_context: str | None,
           part_size: str | None, concurrency: int, profile: str | None, region: str | None,
           endpoint_url: str | None, addressing_style: str, signature_version: str,
           ca_bundle: str | None, retries: int, progress: bool | None) -> None:
    """Multipart upload of FILE made only of pre-signed requests (create, parts in
    parallel, complete). On failure or Ctrl-C the upload is aborted: nothing is
    left behind."""
    from s3presign.client.transfer import multipart_upload

    bucket, key = parse_s3_uri(uri)
    size = parse_size(part_size) if part_size else None
    presigner = build_presigner(profile, region, endpoint_url, addressing_style, signature_version)
    mode = build_sse(sse, sse_c_key_file, kms_context)
    customer_key = read_customer_key(sse_c_key_file) if sse_c_key_file else None

    def aborted(upload_id: str) -> None:
        click.echo(f"s3presign: upload stopped; multipart upload {upload_id} aborted, nothing left behind", err=True)

    with _client(ca_bundle, pool=concurrency + 2) as client:
        done = multipart_upload(client, presigner, bucket, key, path, sse=mode, customer_key=customer_key,
                                part_size=size, concurrency=concurrency, retries=retries, progress=progress,
                                on_abort=aborted)
    etag = f", ETag \"{done.etag}\"" if done.etag else ""
    check = "parts' MD5s verified against the ETags" if done.md5_checked else "parts' sizes checked"
    click.echo(f"uploaded {path} to {uri}: {done.size} bytes in {done.parts} part(s){etag} ({check}), "
               f"SSE {done.sse or 'none'}")


DOWNLOAD_EXAMPLES = """
\b
Examples:
  s3presign download s3://my-bucket/report.pdf
  s3presign download s3://my-bucket/secret.bin -o secret.bin --sse-c-key-file key.bin
  s3presign download s3://b/k -o - --endpoint-url https://127.0.0.1:9000 --ca-bundle ca.pem
"""


@click.command(epilog=DOWNLOAD_EXAMPLES)
@click.argument("uri", metavar="s3://BUCKET/KEY")
@click.option("-o", "--output", "output", metavar="FILE", help="Where to save it ('-': stdout) [default: the key's last name].")
@sse_options
@credential_options
@transfer_options
@_one_line_errors
def download(uri: str, output: str | None, sse: str, sse_c_key_file: str | None, kms_context: str | None,
             profile: str | None, region: str | None, endpoint_url: str | None, addressing_style: str,
             signature_version: str, ca_bundle: str | None, retries: int, progress: bool | None) -> None:
    """Download an object through a pre-signed GET (an SSE-C object needs
    --sse-c-key-file; a KMS-encrypted one needs SigV4)."""
    from s3presign.client.transfer import Request, get_file

    bucket, key = parse_s3_uri(uri)
    presigner = build_presigner(profile, region, endpoint_url, addressing_style, signature_version)
    if sse_c_key_file and sse.lower() == "none":
        sse = "c"
    presigned = presigner.presign("GET", bucket, key, sse=build_sse(sse, sse_c_key_file, kms_context))
    dest = output or key.rstrip("/").rpartition("/")[2] or key
    with _client(ca_bundle) as client:
        received = get_file(client, Request.from_presigned(presigned), dest, retries=retries, progress=progress)
    _report_download(uri, received)
