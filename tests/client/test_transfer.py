"""`s3presign put` and `get`, run as subprocesses against the real server over HTTPS."""

from __future__ import annotations

import json
import os
import pty
import re
import socket
import time

import pytest

from s3presign import SSE, SSE_TABLE, Credentials, Presigner
from tests.client.conftest import CuttingProxy
from tests.server.helpers import MAIN

MODES = {  # mode -> (the SSE the server reports, whether the user gives the key at use)
    "none": ("AES256", False),
    "s3": ("AES256", False),
    "kms": ("aws:kms", False),
    "dsse": ("aws:kms:dsse", False),
    "c": ("SSE-C (AES256)", True),
    "c-key": ("SSE-C (AES256)", True),
}


def _sse(mode, key):
    return {"none": None, "s3": SSE.s3(), "kms": SSE.kms(), "dsse": SSE.dsse(), "c": SSE.customer(),
            "c-key": SSE.customer(key)}[mode]


@pytest.mark.parametrize("version", ["v4", "v2"])
@pytest.mark.parametrize("mode", list(MODES))
def test_put_then_get_round_trips_in_every_allowed_cell(cli, tmp_path, bucket, key_file, mode, version):
    if version == "v2" and not SSE_TABLE[mode].sigv2:
        args = ["--sse", mode] + (["--sse-c-key-file", key_file] if mode == "c-key" else [])
        out = cli.run("url", "PUT", f"s3://{bucket}/k", "--signature-version", "v2", *args)
        assert out.returncode == 2 and b"requires Signature Version 4" in out.stderr and b"Traceback" not in out.stderr
        return
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    sse = _sse(mode, key_file.read_bytes())
    reported, key_at_use = MODES[mode]
    key_args = ["--sse-c-key-file", key_file] if key_at_use else []
    put_json = cli.presign_json("PUT", bucket, f"{mode}/obj", sse=sse, version=version)
    out = cli.run("put", "--from-json", put_json, src, *key_args)
    assert out.returncode == 0, out.stderr
    assert f"SSE {reported}".encode() in out.stdout and b"3145745 bytes" in out.stdout
    if mode in ("none", "s3"):
        assert b"MD5 verified" in out.stdout
    get_json = cli.presign_json("GET", bucket, f"{mode}/obj", sse=sse, version=version)
    out = cli.run("get", "--from-json", get_json, "-o", tmp_path / "back.bin", *key_args)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "back.bin").read_bytes() == data
    assert f"SSE {reported}".encode() in out.stdout


