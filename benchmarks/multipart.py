"""A large multipart upload through pre-signed part URLs: the server's peak memory.

Starts `s3presign serve`, uploads SIZE bytes (2 GiB by default) as a
pre-signed multipart upload (parts streamed by httpx from a generator, several
at a time), completes it, downloads it through a pre-signed GET and checks its
MD5, then reports the server's peak resident set size (VmHWM) and throughput.
The bar (issue 5): peak RSS <= 150 MB for 2 GiB.

    python benchmarks/multipart.py                       # 2 GiB, SSE-S3
    python benchmarks/multipart.py --sse kms --size-mib 512
    python benchmarks/multipart.py --sse c               # SSE-C (key supplied per request)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import boto3
import httpx
from botocore.config import Config

from s3presign import SSE, Credentials, Presigner

ACCESS, SECRET = "BENCHACCESSKEY00", "bench-secret-key"
MiB = 1 << 20
BLOCK = os.urandom(MiB)
CUSTOMER_KEY = os.urandom(32)


def part_bytes(number: int, size: int) -> Iterator[bytes]:
    """A part's content, generated 1 MiB at a time (different for every MiB)."""
    sent, i = 0, 0
    while sent < size:
        n = min(MiB, size - sent)
        yield (number.to_bytes(4, "big") + i.to_bytes(4, "big") + BLOCK[8:])[:n]
        sent += n
        i += 1


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def start(data_dir: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "s3presign", "serve", "--port", "0", "--data-dir", str(data_dir),
         "--allow-insecure-ssec", "--no-access-log"],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    line = proc.stdout.readline()
    match = re.search(r"listening on (\S+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"server did not start: {line}")
    return proc, match.group(1)


def headers(request, sse: SSE | None) -> dict[str, str]:
    return request.headers_with_key(CUSTOMER_KEY) if request.required_headers else dict(request.headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--part-mib", type=int, default=64)
    parser.add_argument("--parallel", type=int, default=4, help="parts in flight at once")
    parser.add_argument("--sse", default="s3", help="none | s3 | kms | dsse | c")
    args = parser.parse_args()
    sse = SSE.parse(args.sse)
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="s3presign-mp-") as tmp:
        proc, url = start(Path(tmp) / "data")
        try:
            s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                              region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
            s3.create_bucket(Bucket="bench")
            base_rss = peak_rss_mb(proc.pid)
            presigner = Presigner(Credentials(ACCESS, SECRET), endpoint_url=url, addressing_style="path")
            plan = presigner.presign_multipart("bench", "big.bin", size=size, part_size=args.part_mib * MiB, sse=sse)
            client = httpx.Client(timeout=600, limits=httpx.Limits(max_connections=args.parallel))
            started = time.perf_counter()
            created = client.post(plan.create.url, headers=headers(plan.create, sse))
            upload_id = re.search(rb"<UploadId>(.+?)</UploadId>", created.content).group(1).decode()
            plan = plan.for_upload(upload_id)

            def send(part) -> tuple[int, str, bytes]:
                md5 = hashlib.md5()
                for chunk in part_bytes(part.part_number, part.size):
                    md5.update(chunk)
                sent = client.put(part.request.url, headers={**headers(part.request, sse),
                                  "content-length": str(part.size)},
                                  content=part_bytes(part.part_number, part.size))
                assert sent.status_code == 200, sent.text
                return part.part_number, sent.headers["etag"], md5.digest()

            with ThreadPoolExecutor(args.parallel) as pool:
                results = list(pool.map(send, plan.parts))
            uploaded = time.perf_counter()
            body = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e, _ in results)
            done = client.post(plan.complete.url, headers=headers(plan.complete, sse),
                               content=f"<CompleteMultipartUpload>{body}</CompleteMultipartUpload>")
            assert done.status_code == 200, done.text
            completed = time.perf_counter()
            expected = hashlib.md5()
            for part in plan.parts:
                for chunk in part_bytes(part.part_number, part.size):
                    expected.update(chunk)
            get = presigner.presign("GET", "bench", "big.bin", sse=sse)
            got = hashlib.md5()
            received = 0
            with client.stream("GET", get.url, headers=headers(get, sse)) as response:
                assert response.status_code == 200
                for chunk in response.iter_bytes(MiB):
                    got.update(chunk)
                    received += len(chunk)
            downloaded = time.perf_counter()
            assert received == size and got.digest() == expected.digest(), "downloaded bytes differ"
            peak = peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    mb = size / 1e6
    print(f"multipart upload of {args.size_mib} MiB in {len(plan.parts)} parts of {args.part_mib} MiB, "
          f"{args.parallel} at a time, SSE {args.sse}")
    print(f"  upload   {mb / (uploaded - started):7.0f} MB/s  ({uploaded - started:.1f} s)")
    print(f"  complete {completed - uploaded:7.1f} s")
    print(f"  download {mb / (downloaded - completed):7.0f} MB/s  (MD5 verified)")
    print(f"  server RSS: {base_rss:.0f} MB idle, {peak:.0f} MB peak (bar: <= 150 MB)")
    if peak > 150:
        raise SystemExit("peak RSS over the 150 MB bar")


if __name__ == "__main__":
    main()
