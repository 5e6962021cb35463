"""`s3presign url` and `s3presign post`: generate, and say exactly what to send.

The option decorators and builders here are shared by every command that
signs (multipart, upload, download), so they all find credentials, region
and endpoint the way the AWS CLI does.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable

import click

from s3presign.core.credentials import Credentials, profile_region
from s3presign.core.errors import PresignError
from s3presign.core.presign import Presigner
from s3presign.core.sse import SSE, decode_key_file

F = Callable[..., Any]


def parse_s3_uri(uri: str, *, need_key: bool = True) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise PresignError(f"{uri!r} is not an S3 URI; write s3://BUCKET/KEY")
    bucket, _, key = uri[5:].partition("/")
    if not bucket or (need_key and not key):
        raise PresignError(f"{uri!r} names no {'bucket' if not bucket else 'object key'}; write s3://BUCKET/KEY")
    return bucket, key


def read_customer_key(path: str) -> bytes:
    """An SSE-C key file: 32 raw bytes, or base64 (or hex) text of 32 bytes."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PresignError(f"cannot read SSE-C key file {path}: {exc.strerror}") from None
    key = decode_key_file(data)
    if key is not None:
        return key
    raise PresignError(
        f"SSE-C key file {path} holds {len(data)} bytes; it must hold 32 raw bytes or their "
        "base64/hex text (make one with: head -c 32 /dev/urandom > key.bin)"
    )


