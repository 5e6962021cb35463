"""Storage v2 figures, in one run:

- ListObjectsV2 page latency (1000 keys per page, through the HTTP API) at 1k,
  10k, 100k and 1M keys. The metadata is filled directly (Storage.load: real
  authenticated records), the page is fetched from a real `s3presign serve`, two
  ways: by boto3 (what a user sees, parsing included) and by plain HTTP of a
  pre-signed URL (the server's own time: request to last byte). Against a Ceph RGW
  in the same run (--rgw starts one with deploy/rgw.sh, or name one with
  --rgw-endpoint/--rgw-access-key/--rgw-secret-key; filled with PUTs up to
  --rgw-max-keys keys: an RGW has no back door). Pages of both servers alternate,
  so a busy machine slows both alike;
- CompleteMultipartUpload time of a --multipart-gib GiB upload (parts of 128 MiB).

    python benchmarks/listing.py --rgw                    # 1k..1M keys, RGW up to 10k, 2 GiB completion
    python benchmarks/listing.py --sizes 1000,10000 --multipart-gib 0 --rgw
    python benchmarks/listing.py --rgw-endpoint http://127.0.0.1:PORT --rgw-access-key K --rgw-secret-key S
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import boto3
import httpx
from botocore.config import Config

from s3presign import Credentials, Presigner
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


def _starts(count: int, pages: int) -> list[str]:
    """StartAfter values spread over the bucket, each leaving a full page after it."""
    if count <= 1001:
        return [""] * pages
    ordered = sorted(_key(i) for i in range(count))
    return [""] + [ordered[int((count - 1001) * n / pages)] for n in range(1, pages)]


class Target:
    """One server's bucket, listed by boto3 and by plain HTTP of a pre-signed URL."""

    def __init__(self, name: str, url: str, access: str, secret: str, bucket: str) -> None:
        self.name, self.bucket = name, bucket
        self.s3 = _client(url, access, secret)
        self.signer = Presigner(Credentials(access, secret), endpoint_url=url, addressing_style="path")
        self.http = httpx.Client(timeout=60)
        self.boto: list[float] = []
        self.raw: list[float] = []

    def page(self, after: str, count: int) -> None:
        t = time.perf_counter()
        got = self.s3.list_objects_v2(Bucket=self.bucket, MaxKeys=1000, StartAfter=after)
        self.boto.append((time.perf_counter() - t) * 1000)
        assert got["KeyCount"] == min(1000, count)
        url = self.signer.presign_list_objects(self.bucket, max_keys=1000, start_after=after or None).url
        t = time.perf_counter()
        answer = self.http.get(url)
        self.raw.append((time.perf_counter() - t) * 1000)
        assert answer.status_code == 200 and answer.content.count(b"<Key>") == min(1000, count)

    def summary(self) -> tuple[float, float, float, float]:
        """(boto3 median, boto3 p90, plain HTTP median, plain HTTP fastest) in ms."""
        boto = sorted(self.boto)
        return statistics.median(boto), boto[int(len(boto) * 0.9) - 1], statistics.median(self.raw), min(self.raw)


def measure(targets: list[Target], count: int, pages: int) -> None:
    """Alternate the targets page by page over the same StartAfter values."""
    for t in targets:
        t.page("", count)  # warm the connections
        t.boto.clear()
        t.raw.clear()
    for after in _starts(count, pages):
        for t in targets:
            t.page(after, count)


class Rgw:
    """The RGW side: a bucket filled by PUTs as the sizes grow."""

    def __init__(self, endpoint: str, access: str, secret: str, max_keys: int) -> None:
        self.endpoint, self.access, self.secret, self.max_keys = endpoint, access, secret, max_keys
        self.s3 = _client(endpoint, access, secret)
        self.bucket = f"listing-{os.getpid()}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.have = 0
        self.pool = ThreadPoolExecutor(16)

    def target(self, size: int) -> Target | None:
        if size > self.max_keys:
            return None
        list(self.pool.map(lambda i: self.s3.put_object(Bucket=self.bucket, Key=_key(i), Body=b""),
                           range(self.have, size)))
        self.have = size
        return Target("ceph rgw", self.endpoint, self.access, self.secret, self.bucket)


