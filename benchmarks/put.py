"""1 GiB SSE-S3 PUT against its ceilings, measured in the same run, on disk and on tmpfs.

A PUT must compute the MD5 of the plaintext (the ETag), encrypt it (AES-256-GCM)
and make it durable (fsync), so its ceiling is min(MD5 rate on one core,
fsync'd sequential write rate of the data dir's disk). Each PUT is one pre-signed
URL sent by curl from a file on tmpfs (so reading the source costs no disk), with
``x-amz-server-side-encryption: AES256``; the server's peak RSS is reported too,
and its CPU time per GiB (all threads, then the event loop's thread alone), which
other load on the machine distorts far less than the wall-clock rate.

    python benchmarks/put.py                           # 1 GiB, data dir on the temp dir's disk and on /dev/shm
    python benchmarks/put.py --size-mib 256 --rounds 3 --disk-parent /var/tmp
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crypto import raw as aes_raw  # noqa: E402
from server import MB, filesystem, fsync_write_rate, md5_rate, s3presign_server  # noqa: E402

from s3presign import Credentials, Presigner  # noqa: E402
from s3presign.core.sse import SSE  # noqa: E402

ACCESS, SECRET = "BENCHACCESSKEY00", "bench-secret-key"


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(all threads, the main thread) CPU seconds of process ``pid``, user + system."""
    tick = os.sysconf("SC_CLK_TCK")

    def of(stat: str) -> float:
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    return of(Path(f"/proc/{pid}/stat").read_text()), of(Path(f"/proc/{pid}/task/{pid}/stat").read_text())


def put_rate(url: str, source: Path, server) -> tuple[float, float, float, float]:
    """MB/s, peak RSS MB, and CPU seconds per GiB (all threads, the event loop's) of one PUT."""
    signed = Presigner(Credentials(ACCESS, SECRET), endpoint_url=url, addressing_style="path").presign(
        "PUT", "bench", f"large-{time.monotonic_ns()}", sse=SSE.s3(), expires_in=3600)
    argv = ["curl", "-sS", "--fail", "-o", "/dev/null", "-H", "Expect:"]
    for name, value in signed.headers.items():
        argv += ["-H", f"{name}: {value}"]
    server.rss_reset()
    cpu0, loop0 = _cpu_seconds(server.proc.pid)
    start = time.perf_counter()
    subprocess.run(argv + ["-T", str(source), signed.url], check=True)
    seconds = time.perf_counter() - start
    cpu1, loop1 = _cpu_seconds(server.proc.pid)
    gib = source.stat().st_size / (1 << 30)
    return source.stat().st_size / seconds / MB, server.rss_peak_mb(), (cpu1 - cpu0) / gib, (loop1 - loop0) / gib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3, help="PUTs per place (the median is reported)")
    parser.add_argument("--disk-parent", default=None, help="a directory on the disk (default: the temp dir)")
    parser.add_argument("--tmpfs-parent", default="/dev/shm")
    args = parser.parse_args()
    if shutil.which("curl") is None:
        sys.exit("benchmarks/put.py needs curl: apt-get install -y curl")
    rows = []
    with tempfile.TemporaryDirectory(prefix="s3presign-put-", dir=args.tmpfs_parent) as src_dir:
        source = Path(src_dir) / "large.bin"
        with open(source, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        for place, parent in (("disk", args.disk_parent), ("tmpfs", args.tmpfs_parent)):
            with tempfile.TemporaryDirectory(prefix="s3presign-put-data-", dir=parent) as data, \
                    tempfile.TemporaryDirectory(prefix="s3presign-put-work-") as work:
                fs = filesystem(data)
                disk = fsync_write_rate(data, min(args.size_mib, 1024))
                md5 = md5_rate()
                with s3presign_server(Path(work), Path(data) / "d") as server:
                    server.client().create_bucket(Bucket="bench")
                    runs = [put_rate(server.url, source, server) for _ in range(args.rounds)]
                md5 = statistics.median([md5, md5_rate()])
                rate = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[2] for r in runs), statistics.median(r[3] for r in runs)
                rows.append((place, fs, rate, [r[0] for r in runs], max(r[1] for r in runs), md5, disk, cpu))
    aes_enc = aes_raw(256, 3, os.urandom(1 << 20))[0] * (1 << 20) / MB
    print(f"{args.size_mib} MiB SSE-S3 PUT (curl, pre-signed), median of {args.rounds}; "
          f"AES-256-GCM encrypt {aes_enc:.0f} MB/s in process\n")
    print("| data dir | PUT MB/s | runs | MD5 MB/s | fsync'd write MB/s | ceiling min(MD5, write) | PUT / ceiling "
          "| PUT / MD5 | peak RSS MB | server CPU-s/GiB (loop) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for place, fs, rate, runs, rss, md5, disk, (cpu, loop_cpu) in rows:
        ceiling = min(md5, disk)
        print(f"| {place} ({fs}) | {rate:.0f} | {' / '.join(f'{r:.0f}' for r in runs)} | {md5:.0f} | {disk:.0f} "
              f"| {ceiling:.0f} | {rate / ceiling:.0%} | {rate / md5:.0%} | {rss:.0f} | {cpu:.2f} ({loop_cpu:.2f}) |")
    print(f"\nmachine load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
