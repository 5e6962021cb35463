"""Small-object GET: this checkout against another one (the baseline), side by side.

Two measurements, each over interleaved rounds (baseline, current, then current,
baseline, ...) so that the machine's drift touches both alike; the figure is the
median of the rounds:

- over HTTP: both servers run at once (``s3presign serve``, one process each, access
  log on, as benchmarks/server.py), wrk drives each in turn with 1 KiB GETs over 200
  distinct keys, pre-signed (SigV4 query auth) and header-signed (SigV4 header auth as
  boto3 sends it: x-amz-date, x-amz-content-sha256, Authorization), each for an object
  stored without an SSE header and one stored with SSE-S3: requests/s and p50;
- in process: the ASGI app called directly (no sockets), CPU microseconds per request
  of the same four kinds (the server's own cost, without the HTTP parser and the
  kernel).

Requests are signed by botocore (the same bytes for both servers). The baseline
is any older checkout's ``src`` directory, e.g. the code before storage v2::

    git archive f8ba06e | (mkdir -p /tmp/base && tar -x -C /tmp/base)
    python benchmarks/get_path.py --baseline /tmp/base/src
    python benchmarks/get_path.py --baseline /tmp/base/src --rounds 3 --duration 2 --skip-inproc

Needs wrk (apt-get install -y wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACCESS, SECRET = "BENCHACCESSKEY00", "bench-secret-key"
REGION = "us-east-1"
KEYS = 200
SIZE = 1024
CURRENT_SRC = Path(__file__).resolve().parent.parent / "src"
CASES = ("presigned GET", "presigned GET, SSE-S3", "header-signed GET", "header-signed GET, SSE-S3")
WRK_SCRIPT = """
-- built at the first request, once wrk has set the Host header
local reqs = nil
local i = 0
request = function()
  if reqs == nil then
    reqs = {}
    for line in io.lines("%s") do
      local path, auth, date, sha = line:match("([^\\t]*)\\t?([^\\t]*)\\t?([^\\t]*)\\t?([^\\t]*)")
      local h = nil
      if auth ~= "" then
        h = {["Host"] = wrk.headers["Host"], ["Authorization"] = auth, ["X-Amz-Date"] = date,
             ["X-Amz-Content-SHA256"] = sha, ["User-Agent"] = "Boto3/1.35 md/Botocore#1.35"}
      end
      reqs[#reqs + 1] = wrk.format("GET", path, h, nil)
    end
  end
  i = i %% #reqs + 1
  return reqs[i]
end
"""


# --- signing (botocore: one client's bytes for both servers) -----------------------------


def _signed(method: str, url: str, *, presigned: bool, headers: dict[str, str] | None = None,
            body: bytes = b"") -> tuple[str, dict[str, str]]:
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(ACCESS, SECRET)
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    if presigned:
        S3SigV4QueryAuth(creds, "s3", REGION, expires=3600).add_auth(request)
    else:
        S3SigV4Auth(creds, "s3", REGION).add_auth(request)
    prepared = request.prepare()
    return prepared.url, {k: v for k, v in prepared.headers.items()}


def key_name(sse: bool, i: int) -> str:
    return f"{'sse' if sse else 'plain'}/{i:04d}"


def case_key(case: str) -> tuple[bool, bool]:
    """(pre-signed, SSE-S3) of a case name."""
    return case.startswith("presigned"), case.endswith("SSE-S3")


# --- in process ------------------------------------------------------------------------


def inproc_worker(n: int) -> None:
    """Runs under the PYTHONPATH of one checkout: CPU us per request of each case."""
    import asyncio
    from urllib.parse import urlsplit

    from s3presign.server.app import S3App
    from s3presign.server.config import ServerConfig

    from s3presign.core.credentials import Credentials

    tmp = tempfile.mkdtemp(prefix="s3presign-getpath-")
    app = S3App(ServerConfig(data_dir=Path(tmp), users={ACCESS: Credentials(ACCESS, SECRET)}, access_log=None))
    host = "127.0.0.1:9"
    base = f"http://{host}"

    async def call(method: str, url: str, headers: dict[str, str], body: bytes = b"") -> int:
        u = urlsplit(url)
        raw = [(b"host", host.encode())] + [(k.lower().encode(), v.encode()) for k, v in headers.items()
                                             if k.lower() not in ("host", "content-length")]
        if body:
            raw.append((b"content-length", str(len(body)).encode()))
        scope = {"type": "http", "method": method, "path": u.path, "raw_path": u.path.encode(),
                 "query_string": u.query.encode(), "headers": raw, "client": ("127.0.0.1", 1),
                 "scheme": "http", "server": ("127.0.0.1", 9), "http_version": "1.1", "asgi": {"version": "3.0"}}
        sent = False

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)

        status = [0]

        async def send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]

        await app(scope, receive, send)
        return status[0]

    async def main() -> dict[str, float]:
        url, h = _signed("PUT", f"{base}/bench", presigned=False)
        assert await call("PUT", url, h) == 200
        for sse in (False, True):
            for i in range(20):
                body = os.urandom(SIZE)
                extra = {"x-amz-server-side-encryption": "AES256"} if sse else {}
                url, h = _signed("PUT", f"{base}/bench/{key_name(sse, i)}", presigned=False, headers=extra, body=body)
                status = await call("PUT", url, h, body)
                assert status == 200, status
        out = {}
        for case in CASES:
            presigned, sse = case_key(case)
            reqs = [_signed("GET", f"{base}/bench/{key_name(sse, i)}", presigned=presigned,
                            headers={"User-Agent": "Boto3/1.35"}) for i in range(20)]
            for url, h in reqs:
                status = await call("GET", url, h)
                assert status == 200, (case, status)
            start = time.process_time()
            for i in range(n):
                url, h = reqs[i % 20]
                await call("GET", url, h)
            out[case] = (time.process_time() - start) / n * 1e6
        return out

    result = asyncio.run(main())
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


def inproc_round(src: Path, n: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, __file__, "--worker", "inproc", "--n", str(n)], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"in-process worker for {src} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- over HTTP -------------------------------------------------------------------------


class Server:
    def __init__(self, name: str, src: Path, workdir: Path) -> None:
        self.name = name
        env = {**os.environ, "PYTHONPATH": str(src), "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET}
        data = workdir / f"data-{name}"
        self.log = open(workdir / f"{name}.log", "wb")  # the access log stays on: it is part of the cost
        self.proc = subprocess.Popen([sys.executable, "-m", "s3presign", "serve", "--port", "0", "--data-dir", str(data)],
                                     stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)
        line = self.proc.stdout.readline()
        found = re.search(r"listening on (\S+)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"{name} server did not start: {line!r}; see {workdir}/{name}.log")
        self.url = found.group(1)
        self.host = self.url.split("://", 1)[1]

    def fill(self) -> None:
        import httpx

        with httpx.Client() as client:
            url, h = _signed("PUT", f"{self.url}/bench", presigned=False)
            client.put(url, headers=h).raise_for_status()
            for sse in (False, True):
                for i in range(KEYS):
                    body = os.urandom(SIZE)
                    extra = {"x-amz-server-side-encryption": "AES256"} if sse else {}
                    url, h = _signed("PUT", f"{self.url}/bench/{key_name(sse, i)}", presigned=False, headers=extra,
                                     body=body)
                    client.put(url, headers=h, content=body).raise_for_status()

    def cpu(self) -> float:
        """CPU seconds (user + system) the server process has used."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def wrk(server: Server, case: str, workdir: Path, duration: int, connections: int) -> dict[str, float]:
    presigned, sse = case_key(case)
    lines = []
    for i in range(KEYS):
        url, h = _signed("GET", f"{server.url}/bench/{key_name(sse, i)}", presigned=presigned)
        path = url[len(server.url):]
        if presigned:
            lines.append(path)
        else:
            lines.append("\t".join((path, h["Authorization"], h["X-Amz-Date"], h["X-Amz-Content-SHA256"])))
    tag = f"{server.name}-{'q' if presigned else 'h'}{'s' if sse else 'p'}"
    requests = workdir / f"{tag}.txt"
    requests.write_text("\n".join(lines) + "\n")
    script = workdir / f"{tag}.lua"
    script.write_text(WRK_SCRIPT % requests)
    cpu = server.cpu()
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
                          server.url], capture_output=True, text=True, check=True).stdout
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if failed:
        raise RuntimeError(f"{server.name} {case}: {failed.group(1)} failed requests\n{out}")
    cpu = server.cpu() - cpu
    count = int(re.search(r"(\d+) requests in", out).group(1))
    value, unit = re.search(r"\s50%\s+([\d.]+)(us|ms|s)", out).groups()
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "cpu_us": cpu / count * 1e6,
            "p50": float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]}


