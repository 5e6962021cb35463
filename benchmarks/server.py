"""`s3presign serve` under load, next to moto server, in one run.

- small objects: pre-signed GET and PUT of 1 KiB objects, requests/s and
  p50/p99 latency, driven by wrk (C, not the bottleneck) over many distinct
  pre-signed URLs, against s3presign serve (one process, then --workers N) and
  moto_server on loopback ports;
- large objects: a 1 GiB pre-signed PUT and GET with curl, with the request
  naming no encryption and naming SSE-S3 (both are encrypted at rest), in MB/s,
  with the server's peak RSS for each transfer;
- ceilings: in-process AES-256-GCM (raw AESGCM, 1 MiB calls, as
  benchmarks/crypto.py) and MD5 (the ETag every PUT must compute).

Needs wrk and curl (apt-get install -y wrk curl).

    python benchmarks/server.py                  # the full run (about 3 minutes)
    python benchmarks/server.py --data-dir-parent /dev/shm   # without the disk
    python benchmarks/server.py --size-mib 256 --duration 5 --skip-moto
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crypto import raw as aes_raw  # noqa: E402  (the same ceiling benchmarks/crypto.py reports)

from s3presign import Credentials, Presigner  # noqa: E402
from s3presign.core.sse import SSE  # noqa: E402

ACCESS, SECRET = "BENCHACCESSKEY00", "bench-secret-key"
SMALL_KEYS = 200
MB = 1e6
WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local body = %(body)s
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("%(method)s", paths[i], nil, body)
end
"""


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen
    ca: str | None = None  # the CA to trust, with --tls-self-signed

    def rss_reset(self) -> None:
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set size

    def rss_peak_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024

    def client(self):
        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                            region_name="us-east-1", verify=self.ca, config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def s3presign_server(workdir: Path, data_dir: Path, workers: int = 1, tls: bool = False) -> Iterator[Server]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET}
    log = open(workdir / f"s3presign-{workers}.log", "wb")  # the access log stays on: it is part of the cost
    argv = [sys.executable, "-m", "s3presign", "serve", "--port", "0", "--workers", str(workers),
            "--data-dir", str(data_dir)] + (["--tls-self-signed"] if tls else [])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    url = re.search(r"listening on (\S+)", proc.stdout.readline()).group(1)
    ca = None
    while tls and ca is None:
        found = re.search(r"TLS: trust (\S+)", proc.stdout.readline())
        ca = found.group(1) if found else None
    name = "s3presign" if workers == 1 else f"s3presign --workers {workers}"
    try:
        yield Server(name, url, proc, ca)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@contextmanager
def moto_server() -> Iterator[Server]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield Server("moto", url, proc)
    finally:
        proc.terminate()
        proc.wait(30)


def _presign(server: Server, method: str, key: str, sse: SSE | None = None) -> tuple[str, dict]:
    signed = Presigner(Credentials(ACCESS, SECRET), endpoint_url=server.url, addressing_style="path").presign(
        method, "bench", key, sse=sse, expires_in=3600)
    return signed.url, signed.headers


