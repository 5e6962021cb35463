"""The distributed shape under load (issue 10 §7), in one run.

deploy/stack.sh brings up PostgreSQL, Ceph RGW (memstore OSD), 3 `s3presign serve`
instances and HAProxy on loopback (plain HTTP, to compare with RGW's own HTTP). Then:

- 1 KiB pre-signed GET and PUT, req/s with p50/p99 (wrk over 200 distinct URLs), through
  HAProxy with 1, 2 and 3 instances in rotation (`haproxy.sh reload`), against RGW
  direct (pre-signed with RGW's keys), and against the embedded server (SQLite + files,
  one process), all in this run;
- CPU seconds per request of each component during each of those runs, from
  /proc/PID/stat (utime + stime of the process and its descendants): the instances,
  HAProxy, PostgreSQL (postmaster + backends), RGW (radosgw, ceph-osd, ceph-mon);
- a 1 GiB SSE-KMS PUT and GET through HAProxy with curl, MB/s, with every instance's
  peak RSS (VmHWM, reset before each transfer);
- a 1000-key ListObjectsV2 page (pre-signed, fetched whole with httpx) through HAProxy and
  the instances on a bucket of 100k keys (``--list-keys``), beside RGW direct's on a bucket
  of ``--rgw-list-keys``.

The 100k keys of the stack's listing bucket are loaded through the metadata fast path
(``Metadata.load_versions``, as ``s3presign`` migrates an embedded data dir): one real
object is PUT through HAProxy, then its authenticated record is sealed again under each
new key with the deployment's record key (derived from the master key, as the instances
do) and inserted 10,000 rows per transaction. Every row is what a PUT would commit,
except that all of them name the template's one blob, so they are for listing (their
GETs would fail authentication: the envelope is bound to the template's key). RGW's
bucket is filled by PutObject from 16 threads.

Needs wrk, curl, haproxy, postgresql, radosgw ceph-mon ceph-osd ceph-common.

    python benchmarks/scale.py                       # about 3 minutes
    python benchmarks/scale.py --duration 5 --size-mib 256
    python benchmarks/scale.py --workers 2           # 2 processes per instance
    python benchmarks/scale.py --list-keys 0         # no listing part
    python benchmarks/scale.py --large-only          # the 1 GiB PUT/GET and RSS only, ~1 minute
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

from s3presign import Credentials, Presigner
from s3presign.core.sse import SSE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import WRK_SCRIPT, curl, machine  # noqa: E402  (shared with the serving benchmark)

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
ACCESS, SECRET = "BENCHSCALEKEY000", "bench-scale-secret-key"
SMALL_KEYS = 200
MB = 1e6
TICK = os.sysconf("SC_CLK_TCK")


# --- CPU accounting -------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def cpu_seconds(roots: list[int]) -> float:
    """CPU seconds used so far by these processes and all their live descendants."""
    tree, seen, total, todo = _children(), set(), 0, list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _cpu_ticks(pid)
        todo += tree.get(pid, [])
    return total / TICK


def descendants(roots: list[int]) -> list[int]:
    tree, out, todo = _children(), [], list(roots)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += tree.get(pid, [])
    return out


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024


def reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM


# --- targets --------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    creds: Credentials
    bucket: str
    components: dict[str, list[int]] = field(default_factory=dict)  # name -> root pids (CPU accounting)

    def client(self):
        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=self.creds.access_key,
                            aws_secret_access_key=self.creds.secret_key, region_name="us-east-1",
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                          request_checksum_calculation="when_required",
                                          response_checksum_validation="when_required"))

    def presign(self, method: str, key: str, sse: SSE | None = None) -> tuple[str, dict]:
        signed = Presigner(self.creds, endpoint_url=self.url, addressing_style="path").presign(
            method, self.bucket, key, sse=sse, expires_in=3600)
        return signed.url, signed.headers


def wrk(target: Target, method: str, workdir: Path, duration: int, connections: int) -> dict[str, float]:
    """req/s, latency percentiles and CPU seconds per request of each component."""
    stem = re.sub(r"\W+", "_", target.name) + "-" + method
    paths = workdir / f"{stem}.txt"
    urls = [target.presign(method, f"small/{i:04d}")[0] for i in range(SMALL_KEYS)]
    paths.write_text("\n".join(u[len(target.url):] for u in urls) + "\n")
    script = workdir / f"{stem}.lua"
    script.write_text(WRK_SCRIPT % {"paths": paths, "body": '"' + "x" * 1024 + '"' if method == "PUT" else "nil",
                                    "method": method})
    before = {name: cpu_seconds(pids) for name, pids in target.components.items()}
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
                          target.url], capture_output=True, text=True, check=True).stdout
    after = {name: cpu_seconds(pids) for name, pids in target.components.items()}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{target.name} {method}: {bad.group(1)} failed requests\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))

    def latency(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency("50"),
            "p99": latency("99"), "requests": requests,
            "cpu": {name: (after[name] - before[name]) / max(requests, 1) for name in after}}


def fill(target: Target) -> None:
    s3 = target.client()
    for i in range(SMALL_KEYS):
        s3.put_object(Bucket=target.bucket, Key=f"small/{i:04d}", Body=os.urandom(1024))


def fill_listing_fast(stack_dir: Path, env: dict[str, str], target: Target, bucket: str, count: int) -> None:
    """``count`` keys list/000000... in ``bucket`` through the metadata fast path (see the
    module's docstring): rows sealed with the deployment's record key, loaded in batches."""
    from dataclasses import replace

    from s3presign.core.sse import decode_key_file
    from s3presign.server.encryption import Encryption
    from s3presign.server.metadata import Metadata, PostgreSQL
    from s3presign.server.storage import NULL, Storage

    s3 = target.client()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="list/template", Body=os.urandom(1024))
    master = decode_key_file((stack_dir / "master.key").read_bytes())
    record_key = Encryption(stack_dir / "loader", master).record_key()
    meta = Metadata(PostgreSQL(env["PG_URL"]))
    storage = Storage(meta, None, record_key)  # type: ignore[arg-type]  (no blob is read)
    template = storage.head(bucket, "list/template")
    with meta.tx() as t:  # the template is replaced by the first loaded key
        storage.meta.delete_version(t, meta.current(bucket, "list/template", t)[0])
    batch = 10000
    for start in range(0, count, batch):
        rows = []
        for i in range(start, min(start + batch, count)):
            m = replace(template, key=f"list/{i:06d}", version_id=NULL)
            record, mac, names = storage._sealed(bucket, m)
            rows.append((bucket, m.key, NULL, 1, record, mac, names))
        with meta.tx() as t:
            meta.load_versions(t, rows)
    with meta.tx() as t:
        t.execute("ANALYZE versions")
    meta.close()


def fill_listing_puts(target: Target, bucket: str, count: int) -> None:
    s3 = target.client()
    s3.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"list/{i:06d}", Body=b"x"), range(count)))


def list_pages(target: Target, bucket: str, count: int, rounds: int = 20) -> dict[str, float]:
    """ms for one 1000-key ListObjectsV2 page (pre-signed GET, body read whole): the first
    page and pages starting at evenly spread keys, fetched one after another."""
    s3 = target.client()
    starts = [None] + [i * count // rounds for i in range(1, rounds)]
    times = []
    with httpx.Client(timeout=60) as http:
        for _ in range(2):  # the first pass warms connections and caches
            times = []
            for after in starts:
                params = {"Bucket": bucket, "Prefix": "list/", "MaxKeys": 1000}
                if after is not None:
                    params["StartAfter"] = f"list/{after:06d}"
                url = s3.generate_presigned_url("list_objects_v2", Params=params, ExpiresIn=600)
                t0 = time.perf_counter()
                response = http.get(url)
                times.append((time.perf_counter() - t0) * 1e3)
                if response.status_code != 200 or response.content.count(b"<Key>") != min(1000, count - (after or -1) - 1):
                    raise RuntimeError(f"{target.name} listing: {response.status_code} {response.text[:300]}")
    times.sort()
    return {"keys": count, "p50": statistics.median(times), "p90": times[int(len(times) * 0.9) - 1],
            "max": times[-1]}


def env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def start_stack(directory: Path, workers: int) -> dict[str, str]:
    users = directory.parent / "bench-users.ini"
    users.write_text(f"[bench]\naws_access_key_id = {ACCESS}\naws_secret_access_key = {SECRET}\n")
    env = {**os.environ, "PYTHON": sys.executable, "STACK_CREDENTIALS": str(users), "STACK_WORKERS": str(workers)}
    subprocess.run([str(DEPLOY / "stack.sh"), "start", str(directory), "3"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=400)
    return env_file(directory / "env")


def rotate(directory: Path, backends: list[str]) -> None:
    """HAProxy with these instances only (a seamless reload), once it sees them up."""
    subprocess.run([str(DEPLOY / "haproxy.sh"), "reload", str(directory / "lb"), *backends], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    time.sleep(2.5)  # the old process finishes; the new one's checks pass


def embedded(workdir: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "s3presign", "serve", "--port", "0", "--no-access-log",
                             "--data-dir", str(workdir / "embedded")], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, text=True)
    url = re.search(r"listening on (\S+)", proc.stdout.readline()).group(1)
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run (default 8)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--size-mib", type=int, default=1024, help="large object size (default 1024; 0: skip)")
    parser.add_argument("--workers", type=int, default=1, help="processes per instance (default 1)")
    parser.add_argument("--list-keys", type=int, default=100_000,
                        help="keys of the stack's listing bucket (default 100000; 0: skip the listing)")
    parser.add_argument("--rgw-list-keys", type=int, default=20_000,
                        help="keys of RGW direct's listing bucket, PUT one by one (default 20000)")
    parser.add_argument("--large-only", action="store_true",
                        help="only the large-object PUT and GET (no wrk runs, listing or embedded server)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    for tool in ("wrk", "curl", "haproxy"):
        if shutil.which(tool) is None:
            sys.exit(f"benchmarks/scale.py needs {tool}: apt-get install -y {tool}")

    tmp = Path(tempfile.mkdtemp(prefix="s3presign-scale-", dir="/tmp"))
    os.chmod(tmp, 0o755)  # PostgreSQL (as user postgres under root) must enter it
    stack_dir = tmp / "stack"
    results: dict[str, dict] = {}
    large: list[tuple[str, float, list[float]]] = []
    listing: dict[str, dict] = {}
    started = time.monotonic()
    embedded_proc = None
    try:
        env = start_stack(stack_dir, args.workers)
        instances = env["INSTANCES"].split(",")
        pids = [int(line.split()[1]) for line in (stack_dir / "instances.pids").read_text().splitlines()]
        rgw_pids = {line.split()[0]: int(line.split()[1]) for line in (stack_dir / "rgw" / "pids").read_text().splitlines()}
        haproxy = lambda: [int((stack_dir / "lb" / "haproxy.pid").read_text())]  # noqa: E731 (a reload replaces it)
        postgres = [int((stack_dir / "pg" / "data" / "postmaster.pid").read_text().split()[0])]
        rgw = json.loads((stack_dir / "rgw" / "env.json").read_text())
        creds = Credentials(ACCESS, SECRET)
        lb = Target("HAProxy", env["S3_ENDPOINT"], creds, "bench")
        lb.client().create_bucket(Bucket="bench")
        if not args.large_only:
            fill(lb)
            for n in (1, 2, 3):
                rotate(stack_dir, instances[:n])
                lb.name = f"HAProxy + {n} instance{'s' if n > 1 else ''}"
                lb.components = {"instances": pids[:n], "HAProxy": haproxy(), "PostgreSQL": postgres,
                                 "RGW": [rgw_pids["rgw.a"], rgw_pids["osd.0"], rgw_pids["mon.a"]]}
                wrk(lb, "GET", tmp, 2, args.connections)  # warm up: connections, caches
                results[lb.name] = {m: wrk(lb, m, tmp, args.duration, args.connections) for m in ("GET", "PUT")}
            direct = Target("RGW direct", rgw["RGW_ENDPOINT"], Credentials(rgw["RGW_ACCESS_KEY"], rgw["RGW_SECRET_KEY"]),
                            "bench-direct", {"RGW": [rgw_pids["rgw.a"], rgw_pids["osd.0"], rgw_pids["mon.a"]]})
            direct.client().create_bucket(Bucket="bench-direct")
            fill(direct)
            wrk(direct, "GET", tmp, 2, args.connections)
            results[direct.name] = {m: wrk(direct, m, tmp, args.duration, args.connections) for m in ("GET", "PUT")}
            if args.list_keys:
                rotate(stack_dir, instances[:2])
                lb.name = "HAProxy + 2 instances"
                loaded = time.monotonic()
                fill_listing_fast(stack_dir, env, lb, "bench-list", args.list_keys)
                print(f"[scale] {args.list_keys} keys loaded in {time.monotonic() - loaded:.0f} s", file=sys.stderr)
                listing[lb.name] = list_pages(lb, "bench-list", args.list_keys)
                fill_listing_puts(direct, "bench-list-direct", args.rgw_list_keys)
                listing[direct.name] = list_pages(direct, "bench-list-direct", args.rgw_list_keys)
            embedded_proc, url = embedded(tmp)
            alone = Target("embedded (SQLite + files)", url, creds, "bench", {"instances": [embedded_proc.pid]})
            alone.client().create_bucket(Bucket="bench")
            fill(alone)
            wrk(alone, "GET", tmp, 2, args.connections)
            results[alone.name] = {m: wrk(alone, m, tmp, args.duration, args.connections) for m in ("GET", "PUT")}
            embedded_proc.send_signal(signal.SIGTERM)
            embedded_proc.wait(30)
            embedded_proc = None

        if args.size_mib:
            rotate(stack_dir, instances)
            lb.name = "HAProxy + 3 instances"
            source = tmp / "large.bin"
            with open(source, "wb") as f:
                for _ in range(args.size_mib):
                    f.write(os.urandom(1 << 20))
            processes = descendants(pids)
            for method in ("PUT", "GET"):
                url, headers = lb.presign(method, "large-kms", SSE.kms() if method == "PUT" else None)
                for pid in processes:
                    reset_peak(pid)
                seconds = curl(method, url, headers, source)
                large.append((f"{args.size_mib} MiB {method}, SSE-KMS", source.stat().st_size / seconds / MB,
                              [peak_rss_mb(pid) for pid in processes]))
            source.unlink()
    finally:
        if embedded_proc is not None:
            embedded_proc.kill()
        subprocess.run([str(DEPLOY / "stack.sh"), "stop", str(stack_dir)], capture_output=True, timeout=300)
        shutil.rmtree(tmp, ignore_errors=True)

    per = f", --workers {args.workers} per instance" if args.workers > 1 else ""
    print(f"# s3presign distributed shape benchmark\n\n{machine()}\n"
          f"HAProxy {subprocess.run(['haproxy', '-v'], capture_output=True, text=True).stdout.split()[2]}, "
          f"PostgreSQL + Ceph RGW (memstore OSD), plain HTTP on loopback{per}; "
          f"run took {time.monotonic() - started:.0f} s\n")
    if results:
        print(f"1 KiB objects, {SMALL_KEYS} distinct pre-signed URLs, wrk -t1 -c{args.connections} -d{args.duration}s\n")
        print("| request | target | req/s | p50 ms | p99 ms |\n|---|---|---:|---:|---:|")
        for method in ("GET", "PUT"):
            for name, by_method in results.items():
                r = by_method[method]
                print(f"| pre-signed {method} | {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} |")
        two, rgw_rate = results.get("HAProxy + 2 instances"), results.get("RGW direct")
        if two and rgw_rate:
            print(f"\n2 instances / RGW direct, GET: {two['GET']['rps'] / rgw_rate['GET']['rps']:.2f}x")
        print("\nCPU milliseconds per request, by component (utime + stime from /proc, descendants included)\n")
        names = ["instances", "HAProxy", "PostgreSQL", "RGW"]
        print("| request | target | " + " | ".join(names) + " | total |\n|---|---|" + "---:|" * (len(names) + 1))
        for method in ("GET", "PUT"):
            for name, by_method in results.items():
                cpu = by_method[method]["cpu"]
                cells = [f"{cpu[c] * 1e3:.2f}" if c in cpu else "-" for c in names]
                print(f"| {method} | {name} | " + " | ".join(cells) + f" | {sum(cpu.values()) * 1e3:.2f} |")
    if large:
        print("\nLarge object through HAProxy (3 instances), curl\n")
        print("| transfer | MB/s | peak RSS per instance process, MB |\n|---|---:|---|")
        for label, rate, rss in large:
            print(f"| {label} | {rate:.0f} | {', '.join(f'{r:.0f}' for r in rss)} |")
    if listing:
        print("\nListObjectsV2, one 1000-key page (pre-signed, body read whole), 20 pages spread over the bucket\n")
        print("| target | keys in bucket | p50 ms | p90 ms | max ms |\n|---|---:|---:|---:|---:|")
        for name, r in listing.items():
            print(f"| {name} | {r['keys']} | {r['p50']:.1f} | {r['p90']:.1f} | {r['max']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "large": large, "listing": listing}, indent=1))


if __name__ == "__main__":
    main()
