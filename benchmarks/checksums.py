"""Flexible-checksum throughput, in process: the server's hashers (server/checksums.py)
fed 1 MiB chunks, as a request body arrives; alternatives for comparison; and the cost
of a multipart FULL_OBJECT combination (awscrt's CRC combine) per part.

    python benchmarks/checksums.py                 # 256 MiB, best of 3
    python benchmarks/checksums.py --size 1024 --runs 5
"""

from __future__ import annotations

import argparse
import os
import time
import zlib
from typing import Callable

from s3presign.server import checksums

CHUNK = 1 << 20


def _best(runs: int, work: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def server_hasher(algorithm: str, chunk: bytes, n: int) -> Callable[[], None]:
    def work() -> None:
        h = checksums.new(algorithm)
        for _ in range(n):
            h.update(chunk)  # type: ignore[attr-defined]
        h.digest()  # type: ignore[attr-defined]
    return work


def alternative(fn: Callable[[bytes, int], int], chunk: bytes, n: int) -> Callable[[], None]:
    def work() -> None:
        v = 0
        for _ in range(n):
            v = fn(chunk, v)
    return work


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256, help="MiB hashed per run")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    chunk = os.urandom(CHUNK)
    n = args.size
    mb = n * CHUNK / 1e6

    print(f"{args.size} MiB in 1 MiB chunks, best of {args.runs} (MB/s, one core)")
    for algorithm in checksums.ALGORITHMS:
        t = _best(args.runs, server_hasher(algorithm, chunk, n))
        print(f"  server {algorithm:<10} {mb / t:9.0f}")

    from awscrt import checksums as crt

    alternatives: dict[str, Callable[[bytes, int], int]] = {
        "awscrt crc32": crt.crc32,
        "zlib crc32": zlib.crc32,
        "awscrt crc32c": crt.crc32c,
        "crc32c pkg": checksums._crc32c or checksums.crc32c_table,
        "awscrt crc64nvme": crt.crc64nvme,
    }
    for name, fn in alternatives.items():
        t = _best(args.runs, alternative(fn, chunk, n))
        print(f"  {name:<17} {mb / t:9.0f}")

    # FULL_OBJECT at CompleteMultipartUpload: one combine per part, 10,000 parts of 5 MiB.
    parts = [(os.urandom(8), 5 << 20)] * 10_000
    for algorithm in ("CRC32", "CRC32C", "CRC64NVME"):
        size = checksums.ALGORITHMS[algorithm][1]
        p = [(d[:size], n) for d, n in parts]
        t = _best(args.runs, lambda: checksums.full_object(algorithm, p))
        print(f"  FULL_OBJECT {algorithm:<10} 10,000 parts combined in {t * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
