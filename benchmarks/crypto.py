"""In-process AES-256-GCM throughput: raw AESGCM calls vs the server's sio format.

Streams SIZE MiB (default 1 GiB) in 1 MiB chunks. "raw" is one AESGCM call per
1 MiB chunk (the ceiling); "sio" is the on-disk format (64 KiB packages, nonce
per sequence number, final flag) driven through its streaming API exactly as
the server drives it. Decryption replays a 64 MiB encrypted stream until SIZE
is reached, so memory stays small. Each figure is the best of --runs.

    python benchmarks/crypto.py            # 1 GiB
    python benchmarks/crypto.py --size 256 --runs 5
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3presign.server import sio

CHUNK = 1 << 20
UNIT = 64  # MiB per encrypted stream replayed for decryption


def _best(runs: int, work: Callable[[], None], mib: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return mib / best


def raw(mib: int, runs: int, chunk: bytes) -> tuple[float, float]:
    aead = AESGCM(os.urandom(32))
    nonces = [i.to_bytes(12, "big") for i in range(mib)]
    sealed = aead.encrypt(nonces[0], chunk, None)

    def encrypt() -> None:
        for nonce in nonces:
            aead.encrypt(nonce, chunk, None)

    def decrypt() -> None:
        for _ in range(mib):
            aead.decrypt(nonces[0], sealed, None)

    return _best(runs, encrypt, mib), _best(runs, decrypt, mib)


def sio_rates(mib: int, runs: int, chunk: bytes, layer_count: int) -> tuple[float, float]:
    layers = [sio.Layer(os.urandom(32), os.urandom(12)) for _ in range(layer_count)]

    def encrypt() -> None:
        enc = sio.Encryptor(layers)
        for _ in range(mib):
            enc.update(chunk)
        enc.finish()

    enc = sio.Encryptor(layers)
    unit = min(UNIT, mib)
    stored = b"".join(enc.update(chunk) for _ in range(unit)) + enc.finish()
    pieces = [stored[i:i + CHUNK] for i in range(0, len(stored), CHUNK)]
    plain_size = unit * CHUNK

    def decrypt() -> None:
        for _ in range(mib // unit):
            dec = sio.Decryptor(layers, plain_size, 0, plain_size - 1)
            for piece in pieces:
                dec.feed(piece)
            dec.close()

    return _best(runs, encrypt, mib), _best(runs, decrypt, mib // unit * unit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="MiB to stream (default 1024)")
    parser.add_argument("--runs", type=int, default=3, help="best of N runs (default 3)")
    args = parser.parse_args()
    chunk = os.urandom(CHUNK)
    raw_enc, raw_dec = raw(args.size, args.runs, chunk)
    rows = [("raw AESGCM, 1 MiB calls", raw_enc, raw_dec)]
    rows.append(("sio SSE-S3/KMS/SSE-C (1 layer)", *sio_rates(args.size, args.runs, chunk, 1)))
    rows.append(("sio DSSE-KMS (2 layers)", *sio_rates(args.size, args.runs, chunk, 2)))
    print(f"AES-256-GCM in process, {args.size} MiB in 1 MiB chunks, best of {args.runs}")
    print(f"{'':32} {'encrypt MB/s':>13} {'% raw':>6} {'decrypt MB/s':>13} {'% raw':>6}")
    for name, enc, dec in rows:
        # MB/s in decimal megabytes, as throughput is usually quoted
        e, d = enc * CHUNK / 1e6, dec * CHUNK / 1e6
        print(f"{name:32} {e:13.0f} {enc / raw_enc:6.0%} {d:13.0f} {dec / raw_dec:6.0%}")


if __name__ == "__main__":
    main()