def test_put_from_the_json_of_s3presign_url(cli, tmp_path, bucket, key_file):
    out = cli.run("url", "PUT", f"s3://{bucket}/k", "--sse", "c", "--output", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["required_headers"] == ["x-amz-server-side-encryption-customer-key",
                                                          "x-amz-server-side-encryption-customer-key-md5"]
    (tmp_path / "put.json").write_bytes(out.stdout)
    (tmp_path / "f").write_bytes(b"hello")
    out = cli.run("put", "--from-json", tmp_path / "put.json", tmp_path / "f", "--sse-c-key-file", key_file)
    assert out.returncode == 0, out.stderr
    head = cli.endpoint.client().head_object(Bucket=bucket, Key="k", SSECustomerAlgorithm="AES256",
                                             SSECustomerKey=key_file.read_bytes())
    assert head["ContentLength"] == 5


def test_put_of_a_url_whose_signed_header_is_not_sent_sends_nothing_and_says_which_value(cli, tmp_path, bucket):
    url = cli.presign("PUT", bucket, "k", sse=SSE.kms()).url
    (tmp_path / "f").write_bytes(b"data")
    out = cli.run("put", url, tmp_path / "f")
    assert out.returncode == 1
    err = out.stderr.decode()
    assert "s3presign: error: the URL signed x-amz-server-side-encryption" in err and "nothing was sent" in err
    assert "send it as a header with value aws:kms" in err  # found with the caller's own keys (they signed it)
    assert "Traceback" not in err
    with pytest.raises(Exception) as info:
        cli.endpoint.client().head_object(Bucket=bucket, Key="k")
    assert "404" in str(info.value)
    out = cli.run("put", url, tmp_path / "f", "--header", "x-amz-server-side-encryption:aws:kms")
    assert out.returncode == 0, out.stderr
    assert cli.endpoint.client().head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "aws:kms"


def test_s3_error_is_code_message_and_a_hint_from_inspect(cli, tmp_path, bucket):
    put_json = cli.presign_json("PUT", bucket, "k", sse=SSE.kms())
    (tmp_path / "f").write_bytes(b"data")
    out = cli.run("put", "--from-json", put_json, tmp_path / "f", "--header", "x-amz-server-side-encryption:AES256")
    assert out.returncode == 1
    lines = out.stderr.decode().splitlines()
    assert lines[0].startswith("s3presign: error: SignatureDoesNotMatch: The request signature we calculated")
    assert lines[1] == ("  hint: x-amz-server-side-encryption is sent as 'AES256' but the URL signed 'aws:kms'; "
                        "S3 answers SignatureDoesNotMatch; send x-amz-server-side-encryption: aws:kms")


def test_expired_url_is_explained(cli, tmp_path, bucket):
    cli.endpoint.client().put_object(Bucket=bucket, Key="k", Body=b"x")
    url = cli.presign("GET", bucket, "k", now=1577836800, expires_in=60).url
    out = cli.run("get", url, "-o", tmp_path / "k")
    assert out.returncode == 1
    err = out.stderr.decode()
    assert err.startswith("s3presign: error: AccessDenied: Request has expired\n")
    assert "hint: the URL expired" in err and "at 2020-01-01T00:01:00Z" in err
    assert not (tmp_path / "k").exists()


def test_failed_download_never_replaces_the_existing_file(cli, tmp_path, bucket):
    target = cli.cwd / "keep.txt"
    target.write_bytes(b"precious")
    url = cli.presign("GET", bucket, "missing/keep.txt").url
    out = cli.run("get", url)  # saved under the key's last name: keep.txt
    assert out.returncode == 1
    assert out.stderr.decode().startswith("s3presign: error: NoSuchKey: The specified key does not exist.")
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in cli.cwd.iterdir()) == ["keep.txt"]  # no temporary file left


def test_download_replaces_the_file_when_complete_and_streams_to_stdout(cli, bucket):
    data = os.urandom(2 * 1024 * 1024 + 5)
    cli.endpoint.client().put_object(Bucket=bucket, Key="dir/file.bin", Body=data)
    (cli.cwd / "file.bin").write_bytes(b"old")
    url = cli.presign("GET", bucket, "dir/file.bin").url
    out = cli.run("get", url)
    assert out.returncode == 0, out.stderr
    assert (cli.cwd / "file.bin").read_bytes() == data
    assert b"MD5 verified against the ETag" in out.stdout
    out = cli.run("get", url, "-o", "-")
    assert out.returncode == 0 and out.stdout == data
    assert b"downloaded" in out.stderr


