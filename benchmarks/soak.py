"""`s3presign serve` hardened: a soak at the default limits, and what the checks cost.

- soak: wrk drives pre-signed GETs of 1 KiB objects for --soak seconds against
  one server at its default limits (timeouts, connection limit, send buffer);
  reports req/s, p50/p99 latency, the error rate (non-2xx responses and socket
  errors over all requests) and the server's resident memory before and after;
- cost: the same 1 KiB pre-signed GET req/s (and the server's CPU time per
  request, which a busy shared machine disturbs far less) against the code of another git
  revision ("before", default ``main``, exported with ``git archive``) and this
  tree ("after"), side by side: --rounds alternating runs of --duration seconds
  each, so that both see the same machine; the medians are compared.

Needs wrk (apt-get install -y wrk) and git.

    python benchmarks/soak.py                        # 60 s soak + 3 x 10 s per side
    python benchmarks/soak.py --soak 20 --duration 5 --rounds 5
    python benchmarks/soak.py --before-rev HEAD~3 --skip-soak
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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import boto3
from botocore.config import Config

from s3presign import Credentials, Presigner

ACCESS, SECRET = "SOAKACCESSKEY000", "soak-secret-key"
KEYS = 200
ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


@contextmanager
def server(workdir: Path, name: str, src: Path | None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`s3presign serve` from ``src`` (a tree's src/ dir; None: the installed one)."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    log = open(workdir / f"{name}.log", "wb")  # the access log stays on: it is part of the cost
    argv = [sys.executable, "-m", "s3presign", "serve", "--port", "0", "--data-dir", str(workdir / f"{name}-data")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, env=env, text=True, cwd=workdir)
    line = proc.stdout.readline()
    found = re.search(r"listening on (\S+)", line)
    if not found:
        proc.kill()
        raise RuntimeError(f"{name} did not start: {line}{(workdir / f'{name}.log').read_text()}")
    try:
        yield found.group(1), proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def prepare(url: str, workdir: Path, name: str) -> Path:
    """Upload the objects; write the wrk script over KEYS distinct pre-signed URLs."""
    s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                      region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="soak")
    presigner = Presigner(Credentials(ACCESS, SECRET), endpoint_url=url, addressing_style="path")
    paths = workdir / f"{name}-paths.txt"
    lines = []
    for i in range(KEYS):
        s3.put_object(Bucket="soak", Key=f"k/{i:04d}", Body=os.urandom(1024))
        lines.append(presigner.presign("GET", "soak", f"k/{i:04d}", expires_in=6 * 3600).url[len(url):])
    paths.write_text("\n".join(lines) + "\n")
    script = workdir / f"{name}.lua"
    script.write_text(WRK_SCRIPT % {"paths": paths})
    return script


def wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)

    def latency(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency("50"),
            "p99": latency("99"), "requests": total, "errors": errors}


def cpu_seconds(proc: subprocess.Popen) -> float:
    """User + system CPU the server process has used (robust to a busy machine,
    unlike req/s: other load slows the clock, not the work per request)."""
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(proc: subprocess.Popen) -> float:
    status = Path(f"/proc/{proc.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def export(rev: str, into: Path) -> Path:
    """The src/ tree of a git revision, for the "before" server."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soak", type=int, default=60, help="seconds of the soak [60]")
    parser.add_argument("--duration", type=int, default=10, help="seconds per before/after round [10]")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side [3]")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--before-rev", default="main", help="git revision of the 'before' code [main]")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--skip-compare", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s3presign-soak-") as tmp:
        workdir = Path(tmp)
        if not args.skip_soak:
            with server(workdir, "soak", None) as (url, proc):
                script = prepare(url, workdir, "soak")
                wrk(url, script, 2, args.connections)  # warm up
                before = rss_mb(proc)
                r = wrk(url, script, args.soak, args.connections)
                after = rss_mb(proc)
            rate = r["errors"] / max(1, r["requests"])
            print(f"soak, default limits, {args.soak} s, {args.connections} connections, 1 KiB pre-signed GET:")
            print(f"  {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, "
                  f"errors {r['errors']}/{r['requests']} ({rate:.4%}), RSS {before:.1f} -> {after:.1f} MB")
        if not args.skip_compare:
            src = export(args.before_rev, workdir)
            sides = {"before": src, "after": None}
            rps: dict[str, list[float]] = {name: [] for name in sides}
            cpu_us: dict[str, list[float]] = {name: [] for name in sides}
            with server(workdir, "before", src) as (before_url, before_proc), \
                    server(workdir, "after", None) as (after_url, after_proc):
                urls = {"before": before_url, "after": after_url}
                procs = {"before": before_proc, "after": after_proc}
                scripts = {name: prepare(urls[name], workdir, name) for name in sides}
                for name in sides:
                    wrk(urls[name], scripts[name], 2, args.connections)  # warm up
                for i in range(args.rounds):
                    order = list(sides) if i % 2 == 0 else list(sides)[::-1]
                    for name in order:
                        used = cpu_seconds(procs[name])
                        result = wrk(urls[name], scripts[name], args.duration, args.connections)
                        used = cpu_seconds(procs[name]) - used
                        if result["errors"]:
                            raise RuntimeError(f"{name}: {result['errors']} failed requests")
                        rps[name].append(result["rps"])
                        cpu_us[name].append(used / result["requests"] * 1e6)
                        time.sleep(1)
            med = {name: statistics.median(v) for name, v in rps.items()}
            cpu = {name: statistics.median(v) for name, v in cpu_us.items()}
            print(f"1 KiB pre-signed GET, {args.rounds} alternating rounds of {args.duration} s, "
                  f"{args.connections} connections (before = {args.before_rev}):")
            for name in sides:
                print(f"  {name:6}: median {med[name]:.0f} req/s, {cpu[name]:.0f} us CPU/request  "
                      f"(rounds: {', '.join(f'{x:.0f}' for x in rps[name])} req/s; "
                      f"{', '.join(f'{x:.0f}' for x in cpu_us[name])} us)")
            print(f"  after / before: {med['after'] / med['before']:.3f} in req/s, "
                  f"{cpu['after'] / cpu['before']:.3f} in server CPU per request")


if __name__ == "__main__":
    main()
