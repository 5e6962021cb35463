"""Container credentials (ECS task roles, EKS Pod Identity): a JSON document over HTTP.

AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is a path on the ECS agent
(169.254.170.2); AWS_CONTAINER_CREDENTIALS_FULL_URI a whole URL, over plain
HTTP only to loopback or the ECS/EKS agent addresses. The token comes from
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read each time) or _TOKEN.
"""

from __future__ import annotations

import json
from typing import Mapping
from urllib.parse import urlsplit

from ..credentials import Credentials
from ..errors import PresignError
from ._http import parse_time, request

ECS_AGENT = "http://169.254.170.2"
# Plain-HTTP hosts a full URI may name (the AWS CLI's list).
HTTP_HOSTS = frozenset({"169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost"})


def _allowed_http(host: str) -> bool:
    if host in HTTP_HOSTS:
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def from_environment(env: Mapping[str, str], agent: str = ECS_AGENT) -> Credentials | None:
    relative = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    full = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if relative:
        url = agent + (relative if relative.startswith("/") else "/" + relative)
        source = "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)"
    elif full:
        parts = urlsplit(full)
        if parts.scheme == "http" and not _allowed_http(parts.hostname or ""):
            raise PresignError(
                f"AWS_CONTAINER_CREDENTIALS_FULL_URI {full!r}: plain http is allowed only to loopback "
                "or the ECS/EKS agent (169.254.170.2, 169.254.170.23); use https"
            )
        url = full
        source = "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)"
    else:
        return None
    headers = {"Accept": "application/json"}
    token_file = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as f:
                headers["Authorization"] = f.read().strip()
        except OSError as exc:
            raise PresignError(f"cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {token_file}: {exc.strerror}") from None
    elif env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"):
        headers["Authorization"] = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    if "\n" in headers.get("Authorization", "") or "\r" in headers.get("Authorization", ""):
        raise PresignError("the container authorization token contains a line break; fix the token")
    try:
        status, body = request("GET", url, headers=headers, timeout=2.0, what="container credentials endpoint",
                               use_proxy=False)  # botocore never proxies it: the agent is local
    except ConnectionError as exc:
        raise PresignError(f"{exc}; {source} is set but nothing answers") from None
    if status != 200:
        raise PresignError(f"{source}: {url} answered HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
    return parse(body, source)


def parse(body: bytes, source: str) -> Credentials:
    try:
        data = json.loads(body)
        access, secret = data["AccessKeyId"], data["SecretAccessKey"]
    except (ValueError, KeyError, TypeError):
        raise PresignError(f"{source}: the answer is not a credentials document (AccessKeyId, SecretAccessKey)") from None
    expiration = parse_time(data["Expiration"]) if data.get("Expiration") else None
    return Credentials(access, secret, data.get("Token") or None, expiration=expiration, source=source)