def parse_timestamp(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PresignError(f"--timestamp {text!r} is not ISO-8601; write e.g. 2026-01-31T12:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise PresignError(f"--header {text!r} must be NAME:VALUE")
    return name.strip(), value.strip()


EXPIRES_HELP = "How long the URL stays valid: seconds (900) or 90s, 15m, 12h, 7d (SigV4: at most 7d)."


def expires_option(func: F) -> F:
    return click.option("--expires-in", default="3600", show_default=True, metavar="DURATION", help=EXPIRES_HELP)(func)


def warn(message: str) -> None:
    click.echo(f"s3presign: warning: {message}", err=True)


def credential_options(func: F) -> F:
    """--profile, --region, --endpoint-url, --addressing-style, --signature-version."""
    options = [
        click.option("--profile", help="AWS profile (default: AWS_PROFILE, then the environment's keys)."),
        click.option("--region", help="Region (default: AWS_REGION, the profile's region, us-east-1)."),
        click.option("--endpoint-url", help="S3-compatible endpoint, e.g. http://127.0.0.1:9000."),
        click.option(
            "--addressing-style", type=click.Choice(["auto", "virtual", "path"]), default="auto", show_default=True
        ),
        click.option(
            "--signature-version", type=click.Choice(["v4", "v2"]), default="v4", show_default=True
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def sse_options(func: F) -> F:
    """--sse, --sse-c-key-file, --kms-context."""
    options = [
        click.option(
            "--sse",
            default="none",
            show_default=True,
            metavar="MODE",
            help="none | s3 | kms[:KEY-ID] | dsse[:KEY-ID] | c (key supplied at use) | c-key (key fixed now).",
        ),
        click.option("--sse-c-key-file", type=click.Path(), help="SSE-C key: 32 raw bytes or their base64."),
        click.option("--kms-context", metavar="JSON", help='KMS encryption context, e.g. {"project":"x"}.'),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_presigner(
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    addressing_style: str,
    signature_version: str,
    *,
    cap_expiry: bool = True,
) -> Presigner:
    from s3presign.core.config import service_endpoint

    import sys

    # an assume-role profile with mfa_serial: ask on the terminal, never from a pipe
    prompt = (lambda serial: click.prompt(f"MFA code for {serial}", err=True)) if sys.stdin.isatty() else None
    credentials = Credentials.resolve(profile, mfa_prompt=prompt)
    region = region or profile_region(profile) or "us-east-1"
    if endpoint_url is None:
        endpoint_url = service_endpoint("s3", profile)
    return Presigner(credentials, region, endpoint_url, addressing_style, signature_version, cap_expiry)


def build_sse(sse: str, sse_c_key_file: str | None, kms_context: str | None) -> SSE | None:
    context = None
    if kms_context is not None:
        try:
            context = json.loads(kms_context)
        except ValueError:
            raise PresignError(f"--kms-context is not JSON: {kms_context!r}") from None
    key = read_customer_key(sse_c_key_file) if sse_c_key_file else None
    if key is not None and sse.lower() in ("c", "sse-c"):
        sse = "c-key"  # a key file means the key is fixed at signing
    return SSE.parse(sse, customer_key=key, context=context)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


URL_EXAMPLES = """
\b
Examples:
  s3presign url GET s3://my-bucket/report.pdf --expires-in 10m
  s3presign url PUT s3://my-bucket/in/data.csv --sse kms:alias/ingest --output json
  s3presign url PUT s3://my-bucket/in/data.csv --for-file data.csv     # only this exact file
  s3presign url PUT s3://my-bucket/secret.bin --sse c --output curl
  s3presign url GET s3://my-bucket --prefix logs/ --delimiter /        # ListObjectsV2
  s3presign url GET s3://my-bucket/photos/ --recursive > urls.jsonl    # one URL per object
  s3presign url GET s3://my-bucket/k --endpoint-url http://127.0.0.1:9000 --timestamp 2026-01-01T00:00:00Z
"""


def parse_checksum(text: str) -> tuple[str, str | None]:
    """--checksum ALG[:VALUE]."""
    from s3presign.core.bounds import checksum_algorithm

    alg, _, value = text.partition(":")
    return checksum_algorithm(alg), (value.strip() or None)


def bound_arguments(method: str, content_length: int | None, content_md5: str | None, checksum: str | None,
                    for_file: str | None) -> dict[str, Any]:
    """presign()'s content_length / content_md5 / checksum from the CLI's options."""
    out: dict[str, Any] = {}
    if content_length is None and content_md5 is None and checksum is None and for_file is None:
        return out
    alg, value = parse_checksum(checksum) if checksum else ("sha256", None)
    if for_file is not None:
        from s3presign.core.bounds import file_bounds

        if value is not None:
            raise PresignError("--for-file computes the checksum; give --checksum ALG without a value")
        size, (alg, value) = file_bounds(for_file, alg)
        if content_length is not None and content_length != size:
            raise PresignError(f"--content-length {content_length} but {for_file} holds {size} bytes; drop one")
        content_length = size
    elif checksum and value is None:
        raise PresignError(f"--checksum {checksum}: give ALG:VALUE (base64), or --for-file FILE to compute it")
    out["content_length"] = content_length
    out["content_md5"] = content_md5
    if value is not None:
        out["checksum"] = (alg, value)
    return out


def _warn_sse(presigner: Presigner, method: str, mode: SSE | None) -> None:
    """What the URL's user would otherwise learn from a failed request."""
    if mode is None or not mode.is_customer:
        return
    if presigner.endpoint_url and presigner.endpoint_url.startswith("http://"):
        warn(f"SSE-C over plain HTTP: S3 refuses it (use an https:// endpoint; {presigner.endpoint_url} is http)")
    if method in ("PUT", "POST") and not presigner.endpoint_url:
        from s3presign.client.advice import SSEC_BLOCKED_ON_NEW_BUCKETS

        warn(SSEC_BLOCKED_ON_NEW_BUCKETS)


def _warn_cut(presigner: Presigner, expires_in: str, now: Any) -> None:
    cut = presigner.credentials_cut(expires_in, now)
    if cut is None:
        return
    creds = presigner.credentials
    when = creds.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if creds.expires_at else "?"
    source = creds.source or "the credential chain"
    if presigner.cap_expiry:
        warn(f"the credentials from {source} expire at {when}, before the requested --expires-in {expires_in}; "
             f"the URL is signed for {cut} s only (--no-cap-expiry keeps the requested value)")
    else:
        warn(f"the credentials from {source} expire at {when}: the URL stops working then ({cut} s), "
             f"whatever its X-Amz-Expires says")


def _ca_bundle(option: str | None, profile: str | None) -> str | None:
    if option:
        return option
    from s3presign.core.config import ca_bundle

    return ca_bundle(profile)


@click.command(epilog=URL_EXAMPLES)
@click.argument("method", type=click.Choice(["GET", "PUT", "HEAD", "DELETE", "POST"], case_sensitive=False))
@click.argument("uri", metavar="s3://BUCKET[/KEY]")
@sse_options
@expires_option
@click.option("--no-cap-expiry", is_flag=True,
              help="Keep --expires-in even past the credentials' expiry (the URL still dies with them).")
@credential_options
@click.option("--content-type", help="Sign a Content-Type the uploader must send.")
@click.option("--content-length", type=click.IntRange(min=0), help="PUT: sign the body's exact size in bytes.")
@click.option("--content-md5", metavar="BASE64", help="PUT: sign the body's MD5 (S3 answers BadDigest for another).")
@click.option("--checksum", metavar="ALG[:VALUE]",
              help="PUT: sign x-amz-checksum-ALG (sha256, crc32, crc32c, crc64nvme, sha1); VALUE base64.")
@click.option("--for-file", type=click.Path(dir_okay=False), metavar="PATH",
              help="PUT: bind the URL to this file (its size and --checksum ALG, default sha256).")
@click.option("--header", "headers", multiple=True, metavar="NAME:VALUE", help="Another header to sign (repeatable).")
@click.option("--query", "query", multiple=True, metavar="NAME=VALUE", help="A sub-resource, e.g. uploadId=ID (repeatable).")
@click.option("--prefix", help="Bucket URI: ListObjectsV2 prefix.")
@click.option("--delimiter", help="Bucket URI: ListObjectsV2 delimiter, e.g. /.")
@click.option("--max-keys", type=click.IntRange(min=0), help="Bucket URI: ListObjectsV2 max-keys.")
@click.option("--location", is_flag=True, help="Bucket URI: GetBucketLocation instead of ListObjectsV2.")
@click.option("--recursive", is_flag=True,
              help="s3://BUCKET/PREFIX: list with your credentials and print one JSON line (a URL) per object.")
@click.option("--ca-bundle", type=click.Path(dir_okay=False),
              help="The endpoint's CA (default: $AWS_CA_BUNDLE / the profile's ca_bundle); curl output adds --cacert.")
@click.option("--timestamp", help="Sign as of this ISO-8601 instant (reproducible output).")
@click.option("--output", type=click.Choice(["text", "json", "curl"]), default="text", show_default=True)
def url(
    method: str, uri: str, sse: str, sse_c_key_file: str | None, kms_context: str | None, expires_in: str,
    no_cap_expiry: bool, profile: str | None, region: str | None, endpoint_url: str | None, addressing_style: str,
    signature_version: str, content_type: str | None, content_length: int | None, content_md5: str | None,
    checksum: str | None, for_file: str | None, headers: tuple[str, ...], query: tuple[str, ...],
    prefix: str | None, delimiter: str | None, max_keys: int | None, location: bool, recursive: bool,
    ca_bundle: str | None, timestamp: str | None, output: str,
) -> None:
    """Pre-sign one request, and say exactly which headers to send with it.

    In text mode the URL goes to stdout and the headers to send to stderr.
    s3://BUCKET alone signs a bucket-level request: GET is ListObjectsV2
    (--prefix, --delimiter, --max-keys) or GetBucketLocation (--location),
    HEAD is HeadBucket.
    """
    method = method.upper()
    bucket, key = parse_s3_uri(uri, need_key=False)
    presigner = build_presigner(profile, region, endpoint_url, addressing_style, signature_version,
                                cap_expiry=not no_cap_expiry)
    now = parse_timestamp(timestamp)
    mode = build_sse(sse, sse_c_key_file, kms_context)
    extra = dict(parse_header(h) for h in headers)
    if content_type:
        extra["content-type"] = content_type
    sub = {}
    for item in query:
        name, _, value = item.partition("=")
        sub[name] = value
    bounds = bound_arguments(method, content_length, content_md5, checksum, for_file)
    listing = (prefix, delimiter, max_keys)
    if recursive:
        if method not in ("GET", "HEAD", "DELETE"):
            raise PresignError(f"--recursive signs existing objects; use GET, HEAD or DELETE, not {method}")
        if bounds or any(v is not None for v in listing) or location:
            raise PresignError("--recursive takes s3://BUCKET/PREFIX; drop the bound and listing options")
        _warn_cut(presigner, expires_in, now)
        _recursive(presigner, method, bucket, key, mode, expires_in, extra or None, sub or None, now,
                   _ca_bundle(ca_bundle, profile))
        return
    if key:
        if any(v is not None for v in listing) or location:
            raise PresignError("--prefix/--delimiter/--max-keys/--location are for a bucket: write s3://BUCKET")
        request = presigner.presign(
            method, bucket, key, sse=mode, expires_in=expires_in, headers=extra or None, query=sub or None,
            now=now, **bounds,
        )
    elif method == "GET" and location:
        request = presigner.presign_bucket_location(bucket, expires_in=expires_in, now=now)
    elif method == "GET" and not sub:
        request = presigner.presign_list_objects(bucket, prefix=prefix, delimiter=delimiter, max_keys=max_keys,
                                                 expires_in=expires_in, now=now)
    elif method == "HEAD" and not any(v is not None for v in listing):
        request = presigner.presign_head_bucket(bucket, expires_in=expires_in, now=now)
    else:
        raise PresignError(
            f"{uri!r} names no object key; write s3://BUCKET/KEY (a bucket alone signs GET: ListObjectsV2 "
            "or --location, HEAD: HeadBucket)"
        )
    _warn_cut(presigner, expires_in, now)
    _warn_sse(presigner, method, mode)
    if output == "json":
        _print_json(request.to_dict())
    elif output == "curl":
        click.echo(request.to_curl(ca_bundle=_ca_bundle(ca_bundle, profile)))
    else:
        click.echo(request.url)
        if request.headers or request.required_headers:
            click.echo("Send these headers with exactly these values:", err=True)
            for name, value in request.headers.items():
                click.echo(f"  {name}: {value}", err=True)
            for name in request.required_headers:
                click.echo(f"  {name}: <from your SSE-C key>", err=True)


def _recursive(presigner: Presigner, method: str, bucket: str, prefix: str, mode: SSE | None, expires_in: str,
               headers: dict[str, str] | None, query: dict[str, str] | None, now: Any, ca_bundle: str | None) -> None:
    """ListObjectsV2 page by page with the user's own credentials; one JSON line per
    object as each page arrives, so any number of keys streams in bounded memory."""
    from s3presign.client.listing import list_keys

    import sys

    for key in list_keys(presigner, bucket, prefix, ca_bundle=ca_bundle):
        request = presigner.presign(method, bucket, key, sse=mode, expires_in=expires_in, headers=headers,
                                    query=query, now=now)
        data = request.to_dict()
        data["key"] = key
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        sys.stdout.flush()


POST_EXAMPLES = """
\b
Examples:
  s3presign post 's3://my-bucket/uploads/${filename}' --content-length-range 1,10485760
  s3presign post s3://my-bucket/avatar.png --sse s3 --condition '["starts-with", "$Content-Type", "image/"]'
  s3presign post s3://my-bucket/form.txt --output html > form.html
"""


@click.command(epilog=POST_EXAMPLES)
@click.argument("uri", metavar="s3://BUCKET/KEY")
@sse_options
@expires_option
@credential_options
@click.option("--content-length-range", metavar="MIN,MAX", help="Allowed file size in bytes.")
@click.option("--condition", "conditions", multiple=True, metavar="JSON", help="A policy condition (repeatable).")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE", help="A form field to preset (repeatable).")
@click.option("--timestamp", help="Sign as of this ISO-8601 instant.")
@click.option("--output", type=click.Choice(["json", "html"]), default="json", show_default=True)
def post(
    uri: str, sse: str, sse_c_key_file: str | None, kms_context: str | None, expires_in: str,
    profile: str | None, region: str | None, endpoint_url: str | None, addressing_style: str,
    signature_version: str, content_length_range: str | None, conditions: tuple[str, ...],
    fields: tuple[str, ...], timestamp: str | None, output: str,
) -> None:
    """Pre-sign a browser form upload (POST policy, V4 or V2)."""
    bucket, key = parse_s3_uri(uri)
    presigner = build_presigner(profile, region, endpoint_url, addressing_style, signature_version)
    length = None
    if content_length_range:
        try:
            low, high = (int(x) for x in content_length_range.split(","))
        except ValueError:
            raise PresignError(f"--content-length-range {content_length_range!r} must be MIN,MAX in bytes") from None
        length = (low, high)
    parsed = []
    for text in conditions:
        try:
            parsed.append(json.loads(text))
        except ValueError:
            raise PresignError(f"--condition is not JSON: {text!r}") from None
    preset = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep:
            raise PresignError(f"--field {item!r} must be NAME=VALUE")
        preset[name] = value
    form = presigner.presign_post(
        bucket, key, sse=build_sse(sse, sse_c_key_file, kms_context), expires_in=expires_in,
        conditions=parsed, content_length_range=length, fields=preset or None, now=parse_timestamp(timestamp),
    )
    if output == "html":
        click.echo(form.to_html(), nl=False)
    else:
        _print_json(form.to_dict())


MULTIPART_EXAMPLES = """
\b
Examples:
  s3presign multipart s3://my-bucket/video.mp4 --size 734003200 --sse kms:alias/media
  s3presign multipart s3://my-bucket/disk.img --size 21474836480 --part-size 67108864
  s3presign multipart s3://my-bucket/backup.tar --size 104857600 --sse c --upload-id ID
"""


@click.command(epilog=MULTIPART_EXAMPLES)
@click.argument("uri", metavar="s3://BUCKET/KEY")
@click.option("--size", type=int, help="The object's size in bytes (or give --part-count).")
@click.option("--part-size", type=int, help="Bytes per part [default: 8 MiB, grown to fit 10,000 parts].")
@click.option("--part-count", type=int, help="Number of parts (with --size: even parts).")
@click.option("--upload-id", help="An upload CreateMultipartUpload already made: sign its parts, complete and abort.")
@sse_options
@expires_option
@credential_options
@click.option("--timestamp", help="Sign as of this ISO-8601 instant (reproducible output).")
@click.option("--output", type=click.Choice(["json"]), default="json", show_default=True)
def multipart(
    uri: str, size: int | None, part_size: int | None, part_count: int | None, upload_id: str | None,
    sse: str, sse_c_key_file: str | None, kms_context: str | None, expires_in: str,
    profile: str | None, region: str | None, endpoint_url: str | None, addressing_style: str,
    signature_version: str, timestamp: str | None, output: str,
) -> None:
    """Pre-sign a whole multipart upload: the part layout and every request.

    The upload id is signed into every part, complete and abort URL, so without
    --upload-id the plan holds the create request and the layout; run it again
    with the UploadId the create request returns to get the rest.
    """
    bucket, key = parse_s3_uri(uri)
    presigner = build_presigner(profile, region, endpoint_url, addressing_style, signature_version)
    plan = presigner.presign_multipart(
        bucket, key, size=size, part_count=part_count, part_size=part_size, upload_id=upload_id,
        sse=build_sse(sse, sse_c_key_file, kms_context), expires_in=expires_in, now=parse_timestamp(timestamp),
    )
    _print_json(plan.to_dict())
