"""Run the console on its own address, in a thread beside the S3 endpoint."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from s3presign.console.app import ConsoleApp, ConsoleConfig

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class RunningConsole:
    url: str
    app: ConsoleApp
    _server: Any
    _thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


def parse_address(address: str) -> tuple[str, int]:
    """HOST:PORT (or [V6]:PORT, or :PORT for loopback) as (host, port)."""
    from s3presign.core.errors import PresignError

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise PresignError(f"--console-address {address!r}: use HOST:PORT, e.g. 127.0.0.1:9001 (port 0: any free one)")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def origins_for(host: str, port: int) -> list[str]:
    """The origins a browser gives the console's page (both loopback names)."""
    if host in ("127.0.0.1", "localhost", "0.0.0.0"):
        return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]
    if host in ("::1", "::"):
        return [f"http://[::1]:{port}", f"http://localhost:{port}"]
    return [f"http://{host}:{port}"]


def start_console(config: ConsoleConfig, host: str = "127.0.0.1", port: int = 0,
                  timeout: float = 10.0) -> RunningConsole:
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound = sock.getsockname()[1]
    config.origins = origins_for(host, bound)
    app = ConsoleApp(config)
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=5,
        limit_concurrency=256, server_header=False,
    ))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="s3presign-console")
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the console did not start")
        time.sleep(0.01)
    shown = f"[{host}]" if ":" in host else host
    return RunningConsole(f"http://{shown}:{bound}/", app, server, thread)