@pytest.mark.parametrize("command", ["get", "put"])
def test_a_cut_connection_is_retried_where_safe(cli, tmp_path, bucket, command):
    """GET resumes with a Range request; PUT sends the unchanged file again."""
    data = os.urandom(8 * 1024 * 1024)
    endpoint = cli.endpoint
    proxy = CuttingProxy(endpoint.port, 3 * 1024 * 1024, "down" if command == "get" else "up")
    try:
        via_proxy = Presigner(Credentials(*MAIN), endpoint.region, f"https://127.0.0.1:{proxy.port}", "path")
        if command == "get":
            endpoint.client().put_object(Bucket=bucket, Key="k", Body=data)
            out = cli.run("get", via_proxy.presign("GET", bucket, "k").url, "-o", tmp_path / "k")
            assert out.returncode == 0, out.stderr
            assert (tmp_path / "k").read_bytes() == data and b"MD5 verified" in out.stdout
        else:
            (tmp_path / "f").write_bytes(data)
            out = cli.run("put", via_proxy.presign("PUT", bucket, "k").url, tmp_path / "f")
            assert out.returncode == 0, out.stderr
            assert endpoint.client().get_object(Bucket=bucket, Key="k")["Body"].read() == data
        assert proxy.connections == 2
    finally:
        proxy.close()
    if command == "get":  # the second request asked for the rest only (the server logs it once it has sent it)
        resumed = re.compile(rf'"GET /{bucket}/k" 206 ')
        deadline = time.monotonic() + 30
        while not resumed.search(endpoint.log.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert resumed.search(endpoint.log.read_text()), endpoint.log.read_text()[-2000:]


def test_sse_c_object_needs_the_key(cli, tmp_path, bucket, key_file):
    get_json = cli.presign_json("GET", bucket, "k", sse=SSE.customer())
    out = cli.run("get", "--from-json", get_json)
    assert out.returncode == 1
    assert b"give your 32-byte key with --sse-c-key-file" in out.stderr


@pytest.mark.parametrize("case", ["missing file", "bad url", "unreadable key", "bad json", "unreachable", "wrong method",
                                  "untrusted"])
def test_bad_input_is_one_line_and_non_zero(cli, tmp_path, bucket, case):
    url = cli.presign("PUT", bucket, "k").url
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "bad.key").write_bytes(b"short")
    (tmp_path / "bad.json").write_text("{not json")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    args, expected = {
        "missing file": (["put", url, tmp_path / "nope"], "cannot read"),
        "bad url": (["put", "ftp://example.com/x", tmp_path / "f"], "is not an http(s) URL"),
        "unreadable key": (["put", url, tmp_path / "f", "--sse-c-key-file", tmp_path / "bad.key"], "must hold 32 raw bytes"),
        "bad json": (["get", "--from-json", tmp_path / "bad.json"], "is not JSON"),
        "unreachable": (["put", url.replace(f":{cli.endpoint.port}/", f":{closed}/"), tmp_path / "f", "--retries", "1"],
                        f"cannot connect to 127.0.0.1:{closed}"),  # retried once: "(after 2 attempts)"
        "wrong method": (["get", url], "signature"),
        "untrusted": (["put", url, tmp_path / "f"], "TLS: 127.0.0.1's certificate is not trusted"),
    }[case]
    out = cli.run(*args, env={"AWS_CA_BUNDLE": ""} if case == "untrusted" else None)
    assert out.returncode != 0
    err = out.stderr.decode()
    assert err.startswith("s3presign: error:") and expected in err, err
    assert "Traceback" not in err and len([l for l in err.splitlines() if not l.startswith("  hint:")]) == 1
    if case == "unreachable":
        assert err.rstrip().endswith("(after 2 attempts)")


def test_progress_bar_only_on_a_terminal(cli, tmp_path, bucket):
    (tmp_path / "f").write_bytes(os.urandom(4 * 1024 * 1024))
    url = cli.presign("PUT", bucket, "k").url
    out = cli.run("put", url, tmp_path / "f")
    assert out.returncode == 0 and out.stderr == b""  # not a terminal: no bar
    parent, child = pty.openpty()
    try:
        proc = cli.popen("put", url, tmp_path / "f", stdout=child, stderr=child)
        os.close(child)
        output = b""
        while True:
            try:
                piece = os.read(parent, 65536)
            except OSError:
                break
            if not piece:
                break
            output += piece
        assert proc.wait() == 0
    finally:
        os.close(parent)
    text = output.decode(errors="replace")
    assert "PUT f" in text and "4.0/4.0 MiB" in text and "/s" in text  # bytes, rate


@pytest.mark.parametrize("command", ["put", "get", "upload", "download", "inspect", "demo"])
def test_help_has_examples(cli, command):
    out = cli.run(command, "--help")
    assert out.returncode == 0 and b"Examples:" in out.stdout
