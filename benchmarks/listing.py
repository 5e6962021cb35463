"""Storage v2 figures, in one run:

- ListObjectsV2 page latency (1000 keys per page, through the HTTP API with boto3)
  at 1k, 10k, 100k and 1M keys. The metadata is filled directly
  (Storage.load: real authenticated records), the page is measured through a real
  `s3presign serve`; optionally against a Ceph RGW in the same run
  (--rgw-endpoint/--rgw-access-key/--rgw-secret-key; filled with PUTs, up to
  --rgw-max-keys keys: an RGW has no back door);
- CompleteMultipartUpload time of a --multipart-gib GiB upload (parts of 128 MiB).

    python benchmarks/listing.py                          # 1k..1M keys, 2 GiB completion
    python benchmarks/listing.py --sizes 1000,10000 --multipart-gib 0
    python benchmarks/listing.py --rgw-endpoint http://127.0.0.1:PORT --rgw-access-key K --rgw-secret-key S
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import boto3
from botocore.config import Config

from s3presign.server.encryption import Encryption
from s3presign.server.storage import ObjectMeta, open_storage

ACCESS, SECRET = "BENCHACCESSKEY00", "bench-secret-key"
BUCKET = "listing"
PAGES = 15


def _client(url: str, access: str, secret: str):
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=access, aws_secret_access_key=secret,
                        region_name="us-east-1",
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                      max_pool_connections=32, retries={"max_attempts": 2}))


def _key(i: int) -> str:
    return f"data/{i % 97:02d}/object-{i:09d}.bin"


def fill(data_dir: Path, count: int) -> float:
    """``count`` current versions written straight into the metadata; seconds taken."""
    started = time.monotonic()
    enc = Encryption(data_dir)
    storage = open_storage(data_dir, enc.record_key())
    storage.create_bucket(BUCKET, "us-east-1")
    now = time.time()
    batch = 50_000
    for start in range(0, count, batch):
        storage.load(BUCKET, [
            ObjectMeta(key=_key(i), size=1024, etag="d41d8cd98f00b204e9800998ecf8427e", last_modified=now,
                       envelope={"v": 1, "mode": "AES256"}, blobs=[[f"{i:032x}", 1056]])
            for i in range(start, min(count, start + batch))
        ])
    storage.meta.close()
    return time.monotonic() - started


@contextmanager
def serve(data_dir: Path) -> Iterator[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET}
    # no start-up sweep over fake blob names would matter here: the blob dir is empty
    proc = subprocess.Popen([sys.executable, "-m", "s3presign", "serve", "--port", "0", "--no-access-log",
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env, text=True)
    url = re.search(r"listening on (\S+)", proc.stdout.readline()).group(1)
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def page_ms(s3, bucket: str, count: int) -> tuple[float, float]:
    """(median, p90) ms of full 1000-key ListObjectsV2 pages starting at spread-out keys."""
    ordered = sorted(_key(i) for i in range(count))
    starts = [""] + [ordered[int((count - 1001) * n / PAGES)] for n in range(1, PAGES)] if count > 1001 else [""] * PAGES
    s3.list_objects_v2(Bucket=bucket, MaxKeys=1000)  # warm the connection
    times = []
    for after in starts:
        t = time.perf_counter()
        got = s3.list_objects_v2(Bucket=bucket, MaxKeys=1000, StartAfter=after)
        times.append((time.perf_counter() - t) * 1000)
        assert got["KeyCount"] == min(1000, count)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1]


def rgw_listing(args: argparse.Namespace, sizes: list[int]) -> list[tuple[int, float, float]]:
    s3 = _client(args.rgw_endpoint, args.rgw_access_key, args.rgw_secret_key)
    bucket = f"listing-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    out, have = [], 0
    pool = ThreadPoolExecutor(16)
    for size in sizes:
        if size > args.rgw_max_keys:
            break
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=_key(i), Body=b""), range(have, size)))
        have = size
        out.append((size, *page_ms(s3, bucket, size)))
    return out


def multipart_completion(url: str, gib: float) -> tuple[float, int]:
    s3 = _client(url, ACCESS, SECRET)
    s3.create_bucket(Bucket="multipart")
    part = os.urandom(128 << 20)
    count = max(1, int(gib * 8))
    upload = s3.create_multipart_upload(Bucket="multipart", Key="big")["UploadId"]
    etags = [s3.upload_part(Bucket="multipart", Key="big", UploadId=upload, PartNumber=n, Body=part)["ETag"]
             for n in range(1, count + 1)]
    t = time.perf_counter()
    s3.complete_multipart_upload(Bucket="multipart", Key="big", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    took = time.perf_counter() - t
    head = s3.head_object(Bucket="multipart", Key="big")
    assert head["ContentLength"] == count * len(part)
    return took, count * len(part)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--data-dir-parent", default=None, help="where the data dirs go (default: a temp dir)")
    parser.add_argument("--multipart-gib", type=float, default=2.0)
    parser.add_argument("--rgw-endpoint")
    parser.add_argument("--rgw-access-key")
    parser.add_argument("--rgw-secret-key")
    parser.add_argument("--rgw-max-keys", type=int, default=10_000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"ListObjectsV2, 1000-key page, boto3, median/p90 of {PAGES} pages at spread-out StartAfter")
    results = []
    with tempfile.TemporaryDirectory(dir=args.data_dir_parent) as tmp:
        for size in sizes:
            data = Path(tmp) / f"d{size}"
            filled = fill(data, size)
            with serve(data) as url:
                median, p90 = page_ms(_client(url, ACCESS, SECRET), BUCKET, size)
            results.append((size, median, p90))
            print(f"  s3presign {size:>9,} keys: {median:7.1f} ms (p90 {p90:.1f})   [filled in {filled:.1f} s]",
                  flush=True)
        if results:
            print(f"  ratio largest/smallest: {results[-1][1] / results[0][1]:.2f}")
        if args.rgw_endpoint:
            for size, median, p90 in rgw_listing(args, sizes):
                print(f"  ceph rgw  {size:>9,} keys: {median:7.1f} ms (p90 {p90:.1f})", flush=True)
        if args.multipart_gib:
            data = Path(tmp) / "mp"
            data.mkdir()
            with serve(data) as url:
                took, size = multipart_completion(url, args.multipart_gib)
            print(f"CompleteMultipartUpload of {size / 2**30:.1f} GiB ({size // (128 << 20)} parts): "
                  f"{took * 1000:.1f} ms")


if __name__ == "__main__":
    main()