# --- the run ---------------------------------------------------------------------------


def machine() -> str:
    import platform

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}"


def _orders(rounds: int, names: list[str]) -> list[list[str]]:
    return [names if r % 2 == 0 else names[::-1] for r in range(rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="the src directory of the checkout to compare with")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--n", type=int, default=3000, help="in-process requests per case and round (default 3000)")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-inproc", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "inproc":
        inproc_worker(args.n)
        return
    sources = {"current": CURRENT_SRC}
    if args.baseline is not None:
        sources = {"baseline": args.baseline.resolve(), **sources}
    names = list(sources)
    if not args.skip_http and shutil.which("wrk") is None:
        sys.exit("benchmarks/get_path.py needs wrk: apt-get install -y wrk")

    inproc: dict[str, dict[str, list[float]]] = {n: {c: [] for c in CASES} for n in names}
    http: dict[str, dict[str, list[dict[str, float]]]] = {n: {c: [] for c in CASES} for n in names}
    if not args.skip_inproc:
        for order in _orders(args.rounds, names):
            for name in order:
                for case, us in inproc_round(sources[name], args.n).items():
                    inproc[name][case].append(us)
    if not args.skip_http:
        with tempfile.TemporaryDirectory(prefix="s3presign-getpath-") as tmp:
            workdir = Path(tmp)
            servers = {}
            try:
                for name in names:
                    servers[name] = Server(name, sources[name], workdir)
                    servers[name].fill()
                for name in names:  # warm up
                    wrk(servers[name], CASES[0], workdir, 1, args.connections)
                for order in _orders(args.rounds, names):
                    for case in CASES:
                        for name in order:
                            http[name][case].append(wrk(servers[name], case, workdir, args.duration, args.connections))
            finally:
                for server in servers.values():
                    server.stop()

    print(f"# small-object GET, side by side\n\n{machine()}")
    print(f"1 KiB objects; median of {args.rounds} interleaved rounds; " + ", ".join(f"{n}: {s}" for n, s in sources.items()))
    if not args.skip_http:
        print(f"\nOver HTTP: wrk -t1 -c{args.connections} -d{args.duration}s, {KEYS} keys, one server process each;"
              " server CPU per request from /proc (steadier than req/s on a shared machine)\n")
        two = len(names) == 2
        cols = [f"{n} req/s" for n in names] + [f"{n} p50 ms" for n in names] + [f"{n} server CPU us/req" for n in names]
        if two:
            cols += ["req/s current / baseline", "CPU current / baseline"]
        print("| request | " + " | ".join(cols) + " |")
        print("|---" + "|---:" * len(cols) + "|")
        for case in CASES:
            rps = {n: statistics.median(r["rps"] for r in http[n][case]) for n in names}
            p50 = {n: statistics.median(r["p50"] for r in http[n][case]) for n in names}
            cpu = {n: statistics.median(r["cpu_us"] for r in http[n][case]) for n in names}
            cells = [f"{rps[n]:.0f}" for n in names] + [f"{p50[n]:.2f}" for n in names] + [f"{cpu[n]:.0f}" for n in names]
            if two:
                cells += [f"{rps['current'] / rps['baseline']:.0%}", f"{cpu['current'] / cpu['baseline']:.0%}"]
            print(f"| {case} | " + " | ".join(cells) + " |")
    if not args.skip_inproc:
        print(f"\nIn process: CPU us per request (ASGI app called directly, {args.n} requests per round)\n")
        print("| request | " + " | ".join(f"{n} us" for n in names) + (" | current / baseline |" if len(names) == 2 else " |"))
        print("|---" * (1 + len(names) + (len(names) == 2)) + "|")
        for case in CASES:
            us = {n: statistics.median(inproc[n][case]) for n in names}
            row = f"| {case} | " + " | ".join(f"{us[n]:.0f}" for n in names)
            if len(names) == 2:
                row += f" | {us['current'] / us['baseline']:.0%}"
            print(row + " |")


if __name__ == "__main__":
    main()
