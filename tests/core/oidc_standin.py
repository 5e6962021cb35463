"""A loopback stand-in for AWS SSO-OIDC's CreateToken (rest-json: POST /token, a
JSON body in, JSON out; errors as HTTP 400/401 with x-amzn-ErrorType and
{"error", "error_description"}), for the refresh_token grant the AWS CLI and
botocore use to renew a cached IAM Identity Center token."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

from tests.cli.standins import LoopbackHTTP


class OIDCStandIn(LoopbackHTTP):
    def __init__(self, client_id: str, client_secret: str, refresh_token: str, *,
                 issue: str = "fresh-access-token", expires_in: int = 28800) -> None:
        self.client = (client_id, client_secret)
        self.refresh_token = refresh_token  # the one currently valid; rotated on every use
        self.issue, self.expires_in = issue, expires_in
        self.calls: list[dict] = []
        self.rotations = 0
        oidc = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict, error_type: str | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                oidc.calls.append({"path": self.path, "body": body,
                                   "headers": {k.lower(): v for k, v in self.headers.items()}})
                if self.path != "/token":
                    return self._send(404, {"message": "not found"}, "UnknownOperationException")
                if not isinstance(body, dict) or not (self.headers.get("Content-Type") or "").startswith("application/json"):
                    return self._send(400, {"error": "invalid_request", "error_description": "JSON body required"},
                                      "InvalidRequestException")
                if body.get("grantType") != "refresh_token":
                    return self._send(400, {"error": "unsupported_grant_type", "error_description": "refresh_token only"},
                                      "UnsupportedGrantTypeException")
                if (body.get("clientId"), body.get("clientSecret")) != oidc.client:
                    return self._send(401, {"error": "invalid_client", "error_description": "Invalid client provided"},
                                      "InvalidClientException")
                if body.get("refreshToken") != oidc.refresh_token:
                    return self._send(400, {"error": "invalid_grant", "error_description": "Invalid refresh token provided"},
                                      "InvalidGrantException")
                oidc.rotations += 1
                oidc.refresh_token = f"refresh-token-{oidc.rotations}"
                self._send(200, {"accessToken": oidc.issue, "tokenType": "Bearer", "expiresIn": oidc.expires_in,
                                 "refreshToken": oidc.refresh_token})

        self._serve(Handler)