def wrk(server: Server, method: str, workdir: Path, duration: int, connections: int) -> dict[str, float]:
    """requests/s and latency percentiles over SMALL_KEYS distinct pre-signed URLs."""
    paths = workdir / f"{server.name.replace(' ', '_')}-{method}.txt"
    urls = [_presign(server, method, f"small/{i:04d}")[0] for i in range(SMALL_KEYS)]
    paths.write_text("\n".join(u[len(server.url):] for u in urls) + "\n")
    script = workdir / f"{server.name.replace(' ', '_')}-{method}.lua"
    body = '"' + "x" * 1024 + '"' if method == "PUT" else "nil"
    script.write_text(WRK_SCRIPT % {"paths": paths, "body": body, "method": method})
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), server.url],
                         capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{server.name} {method}: {non_2xx.group(1)} failed requests\n{out}")

    def latency(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": latency("50"), "p99": latency("99")}


def small_objects(server: Server, workdir: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    s3 = server.client()
    for i in range(SMALL_KEYS):
        s3.put_object(Bucket="bench", Key=f"small/{i:04d}", Body=os.urandom(1024))
    wrk(server, "GET", workdir, 2, args.connections)  # warm up
    return {m: wrk(server, m, workdir, args.duration, args.connections) for m in ("GET", "PUT")}


def curl(method: str, url: str, headers: dict, path: Path, ca: str | None = None) -> float:
    """Seconds for one transfer of ``path`` (PUT) or into /dev/null (GET); ``ca``: the CA to trust."""
    argv = ["curl", "-sS", "--fail", "-o", "/dev/null", "-H", "Expect:"]
    if ca:
        argv += ["--cacert", ca]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    argv += ["-T", str(path)] if method == "PUT" else []
    start = time.perf_counter()
    subprocess.run(argv + [url], check=True)
    return time.perf_counter() - start


PLAIN_MODES = (("no SSE header", None), ("SSE-S3 header", SSE.s3()))
# Over TLS, as SSE-C requires; the KMS modes use the built-in key service's aws/s3 key.
TLS_MODES = (("SSE-KMS, TLS", SSE.kms()), ("DSSE-KMS, TLS", SSE.dsse()), ("SSE-C, TLS", SSE.customer(bytes(range(32)))))


def large_objects(server: Server, source: Path, modes=PLAIN_MODES) -> list[tuple[str, float, float]]:
    rows = []
    size = source.stat().st_size
    for label, sse in modes:
        key = f"large-{label}"
        for method in ("PUT", "GET"):
            # a read names SSE only for SSE-C (the key); the other modes are the object's own
            read_sse = sse if sse is not None and sse.is_customer else None
            url, headers = _presign(server, method, key, sse if method == "PUT" else read_sse)
            server.rss_reset()
            seconds = curl(method, url, headers, source, server.ca)
            rows.append((f"{size >> 20} MiB {method}, {label}", size / seconds / MB, server.rss_peak_mb()))
    return rows


def md5_rate(mib: int = 256) -> float:
    chunk, h = os.urandom(1 << 20), hashlib.md5()
    start = time.perf_counter()
    for _ in range(mib):
        h.update(chunk)
    return mib * (1 << 20) / (time.perf_counter() - start) / MB


def fsync_write_rate(directory: str, mib: int = 1024) -> float:
    """Sequential 1 MiB writes then one fsync, in the data dir's filesystem (a PUT's disk ceiling)."""
    chunk, path = os.urandom(1 << 20), Path(directory) / "fsync-probe"
    start = time.perf_counter()
    with open(path, "wb", buffering=0) as f:
        for _ in range(mib):
            f.write(chunk)
        os.fsync(f.fileno())
    rate = mib * (1 << 20) / (time.perf_counter() - start) / MB
    path.unlink()
    return rate


def machine() -> str:
    model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                  if l.startswith("model name")), platform.processor())
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"


