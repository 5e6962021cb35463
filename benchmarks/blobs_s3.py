"""server.blobs_s3 against Ceph RGW: streamed blob write and read MB/s, vs boto3 on the same RGW.

Starts a throw-away RGW with deploy/rgw.sh (or uses a running one: --rgw-env DIR/env.json),
then moves SIZE MiB of random bytes through S3BlobStore (8 MiB parts, one part in flight)
and through boto3's transfer manager (its defaults: 8 MiB parts, 10 threads) for reference.
MB/s = 10^6 bytes per second of wall clock; the client and RGW share this machine's cores.

    python benchmarks/blobs_s3.py               # 256 MiB
    python benchmarks/blobs_s3.py --size 1024 --rgw-env /tmp/rgw/env.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="MiB per blob (default 256)")
    ap.add_argument("--rgw-env", help="env.json of a running deploy/rgw.sh cluster")
    args = ap.parse_args()

    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    from s3presign.core.credentials import Credentials
    from s3presign.server.blobs_s3 import S3BlobConfig, S3BlobStore

    tmp = None
    if args.rgw_env:
        env = json.loads(Path(args.rgw_env).read_text())
    else:
        tmp = tempfile.mkdtemp(prefix="bench-rgw-")
        t0 = time.monotonic()
        out = subprocess.run([str(ROOT / "deploy" / "rgw.sh"), "start", tmp], capture_output=True, text=True,
                             check=True).stdout
        env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        print(f"rgw.sh start: {time.monotonic() - t0:.1f} s")
    try:
        s3 = boto3.client("s3", endpoint_url=env["RGW_ENDPOINT"], aws_access_key_id=env["RGW_ACCESS_KEY"],
                          aws_secret_access_key=env["RGW_SECRET_KEY"], region_name="us-east-1",
                          config=Config(request_checksum_calculation="when_required",
                                        response_checksum_validation="when_required"))
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        store = S3BlobStore(S3BlobConfig(env["RGW_ENDPOINT"], bucket,
                                         Credentials(env["RGW_ACCESS_KEY"], env["RGW_SECRET_KEY"]), prefix="b/"))
        size = args.size * MiB
        piece = os.urandom(MiB)

        t0 = time.perf_counter()
        writer = store.create()
        for _ in range(args.size):
            writer.write(piece)
        writer.commit()
        w = size / (time.perf_counter() - t0) / 1e6
        t0 = time.perf_counter()
        got = sum(len(c) for c in store.open(writer.name).read(0, size))
        r = size / (time.perf_counter() - t0) / 1e6
        assert got == size

        data = piece * args.size
        t0 = time.perf_counter()
        s3.upload_fileobj(io.BytesIO(data), bucket, "boto3-object", Config=TransferConfig())
        bw = size / (time.perf_counter() - t0) / 1e6
        sink = io.BytesIO()
        t0 = time.perf_counter()
        s3.download_fileobj(bucket, "boto3-object", sink, Config=TransferConfig())
        br = size / (time.perf_counter() - t0) / 1e6
        print(f"{args.size} MiB  S3BlobStore write {w:7.1f} MB/s  read {r:7.1f} MB/s   "
              f"(boto3 transfer manager: upload {bw:7.1f} MB/s  download {br:7.1f} MB/s)")
    finally:
        if tmp:
            subprocess.run([str(ROOT / "deploy" / "rgw.sh"), "stop", tmp], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
