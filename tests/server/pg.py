"""A throw-away PostgreSQL server for tests: initdb + pg_ctl under a temp dir, on a
random port, its unix socket in that dir. Skips (with the reason) only when the
PostgreSQL binaries are absent; as root it runs them as the ``postgres`` user."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres() -> Iterator[str]:
    """Start PostgreSQL; yields a psycopg conninfo; stops and removes it afterwards."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="s3presign-pg-"))  # short: a socket path has a length limit
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    run = lambda *argv: subprocess.run([*as_user, *map(str, argv)], check=True, capture_output=True, timeout=120)  # noqa: E731
    run(bindir / "initdb", "-D", data, "-U", "s3p", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
    opts = f"-c listen_addresses='' -c unix_socket_directories={root} -p {port} -c fsync=off"
    run(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", root / "log", "-w", "start")
    try:
        yield f"host={root} port={port} user=s3p dbname=postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