def filesystem(path: str) -> str:
    """The filesystem type holding ``path`` (PUTs are fsynced, so it matters)."""
    out = subprocess.run(["df", "--output=fstype,source", path], capture_output=True, text=True).stdout.split()
    return " ".join(out[2:4]) if len(out) >= 4 else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="large object size (default 1024)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--skip-moto", action="store_true", help="do not run moto server")
    parser.add_argument("--data-dir-parent", type=Path, default=None,
                        help="where the server's data dir goes (default: the temp dir); e.g. /dev/shm to "
                             "measure the server without the disk (every PUT is fsynced)")
    parser.add_argument("--skip-large", action="store_true", help="skip the large-object transfers")
    parser.add_argument("--skip-tls", action="store_true", help="skip SSE-KMS, DSSE-KMS and SSE-C over TLS")
    parser.add_argument("--workers", type=int, default=2,
                        help="also run the small-object test with this many server processes (default 2; 1: skip)")
    args = parser.parse_args()
    for tool in ("wrk", "curl"):
        if shutil.which(tool) is None:
            sys.exit(f"benchmarks/server.py needs {tool}: apt-get install -y {tool}")

    with tempfile.TemporaryDirectory(prefix="s3presign-bench-") as tmp, \
            tempfile.TemporaryDirectory(prefix="s3presign-bench-data-", dir=args.data_dir_parent) as data:
        workdir, fs = Path(tmp), filesystem(data)
        disk = fsync_write_rate(data, min(args.size_mib, 1024))
        results: dict[str, dict] = {}
        large: list[tuple[str, float, float]] = []
        with s3presign_server(workdir, Path(data)) as ours:
            ours.client().create_bucket(Bucket="bench")
            results["s3presign"] = small_objects(ours, workdir, args)
            if not args.skip_large:
                source = workdir / "large.bin"
                with open(source, "wb") as f:
                    for _ in range(args.size_mib):
                        f.write(os.urandom(1 << 20))
                large = large_objects(ours, source)
                if not args.skip_tls:
                    with s3presign_server(workdir, Path(data) / "tls", tls=True) as secure:
                        s3 = secure.client()
                        s3.create_bucket(Bucket="bench")
                        # A new bucket blocks SSE-C writes, as on AWS since April 2026: unblock it as an owner would.
                        s3.put_bucket_encryption(Bucket="bench", ServerSideEncryptionConfiguration={"Rules": [{
                            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                            "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]})
                        large += large_objects(secure, source, TLS_MODES)
                source.unlink()
        if args.workers > 1:
            with s3presign_server(workdir, Path(data), args.workers) as ours:
                results[ours.name] = small_objects(ours, workdir, args)
        if not args.skip_moto:
            with moto_server() as moto:
                moto.client().create_bucket(Bucket="bench")
                results["moto"] = small_objects(moto, workdir, args)

    aes_enc, aes_dec = (r * (1 << 20) / MB for r in aes_raw(256, 3, os.urandom(1 << 20)))
    md5 = md5_rate()
    print(f"# s3presign serve benchmark\n\n{machine()}\ndata dir on: {fs}\n")
    print(f"Small objects: 1 KiB, {SMALL_KEYS} distinct pre-signed URLs, wrk -t1 -c{args.connections} -d{args.duration}s\n")
    print("| request | server | req/s | p50 ms | p99 ms |\n|---|---|---:|---:|---:|")
    for method in ("GET", "PUT"):
        for name, by_method in results.items():
            r = by_method[method]
            print(f"| presigned {method} | {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} |")
    if "moto" in results:
        print()
        for name in (n for n in results if n != "moto"):
            for method in ("GET", "PUT"):
                ratio = results[name][method]["rps"] / results["moto"][method]["rps"]
                print(f"presigned {method}: {name} / moto = {ratio:.1f}x")
    if large:
        print(f"\nLarge objects: {args.size_mib} MiB with curl (every object is stored encrypted)\n")
        print("| transfer | MB/s | % of AES-256-GCM | server peak RSS MB |\n|---|---:|---:|---:|")
        for label, rate, rss in large:
            ceiling = aes_enc if "PUT" in label else aes_dec
            print(f"| {label} | {rate:.0f} | {rate / ceiling:.0%} | {rss:.0f} |")
    print("\nCeilings, in process, one core\n")
    print(f"| AES-256-GCM encrypt (1 MiB calls) | {aes_enc:.0f} MB/s |\n| AES-256-GCM decrypt | {aes_dec:.0f} MB/s |")
    print(f"| MD5 (the ETag of every PUT) | {md5:.0f} MB/s |")
    print(f"| fsync'd sequential write, data dir ({fs}) | {disk:.0f} MB/s |")
    print(f"| min(MD5, fsync'd write): a PUT's ceiling | {min(md5, disk):.0f} MB/s |")


if __name__ == "__main__":
    main()
