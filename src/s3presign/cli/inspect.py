"""`s3presign inspect`: explain a pre-signed URL and why S3 refuses it."""

from __future__ import annotations

import json
import sys

import click

from s3presign.cli.generate import parse_header

INSPECT_EXAMPLES = """
\b
Examples:
  s3presign inspect "$URL"
  s3presign inspect "$URL" --method PUT --header x-amz-server-side-encryption:aws:kms
  s3presign inspect "$URL" --method PUT --secret-key "$AWS_SECRET_ACCESS_KEY"
  s3presign inspect "$URL" --profile prod --region eu-west-1 --output json
  curl -s "$URL" > err.xml; s3presign inspect "$URL" --error-xml err.xml
  s3presign inspect --from-json put.json --secret-key "$SECRET"

\b
Exit status: 0 when nothing says the request will fail, 1 when something
does (expired, wrong region, a signed header not sent, a signature that does
not match...), 2 for bad input.
"""


def _credentials(url_access_key: str, secret_key: str | None, profile: str | None) -> tuple[str | None, str | None]:
    """(secret, access key) to check the signature with: --secret-key, else the
    profile named, else the usual credentials if they are the URL's signer."""
    from s3presign.core.credentials import Credentials
    from s3presign.core.errors import PresignError

    if secret_key:
        return secret_key, None
    if profile is not None:
        creds = Credentials.from_profile(profile)
        return creds.secret_key, creds.access_key
    try:
        creds = Credentials.resolve()
    except PresignError:
        return None, None
    if creds.access_key == url_access_key:
        return creds.secret_key, creds.access_key
    return None, None


@click.command(epilog=INSPECT_EXAMPLES)
@click.argument("url", required=False)
@click.option("--method", type=click.Choice(["GET", "PUT", "HEAD", "DELETE", "POST"], case_sensitive=False),
              help="The method the URL is used with [default: found with the key, else GET].")
@click.option("--header", "headers", multiple=True, metavar="NAME:VALUE",
              help="A header the request sends (repeatable); inspect assumes exactly these are sent.")
@click.option("--from-json", type=click.Path(dir_okay=False), metavar="PRESIGNED.json",
              help="Take the URL, method and headers from `s3presign url ... --output json`.")
@click.option("--secret-key", metavar="KEY", help="The signer's secret key, to check the signature.")
@click.option("--profile", help="Check with this profile's keys (default: your usual keys, if they signed the URL).")
@click.option("--region", help="The endpoint's region, to catch a URL signed for another one.")
@click.option("--endpoint-url", help="The endpoint the URL is meant for (tells virtual-hosted from path style).")
@click.option("--addressing-style", type=click.Choice(["virtual", "path"]), help="The addressing style the endpoint serves.")
@click.option("--error-xml", type=click.Path(dir_okay=False, allow_dash=True), metavar="FILE",
              help="S3's error response to the URL ('-': stdin): compared with what the URL implies.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def inspect(url: str | None, method: str | None, headers: tuple[str, ...], from_json: str | None,
            secret_key: str | None, profile: str | None, region: str | None, endpoint_url: str | None,
            addressing_style: str | None, error_xml: str | None, output: str) -> None:
    """Decode a pre-signed URL (no key needed), say which headers to send with it,
    warn about what will make S3 refuse it and, with the secret key, check the
    signature and name the part of the request that differs."""
    from s3presign.client.inspect import inspect_url, load_presigned_json, parse_error_xml, parse_signed_url, render_text
    from s3presign.core.errors import PresignError

    sent = {}
    if from_json:
        json_method, json_url, sent, _ = load_presigned_json(from_json)
        url = url or json_url
        method = method or json_method
    if not url:
        raise click.UsageError("give the URL (or --from-json FILE)")
    sent.update(dict(parse_header(h) for h in headers))
    error = None
    if error_xml:
        try:
            data = sys.stdin.buffer.read() if error_xml == "-" else open(error_xml, "rb").read()
        except OSError as exc:
            raise PresignError(f"cannot read --error-xml {error_xml}: {exc.strerror}") from None
        error = parse_error_xml(data)
    signed = parse_signed_url(url, endpoint_url=endpoint_url)
    secret, access_key = _credentials(signed.access_key, secret_key, profile)
    report = inspect_url(
        url, method=method, headers=sent, secret_key=secret, access_key=access_key, region=region,
        endpoint_url=endpoint_url, addressing_style=addressing_style, error=error,
    )
    if output == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(render_text(report))
    sys.exit(1 if report.will_fail else 0)
