"""Every python and sh snippet in README.md runs as written, against an embedded
`s3presign serve` (HTTPS, self-signed CA) that the environment points at.

The environment is what a reader of the README has: AWS credentials, an
endpoint (AWS_ENDPOINT_URL, AWS_CA_BUNDLE), the buckets the snippets name, and
the files they upload. Three kinds of line are adapted, each for a stated reason:
`pip install` lines are skipped (this test runs inside that installation),
`python -m pytest` is skipped (it is this suite), and `s3presign serve` is given
`--port 0` (fixed ports collide on a shared machine) and stopped once it listens.
`s3presign inspect` may exit 1: that is its verdict that the example request fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.helpers import MAIN

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```(python|sh)\n(.*?)```", README.read_text(), re.S)


def test_readme_has_snippets():
    assert sum(kind == "python" for kind, _ in BLOCKS) >= 1 and sum(kind == "sh" for kind, _ in BLOCKS) >= 3


@pytest.fixture(scope="module")
def reader(https_endpoint, tmp_path_factory):
    """The reader's shell: credentials, endpoint, buckets and files."""
    home = tmp_path_factory.mktemp("reader")
    s3 = https_endpoint.client()
    for bucket in sorted(set(re.findall(r"s3://([a-z0-9][a-z0-9.-]+[a-z0-9])", README.read_text()))):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket="my-bucket", Key="shared.txt", Body=b"shared")
    url = https_endpoint.presigner().presign("GET", "my-bucket", "shared.txt", expires_in="1d").url
    (home / "big.iso").write_bytes(os.urandom(3 * 1024 * 1024))
    (home / "huge.tar").write_bytes(os.urandom(6 * 1024 * 1024))
    (home / "key.bin").write_bytes(os.urandom(32))
    (home / "q1.pdf").write_bytes(b"%PDF-1.4\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID=MAIN[0], AWS_SECRET_ACCESS_KEY=MAIN[1], AWS_REGION="us-east-1",
               AWS_ENDPOINT_URL=https_endpoint.url, AWS_CA_BUNDLE=https_endpoint.ca, AWS_EC2_METADATA_DISABLED="true",
               URL=url, SECRET=MAIN[1], PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    return home, env


def _commands(block: str) -> list[str]:
    out = []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip() if "  #" in line else line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("&&")]
        parts = [p for p in parts if not p.startswith("pip install") and p != "python -m pytest"]
        if parts:
            out.append(" && ".join(parts))
    return out


def _serve(command: str, home: Path, env: dict) -> None:
    argv = command.replace("--port 9000", "--port 0") + f" --data-dir {home / 'serve-data'}"
    proc = subprocess.Popen(["bash", "-c", f"exec {argv}"], cwd=home, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()
        assert "listening on" in first, first + proc.stdout.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_snippet_runs(reader, number):
    home, env = reader
    kind, block = BLOCKS[number]
    if kind == "python":
        done = subprocess.run([sys.executable, "-c", block], cwd=home, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return
    for command in _commands(block):
        if command.startswith("s3presign serve"):
            _serve(command, home, env)
            continue
        done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=home, env=env, capture_output=True,
                              text=True, timeout=300)
        if command.startswith("s3presign inspect"):
            # inspect's exit status 1 is its verdict "this request will fail", the README's example
            assert done.returncode in (0, 1) and "Signature: matches" in done.stdout, done.stdout + done.stderr
            continue
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
