"""Loopback stand-ins that speak the credential services' real protocols.

One tiny http.server per test: STS's Query API (form POST in, XML out;
AssumeRole's SigV4 signature verified with botocore), the ECS/EKS container
endpoint and EC2's IMDSv2 (token PUT, then JSON), and the SSO portal's
GetRoleCredentials (bearer token header, JSON out).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class LoopbackHTTP:
    """An http.server handler class served on 127.0.0.1 (a free port) from a daemon thread."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class StandIn(LoopbackHTTP):
    """Records every request; answers with ``issue`` (access, secret, token) valid for ``lifetime`` s."""

    def __init__(self, issue: tuple[str, str, str], lifetime: float = 3600, *, sources: dict | None = None,
                 web_token: str = "oidc-token", sso_token: str = "sso-access-token", container_token: str = "ctok",
                 imds_role: str = "app-role", mfa: tuple[str, str] | None = None) -> None:
        self.issue, self.lifetime = issue, lifetime
        self.sources = sources or {}  # access key -> secret of callers allowed to AssumeRole
        self.web_token, self.sso_token, self.container_token = web_token, sso_token, container_token
        self.imds_role, self.mfa = imds_role, mfa
        self.calls: list[dict] = []
        self.imds_tokens: set[str] = set()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status, body, content_type="application/json"):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                standin._sts(self, body)

            def do_GET(self):
                standin._get(self)

            def do_PUT(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                standin._imds_token(self)

        self._serve(Handler)

    @property
    def expiration(self) -> float:
        return int(time.time() + self.lifetime)

    # --- STS ---------------------------------------------------------------------
    def _sts_error(self, h, status, code, message):
        h._send(status, f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
                        f"<Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>", "text/xml")

    def _sts(self, h, body):
        params = dict(parse_qsl(body.decode()))
        action = params.get("Action")
        self.calls.append({"service": "sts", "params": params, "headers": {k.lower(): v for k, v in h.headers.items()}})
        if params.get("Version") != "2011-06-15" or not params.get("RoleArn") or not params.get("RoleSessionName"):
            return self._sts_error(h, 400, "MissingParameter", "RoleArn, RoleSessionName and Version are required")
        if action == "AssumeRole":
            problem = self._check_sigv4(h, body)
            if problem:
                return self._sts_error(h, 403, "SignatureDoesNotMatch", problem)
            if self.mfa and (params.get("SerialNumber"), params.get("TokenCode")) != self.mfa:
                return self._sts_error(h, 403, "AccessDenied", "MultiFactorAuthentication failed")
        elif action == "AssumeRoleWithWebIdentity":
            if "authorization" in {k.lower() for k in h.headers}:
                return self._sts_error(h, 400, "InvalidAction", "AssumeRoleWithWebIdentity is not signed")
            if params.get("WebIdentityToken") != self.web_token:
                return self._sts_error(h, 400, "InvalidIdentityToken", "Couldn't retrieve verification key")
        else:
            return self._sts_error(h, 400, "InvalidAction", f"Could not find operation {action}")
        access, secret, token = self.issue
        result = "AssumeRoleResult" if action == "AssumeRole" else "AssumeRoleWithWebIdentityResult"
        h._send(200, f'<{action}Response xmlns="{STS_NS}"><{result}><Credentials>'
                     f"<AccessKeyId>{access}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
                     f"<SessionToken>{token}</SessionToken><Expiration>{iso(self.expiration)}</Expiration>"
                     f"</Credentials><AssumedRoleUser><Arn>{params['RoleArn']}/{params['RoleSessionName']}</Arn>"
                     f"<AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser></{result}>"
                     f"<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>", "text/xml")

    def _check_sigv4(self, h, body) -> str | None:
        """Recompute the caller's SigV4 signature with botocore (an independent signer)."""
        auth = h.headers.get("Authorization", "")
        try:
            fields = dict(part.strip().split("=", 1) for part in auth.split(" ", 1)[1].split(","))
            access, date, region, service, _ = fields["Credential"].split("/")
        except (IndexError, ValueError, KeyError):
            return f"malformed Authorization {auth!r}"
        if service != "sts" or access not in self.sources:
            return f"unknown caller {access} / service {service}"
        signed = fields["SignedHeaders"].split(";")
        headers = {name: h.headers[name] for name in signed if name != "host"}
        request = AWSRequest(method="POST", url=self.url + h.path, data=body, headers=headers)
        request.context["timestamp"] = h.headers["x-amz-date"]
        secret, token = self.sources[access]
        signer = SigV4Auth(BotoCredentials(access, secret, token), "sts", region)
        request.headers["host"] = h.headers["host"]
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if expected != fields["Signature"]:
            return "The request signature we calculated does not match the signature you provided."
        if token and h.headers.get("x-amz-security-token") != token:
            return "the source credentials' session token is missing"
        return None

    # --- container, SSO portal, IMDS --------------------------------------------------
    def _get(self, h):
        path = urlsplit(h.path)
        self.calls.append({"service": "get", "path": h.path, "headers": {k.lower(): v for k, v in h.headers.items()}})
        access, secret, token = self.issue
        if path.path == "/federation/credentials":
            q = dict(parse_qsl(path.query))
            if h.headers.get("x-amz-sso_bearer_token") != self.sso_token:
                return h._send(401, json.dumps({"message": "Session token not found or invalid"}))
            if not q.get("account_id") or not q.get("role_name"):
                return h._send(400, json.dumps({"message": "account_id and role_name are required"}))
            return h._send(200, json.dumps({"roleCredentials": {
                "accessKeyId": access, "secretAccessKey": secret, "sessionToken": token,
                "expiration": int(self.expiration * 1000)}}))
        if path.path.startswith("/latest/meta-data/iam/security-credentials/"):
            if h.headers.get("x-aws-ec2-metadata-token") not in self.imds_tokens:
                return h._send(401, "", "text/plain")  # IMDSv2 required
            role = path.path.rsplit("/", 1)[1]
            if not role:
                return h._send(200, self.imds_role, "text/plain")
            if role != self.imds_role:
                return h._send(404, "", "text/plain")
            return h._send(200, json.dumps({"Code": "Success", "LastUpdated": iso(time.time()), "Type": "AWS-HMAC",
                                            "AccessKeyId": access, "SecretAccessKey": secret, "Token": token,
                                            "Expiration": iso(self.expiration)}))
        if path.path.startswith("/creds"):  # the container endpoint (ECS agent / EKS Pod Identity)
            if h.headers.get("Authorization") != self.container_token and path.path != "/creds/relative":
                return h._send(403, json.dumps({"message": "bad authorization token"}))
            return h._send(200, json.dumps({"AccessKeyId": access, "SecretAccessKey": secret, "Token": token,
                                            "Expiration": iso(self.expiration), "RoleArn": "arn:aws:iam::1:role/x"}))
        h._send(404, "{}")

    def _imds_token(self, h):
        self.calls.append({"service": "imds-token", "path": h.path, "headers": {k.lower(): v for k, v in h.headers.items()}})
        ttl = h.headers.get("x-aws-ec2-metadata-token-ttl-seconds")
        if h.path != "/latest/api/token" or not ttl or not ttl.isdigit():
            return h._send(400, "", "text/plain")
        token = f"imds-token-{len(self.imds_tokens)}"
        self.imds_tokens.add(token)
        h._send(200, token, "text/plain")
