"""`s3presign demo`: the SSE x signature-version table, verified end to end."""

from __future__ import annotations

import sys

import click

DEMO_EXAMPLES = """
\b
Examples:
  s3presign demo
  s3presign demo --keep          # keep the data dir, CA and objects to look at
  s3presign demo --port 9443

\b
Exit status: 0 when every cell behaved as the table says, 1 otherwise.
"""


@click.command(epilog=DEMO_EXAMPLES)
@click.option("--keep", is_flag=True, help="Keep the temporary data dir (objects, keys, CA) instead of deleting it.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port of the embedded endpoint (0: a free one).")
def demo(keep: bool, port: int) -> None:
    """Start an embedded `s3presign serve` (temporary data dir, TLS with a
    self-signed CA, a KMS key) and, for every SSE mode under SigV4 and SigV2,
    PUT then GET an object with URLs this library generates, over HTTPS: each
    allowed cell must round-trip byte for byte under the requested encryption;
    each refused cell must be refused by the library and, forced past it, by
    the server."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from s3presign.client.demo import VERSIONS, DemoError, run_demo
    from s3presign.core.sse import SSE_TABLE

    console = Console()
    utf8 = (console.encoding or "").lower().startswith("utf")
    click.echo("s3presign demo: starting an embedded endpoint (HTTPS, self-signed CA, a KMS key)...")
    try:
        run = run_demo(port=port, keep=keep)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    cells = {(c.mode, c.version): c for c in run.cells}
    table = Table(title=f"SSE x signature version against {run.url}", box=box.ROUNDED if utf8 else box.ASCII,
                  show_lines=True, expand=False)
    table.add_column("SSE mode", no_wrap=True)
    for version in VERSIONS:
        table.add_column(f"Sig{version.upper()}", ratio=1)
    for mode, rule in SSE_TABLE.items():
        row = [mode if rule.label == mode else f"{mode}\n{rule.label}"]
        for version in VERSIONS:
            cell = cells[(mode, version)]
            verdict = ("allowed" if cell.allowed else "refused") if cell.passed else "FAIL"
            style = "green" if cell.passed else "bold red"
            row.append(f"[{style}]{'PASS' if cell.passed else 'FAIL'}: {verdict}[/{style}]\n{cell.result}")
        table.add_row(*row)
    console.print(table)
    for note in run.notes:
        click.echo(note)
    click.echo("Why SigV2 refuses:")
    for mode, rule in SSE_TABLE.items():
        if not rule.sigv2:
            click.echo(f"  {mode}: {rule.sigv2_refusal}")
    failed = [c for c in run.cells if not c.passed]
    click.echo(f"{len(run.cells) - len(failed)} of {len(run.cells)} cells behaved as the table says "
               f"({run.seconds:.1f} s).")
    if keep:
        click.echo(f"kept {run.data_dir} (CA: {run.ca}); serve it again with:\n"
                   f"  s3presign serve --data-dir {run.data_dir} --tls-self-signed")
    sys.exit(1 if failed else 0)