@contextmanager
def started_rgw(parent: str | None) -> Iterator[dict[str, str]]:
    """A throw-away single-node Ceph cluster (deploy/rgw.sh), stopped afterwards."""
    script = Path(__file__).resolve().parent.parent / "deploy" / "rgw.sh"
    with tempfile.TemporaryDirectory(prefix="rgw-", dir=parent) as directory:
        subprocess.run([str(script), "start", directory], check=True, capture_output=True, timeout=300)
        try:
            yield dict(line.split("=", 1) for line in (Path(directory) / "env").read_text().split())
        finally:
            subprocess.run([str(script), "stop", directory], capture_output=True, timeout=120)


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
    parser.add_argument("--rgw", action="store_true", help="start a Ceph RGW (deploy/rgw.sh) for the comparison")
    parser.add_argument("--rgw-endpoint")
    parser.add_argument("--rgw-access-key")
    parser.add_argument("--rgw-secret-key")
    parser.add_argument("--rgw-max-keys", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=PAGES, help=f"pages per size and server (default {PAGES})")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.rgw and not args.rgw_endpoint:
            env = stack.enter_context(started_rgw(args.data_dir_parent))
            args.rgw_endpoint, args.rgw_access_key, args.rgw_secret_key = (
                env["RGW_ENDPOINT"], env["RGW_ACCESS_KEY"], env["RGW_SECRET_KEY"])
        run(args)


def run(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    rgw = Rgw(args.rgw_endpoint, args.rgw_access_key, args.rgw_secret_key, args.rgw_max_keys) \
        if args.rgw_endpoint else None
    print(f"ListObjectsV2, 1000-key page, {args.pages} pages at spread-out StartAfter, servers alternating page by "
          f"page;\nboto3 median / p90, and plain HTTP (pre-signed URL, request to last byte) median / fastest, ms")
    ours_by_size = {}
    with tempfile.TemporaryDirectory(dir=args.data_dir_parent) as tmp:
        for size in sizes:
            data = Path(tmp) / f"d{size}"
            filled = fill(data, size)
            theirs = rgw.target(size) if rgw is not None else None
            with serve(data) as url:
                ours = Target("s3presign", url, ACCESS, SECRET, BUCKET)
                targets = [ours] + ([theirs] if theirs is not None else [])
                measure(targets, size, args.pages)
            ours_by_size[size] = ours.summary()
            for t in targets:
                median, p90, raw, fastest = t.summary()
                note = f"   [filled in {filled:.1f} s]" if t is ours else ""
                print(f"  {t.name:<9} {size:>9,} keys: boto3 {median:7.1f} ms (p90 {p90:6.1f})   "
                      f"HTTP {raw:6.1f} ms (fastest {fastest:5.1f}){note}", flush=True)
            shutil.rmtree(data, ignore_errors=True)
        if len(ours_by_size) > 1:
            first, last = ours_by_size[sizes[0]], ours_by_size[sizes[-1]]
            print(f"  s3presign {sizes[-1]:,} / {sizes[0]:,} keys: boto3 {last[0] / first[0]:.2f}x, "
                  f"HTTP {last[2] / first[2]:.2f}x (fastest {last[3] / first[3]:.2f}x)")
        if args.multipart_gib:
            data = Path(tmp) / "mp"
            data.mkdir()
            with serve(data) as url:
                took, size = multipart_completion(url, args.multipart_gib)
            print(f"CompleteMultipartUpload of {size / 2**30:.1f} GiB ({size // (128 << 20)} parts): "
                  f"{took * 1000:.1f} ms")


if __name__ == "__main__":
    main()
