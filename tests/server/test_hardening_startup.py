"""Operator mistakes are caught at start-up: one line naming the fix, a non-zero
exit, nothing printed as "listening". Plus what every start does (debris
cleaned, files private) and what a running server keeps up (workers, the
access log's operation names)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import CREDENTIALS_FILE, start_server


def _serve(tmp_path: Path, *args: str, data: Path | None = None) -> subprocess.CompletedProcess:
    creds = tmp_path / "creds.ini"
    if not creds.exists():
        creds.write_text(CREDENTIALS_FILE)
    argv = [sys.executable, "-m", "s3presign", "serve", "--port", "0",
            "--data-dir", str(data or tmp_path / "data"), "--credentials", str(creds), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def _refused(out: subprocess.CompletedProcess, *words: str) -> str:
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "listening" not in out.stdout and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("s3presign: error: "), out.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _key(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(32))
    return path


# --- the master key ---------------------------------------------------------------------------


def test_wrong_master_key_file_is_refused(tmp_path):
    good, bad = _key(tmp_path, "good.key"), _key(tmp_path, "bad.key")
    server = start_server(tmp_path / "data", "--master-key-file", str(good))
    server.client().create_bucket(Bucket="kept")
    server.client().put_object(Bucket="kept", Key="o", Body=b"under the good key")
    server.stop()
    _refused(_serve(tmp_path, "--master-key-file", str(bad)), "--master-key-file", "master key")
    again = start_server(tmp_path / "data", "--master-key-file", str(good))
    try:
        assert again.client().get_object(Bucket="kept", Key="o")["Body"].read() == b"under the good key"
    finally:
        again.stop()


def test_master_key_file_on_a_data_dir_made_with_its_own_key_is_refused(tmp_path):
    start_server(tmp_path / "data").stop()
    _refused(_serve(tmp_path, "--master-key-file", str(_key(tmp_path, "other.key"))), "--master-key-file")


def test_kms_command_refuses_the_wrong_master_key(tmp_path):
    start_server(tmp_path / "data").stop()
    out = subprocess.run([sys.executable, "-m", "s3presign", "kms", "list-keys", "--data-dir", str(tmp_path / "data"),
                          "--master-key-file", str(_key(tmp_path, "other.key"))], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "master key" in out.stderr


def test_kms_refusals_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "s3presign", "kms", "create-key", "--alias", "bad alias!",
                          "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr and out.stderr.startswith("s3presign: error: ")
    out = subprocess.run([sys.executable, "-m", "s3presign", "kms", "disable-key", "alias/nope",
                          "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr


# --- the data dir -------------------------------------------------------------------------------


def test_buckets_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "buckets").write_text("not a dir")
    _refused(_serve(tmp_path), "buckets", "not a directory")


def test_bucket_without_its_objects_dir_is_refused(tmp_path):
    start_server(tmp_path / "data").stop()
    bucket = tmp_path / "data" / "buckets" / "b1"
    bucket.mkdir(parents=True)
    (bucket / "objects").write_text("oops")
    _refused(_serve(tmp_path), "objects", "not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any directory")
def test_unreadable_buckets_dir_is_refused(tmp_path):
    start_server(tmp_path / "data").stop()
    os.chmod(tmp_path / "data" / "buckets", 0)
    try:
        _refused(_serve(tmp_path), "buckets", "chmod")
    finally:
        os.chmod(tmp_path / "data" / "buckets", 0o700)


def test_data_dir_in_use_is_refused(tmp_path):
    first = start_server(tmp_path / "data")
    try:
        _refused(_serve(tmp_path), "in use", f"pid {first.proc.pid}")
    finally:
        first.stop()
    start_server(tmp_path / "data").stop()  # free again once the first has stopped


def test_crash_debris_is_cleaned_at_every_start(tmp_path):
    server = start_server(tmp_path / "data")
    server.client().create_bucket(Bucket="deb")
    server.stop()
    data = tmp_path / "data"
    junk = [data / "buckets" / "deb" / "tmp" / "half-written.123", data / ".s3presign" / "keys" / ".kms.json.abc.tmp"]
    for path in junk:
        path.write_bytes(b"debris")  # fresh: the old one-hour rule would have kept them
    (data / "buckets" / ".new-x-1234").mkdir()
    start_server(data).stop()
    assert not any(p.exists() for p in junk)
    assert not (data / "buckets" / ".new-x-1234").exists()


def test_files_under_the_data_dir_are_private(tmp_path):
    server = start_server(tmp_path / "data")
    try:
        s3 = server.client()
        s3.create_bucket(Bucket="priv")
        s3.put_object(Bucket="priv", Key="o", Body=b"x", ServerSideEncryption="aws:kms")
    finally:
        server.stop()
    loose = []
    for root, dirs, files in os.walk(tmp_path / "data"):
        for name in dirs + files:
            mode = stat.S_IMODE(os.lstat(os.path.join(root, name)).st_mode)
            if mode & 0o077:
                loose.append((os.path.join(root, name), oct(mode)))
    assert loose == []


# --- users and TLS ---------------------------------------------------------------------------------


def test_duplicate_access_key_in_credentials_is_refused(tmp_path):
    (tmp_path / "creds.ini").write_text(CREDENTIALS_FILE + "\n[again]\naws_access_key_id = AKIDMAINUSER0000\n"
                                        "aws_secret_access_key = another\n")
    _refused(_serve(tmp_path), "AKIDMAINUSER0000", "[main]", "[again]")


def _pem_pair(tmp_path: Path) -> tuple[Path, Path]:
    from s3presign.server.tls import make_self_signed

    cert, key, _ = make_self_signed(tmp_path / "tls")
    return cert, key


def test_tls_cert_that_is_not_pem_names_the_file(tmp_path):
    _, key = _pem_pair(tmp_path)
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    _refused(_serve(tmp_path, "--tls-cert", str(bad), "--tls-key", str(key)), "--tls-cert", str(bad))


def test_tls_key_that_is_not_pem_names_the_file(tmp_path):
    cert, _ = _pem_pair(tmp_path)
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    _refused(_serve(tmp_path, "--tls-cert", str(cert), "--tls-key", str(bad)), "--tls-key", str(bad))


def test_tls_key_of_another_certificate_is_refused(tmp_path):
    cert, _ = _pem_pair(tmp_path)
    from s3presign.server.tls import make_self_signed

    _, other_key, _ = make_self_signed(tmp_path / "other", ["other.test"])
    _refused(_serve(tmp_path, "--tls-cert", str(cert), "--tls-key", str(other_key)), "does not match", str(cert))


def test_missing_tls_file_is_refused(tmp_path):
    cert, _ = _pem_pair(tmp_path)
    _refused(_serve(tmp_path, "--tls-cert", str(cert), "--tls-key", str(tmp_path / "nope.key")), "cannot read", "nope.key")


def test_connection_limit_above_the_open_file_limit_is_refused(tmp_path):
    _refused(_serve(tmp_path, "--max-connections", str(10**9)), "--max-connections")


# --- workers --------------------------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        pytest.skip("ps is not installed")
    return {int(x) for x in out.stdout.split()}


def _count(pid: int, n: int) -> set[int] | None:
    children = _children(pid)
    return children if len(children) == n else None


def _wait_for(predicate, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_dead_worker_is_replaced(tmp_path):
    server = start_server(tmp_path / "data", "--workers", "2")
    try:
        workers = _wait_for(lambda: _count(server.proc.pid, 2))
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        replaced = _wait_for(lambda: (c := _count(server.proc.pid, 2)) and victim not in c and c)
        assert victim not in replaced
        for _ in range(6):  # whichever worker answers, it serves
            assert server.client().list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert "died" in server.log.read_text()
    finally:
        assert server.stop() == 0


def test_workers_that_keep_dying_make_the_parent_fail(tmp_path):
    server = start_server(tmp_path / "data", "--workers", "2")
    try:
        killed: set[int] = set()
        deadline = time.monotonic() + 30
        while server.proc.poll() is None and time.monotonic() < deadline:
            for pid in _children(server.proc.pid) - killed:
                killed.add(pid)
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        assert server.proc.wait(20) != 0
        assert "keep dying" in server.log.read_text()
    finally:
        server.stop()


# --- the access log ----------------------------------------------------------------------------------


def test_access_log_names_the_operation(tmp_path):
    server = start_server(tmp_path / "data")
    try:
        s3 = server.client()
        s3.create_bucket(Bucket="logged")
        s3.list_objects_v2(Bucket="logged", Prefix="secret-prefix")
        upload = s3.create_multipart_upload(Bucket="logged", Key="mp")["UploadId"]
        s3.upload_part(Bucket="logged", Key="mp", UploadId=upload, PartNumber=1, Body=b"part")
        try:
            s3.get_bucket_versioning(Bucket="logged")
        except Exception:
            pass
        s3.get_object(Bucket="logged", Key="nope") if False else None
    finally:
        server.stop()
    log = server.log.read_text()
    assert '"GET /logged" 200 - ' in log
    assert '"POST /logged/mp?uploads" 200' in log
    assert '"PUT /logged/mp?partNumber&uploadId" 200' in log
    assert '"GET /logged?versioning" 200 - ' in log  # the sub-resource named, its values never
    assert "secret-prefix" not in log and upload not in log
    line = next(l for l in log.splitlines() if "?partNumber&uploadId" in l)
    assert line.split()[-2].endswith("ms")
