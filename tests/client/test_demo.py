"""`s3presign demo`: the SSE table end to end, as the quick start runs it."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from s3presign.core.sse import SSE_TABLE
from tests.server.helpers import start_server


def test_demo_passes_every_cell_and_cleans_up(cli, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = cli.run("demo", env={"TMPDIR": str(scratch), "COLUMNS": "200"})
    text = out.stdout.decode()
    assert out.returncode == 0, text + out.stderr.decode()
    assert "12 of 12 cells behaved as the table says" in text
    rows = [line for line in text.splitlines() if line.startswith(("│", "|"))]
    for mode in SSE_TABLE:  # every row, with a verified result in both columns
        row = next(r for r in rows if re.match(rf"^[│|] {re.escape(mode)} ", r))
        assert row.count("PASS") == 2, row
    assert text.count("PASS: allowed") == 9 and text.count("PASS: refused") == 3
    assert "FAIL" not in text
    assert "400 InvalidArgument" in text  # the server's refusal of a forced SigV2 KMS request
    # the bucket had AWS's current defaults: SSE-C refused, then unblocked by its owner
    assert "New Amazon S3 buckets block SSE-C writes (since April 2026)" in text
    assert "got 403 AccessDenied" in text and "BlockedEncryptionTypes NONE" in text
    assert list(scratch.iterdir()) == []  # nothing left behind


def test_demo_keep_leaves_a_data_dir_that_serve_can_use(cli, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = cli.run("demo", "--keep", env={"TMPDIR": str(scratch)})
    assert out.returncode == 0, out.stdout
    kept = re.search(r"^kept (\S+) \(CA: (\S+)\); serve it again with:$", out.stdout.decode(), re.M)
    assert kept and Path(kept.group(1)).parent == scratch and Path(kept.group(2)).is_file()
    server = start_server(Path(kept.group(1)), "--tls-self-signed", credentials=False)
    try:
        keys = re.search(r"AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)", server.banner)
        s3 = server.client(creds=(keys.group(1), keys.group(2)))
        head = s3.head_object(Bucket="s3presign-demo", Key="kms/v4/object.bin")
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].startswith("arn:aws:kms:")
    finally:
        server.stop()


def test_demo_on_a_taken_port_is_one_line(cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        out = cli.run("demo", "--port", port)
    assert out.returncode == 1
    err = out.stderr.decode()
    assert err == f"s3presign: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
