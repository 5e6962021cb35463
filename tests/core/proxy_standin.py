"""A tiny forward proxy on loopback, speaking HTTP/1.1 proxying for real:
CONNECT tunnels (bytes relayed both ways, TLS end to end) and absolute-form
requests (forwarded to the origin, answer relayed). It records what it was asked,
and can demand Basic proxy credentials (407 otherwise). It resolves names itself,
as a proxy does: ``names`` are host names only it knows (all on loopback), so a
client that reaches them must have gone through it."""

from __future__ import annotations

import base64
import http.client
import select
import socket
from http.server import BaseHTTPRequestHandler

from tests.cli.standins import LoopbackHTTP
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade"}


class ProxyStandIn(LoopbackHTTP):
    def __init__(self, credentials: tuple[str, str] | None = None, names: tuple[str, ...] = ()) -> None:
        self.seen: list[dict] = []  # {"method", "target", "proxy_auth"}
        self.loopback = {"127.0.0.1", "localhost", *names}
        self.credentials = credentials
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _authorised(self) -> bool:
                given = self.headers.get("Proxy-Authorization")
                proxy.seen.append({"method": self.command, "target": self.path, "proxy_auth": given})
                if proxy.credentials is None:
                    return True
                expected = "Basic " + base64.b64encode(":".join(proxy.credentials).encode()).decode()
                if given == expected:
                    return True
                self.send_response(407)
                self.send_header("Proxy-Authenticate", 'Basic realm="standin"')
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                return False

            def do_CONNECT(self):
                if not self._authorised():
                    return
                host, _, port = self.path.rpartition(":")
                if host not in proxy.loopback:  # loopback only
                    self.send_error(403)
                    return
                upstream = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                client = self.connection
                try:
                    while True:
                        ready, _, _ = select.select([client, upstream], [], [], 10)
                        if not ready:
                            break
                        for sock in ready:
                            data = sock.recv(65536)
                            if not data:
                                return
                            (upstream if sock is client else client).sendall(data)
                finally:
                    upstream.close()
                    self.close_connection = True

            def _forward(self):
                if not self._authorised():
                    return
                parts = urlsplit(self.path)
                if parts.scheme != "http" or parts.hostname not in proxy.loopback:
                    self.send_error(400, "absolute-form http:// loopback URLs only")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=10)
                try:
                    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                    upstream.request(self.command, target, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _forward

        self._serve(Handler)
