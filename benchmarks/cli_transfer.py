"""The CLI moving 1 GiB: throughput and the CLI process's peak RSS.

Starts `s3presign serve` (a subprocess, HTTPS with a self-signed CA unless
--http) on a free loopback port, writes a SIZE MiB file of random bytes, then
runs, each as its own CLI process (as a user would):

    upload    s3presign upload s3://bench/obj FILE     (multipart, parts in parallel)
    download  s3presign download s3://bench/obj -o OUT
    put       s3presign put URL FILE                   (one pre-signed PUT)
    get       s3presign get URL -o OUT

and reports MB/s (10^6 bytes per second, wall clock of the CLI process,
start-up included) and the CLI process's peak RSS (its VmHWM). The
client and the server share this machine's cores. Every download is compared
with the file.

    python benchmarks/cli_transfer.py              # 1 GiB over HTTPS
    python benchmarks/cli_transfer.py --http --size 256 --sse kms
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MiB = 1024 * 1024
CREDENTIALS = ("AKIDBENCHMARK0000", "benchmark/secret")


def start_server(work: Path, tls: bool) -> tuple[subprocess.Popen, str, str | None]:
    creds = work / "credentials"
    creds.write_text(f"[bench]\naws_access_key_id = {CREDENTIALS[0]}\naws_secret_access_key = {CREDENTIALS[1]}\n")
    argv = [sys.executable, "-m", "s3presign", "serve", "--port", "0", "--data-dir", str(work / "data"),
            "--credentials", str(creds), "--no-access-log", *(["--tls-self-signed"] if tls else [])]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    banner = ""
    while "users:" not in banner:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise SystemExit(f"the server did not start: {banner}")
        banner += line
    url = re.search(r"listening on (\S+)", banner).group(1)  # type: ignore[union-attr]
    ca = re.search(r"TLS: trust (\S+)", banner)
    return proc, url, ca.group(1) if ca else None


def _hwm(pid: int) -> int:
    """The process's peak resident set so far (VmHWM; bytes), 0 if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of one CLI process.

    The peak is VmHWM, sampled until the process ends (os.wait4's ru_maxrss would
    count the pages of this big parent process that the child had before exec)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "s3presign", *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=err)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _hwm(proc.pid))
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"s3presign {' '.join(args[:2])} failed: {err.read().decode()}")
    return seconds, peak


def make_file(path: Path, mib: int) -> None:
    block = os.urandom(16 * MiB)
    with open(path, "wb") as f:
        for i in range(0, mib, 16):
            f.write(block[: min(16, mib - i) * MiB])
            block = block[1:] + block[:1]  # not the same 16 MiB twice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1024, help="MiB to move (default 1024)")
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument("--sse", default="none", help="SSE mode for upload (none, s3, kms, dsse)")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="s3presign-bench-"))
    server = None
    try:
        server, url, ca = start_server(work, tls=not args.http)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=CREDENTIALS[0], AWS_SECRET_ACCESS_KEY=CREDENTIALS[1], AWS_ENDPOINT_URL=url,
                   AWS_REGION="us-east-1", HOME=str(work), **({"AWS_CA_BUNDLE": ca} if ca else {}))
        from s3presign import Credentials, Presigner

        presigner = Presigner(Credentials(*CREDENTIALS), "us-east-1", url, "path")
        _create_bucket(url, ca)
        src = work / "src.bin"
        make_file(src, args.size)
        size = args.size * MiB
        print(f"{args.size} MiB, {'HTTP' if args.http else 'HTTPS'}, SSE {args.sse}, server {url}")
        print(f"{'command':<10}{'MB/s':>9}{'peak RSS':>12}")
        rows = []
        seconds, rss = run_cli(["upload", "s3://bench/obj", str(src), "--sse", args.sse,
                                   "--concurrency", str(args.concurrency)], env)
        rows.append(("upload", seconds, rss))
        seconds, rss = run_cli(["download", "s3://bench/obj", "-o", str(work / "down.bin")], env)
        rows.append(("download", seconds, rss))
        _same(src, work / "down.bin")
        put = presigner.presign("PUT", "bench", "single").url
        seconds, rss = run_cli(["put", put, str(src)], env)
        rows.append(("put", seconds, rss))
        get = presigner.presign("GET", "bench", "single").url
        seconds, rss = run_cli(["get", get, "-o", str(work / "got.bin")], env)
        rows.append(("get", seconds, rss))
        _same(src, work / "got.bin")
        for name, seconds, rss in rows:
            print(f"{name:<10}{size / seconds / 1e6:>9.1f}{rss / MiB:>9.1f} MiB")
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        shutil.rmtree(work, ignore_errors=True)


def _create_bucket(url: str, ca: str | None) -> None:
    """CreateBucket through boto3 (a test dependency: run from a checkout with '.[test]')."""
    import boto3
    from botocore.config import Config

    boto3.client("s3", endpoint_url=url, aws_access_key_id=CREDENTIALS[0], aws_secret_access_key=CREDENTIALS[1],
                 region_name="us-east-1", verify=ca if ca else True,
                 config=Config(s3={"addressing_style": "path"})).create_bucket(Bucket="bench")


def _same(a: Path, b: Path) -> None:
    if not filecmp.cmp(a, b, shallow=False):
        raise SystemExit(f"{b} differs from {a}")
    b.unlink()


if __name__ == "__main__":
    main()
