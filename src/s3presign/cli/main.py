"""The `s3presign` command: a lazy click group.

Subcommands live in their own modules and are imported only when run, so
`s3presign url` never pays for the server's or the client's imports.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import NoReturn

import click

# name -> (module, attribute, one-line help). A module that is not present is
# simply not offered.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "url": ("s3presign.cli.generate", "url", "Pre-sign one request (GET, PUT, HEAD, DELETE, POST)."),
    "post": ("s3presign.cli.generate", "post", "Pre-sign a browser POST form upload."),
    "multipart": ("s3presign.cli.generate", "multipart", "Pre-sign a whole multipart upload plan."),
    "put": ("s3presign.cli.transfer", "put", "Upload a file through a pre-signed PUT URL."),
    "get": ("s3presign.cli.transfer", "get", "Download through a pre-signed GET URL."),
    "upload": ("s3presign.cli.transfer", "upload", "Multipart upload driven by pre-signed requests."),
    "download": ("s3presign.cli.transfer", "download", "Download an object through a pre-signed GET."),
    "inspect": ("s3presign.cli.inspect", "inspect", "Explain a pre-signed URL and why it fails."),
    "serve": ("s3presign.cli.serve", "serve", "Run the strict S3-compatible endpoint."),
    "kms": ("s3presign.cli.kms", "kms", "Manage the built-in key service's keys."),
    "user": ("s3presign.cli.user", "user", "Manage the users of a distributed deployment."),
    "demo": ("s3presign.cli.demo", "demo", "Run the SSE x signature-version table end to end."),
}


def _available(name: str) -> bool:
    return importlib.util.find_spec(COMMANDS[name][0]) is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module, attr, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr, None)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="s3presign")
def cli() -> None:
    """Pre-signed Amazon S3 URLs that work with server-side encryption.

    \b
    Examples:
      s3presign url PUT s3://my-bucket/report.pdf --sse kms:alias/reports
      s3presign post s3://my-bucket/uploads/${filename} --content-length-range 1,10485760
      s3presign serve --port 9000
      s3presign demo
    """


class Refused(click.ClickException):
    """Input a command refuses (a flag, a file, a key): one line, exit status 2."""

    exit_code = 2


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: the CLI's only way to refuse."""
    click.echo(f"s3presign: error: {message}", err=True)
    sys.exit(code)


def main() -> None:
    from s3presign.core.errors import PresignError
    from s3presign.core.s3errors import S3Error

    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("s3presign: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"s3presign: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except PresignError as exc:
        fail(str(exc), 2)
    except S3Error as exc:
        fail(f"{exc.code}: {exc.message}", 1)
    except KeyboardInterrupt:
        click.echo("s3presign: interrupted", err=True)
        sys.exit(130)
    except OSError as exc:
        fail(str(exc), 1)


if __name__ == "__main__":
    main()
