"""EC2 instance metadata (IMDSv2): a session token (PUT), then the role's credentials.

AWS_EC2_METADATA_DISABLED=true skips it; AWS_EC2_METADATA_SERVICE_ENDPOINT (or the
profile's ec2_metadata_service_endpoint, or ..._endpoint_mode = IPv6) moves it.
Falls back to IMDSv1 only where the token PUT is refused and
AWS_EC2_METADATA_V1_DISABLED is not set, as the AWS CLI does.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from ..credentials import Credentials
from ..errors import PresignError
from ._http import is_metadata_host, parse_time, request

DEFAULT_ENDPOINT = "http://169.254.169.254"
IPV6_ENDPOINT = "http://[fd00:ec2::254]"
TOKEN_PATH = "/latest/api/token"
ROLE_PATH = "/latest/meta-data/iam/security-credentials/"
SOURCE = "EC2 instance metadata (IMDSv2)"


def endpoint(env: Mapping[str, str], profile: Any = None) -> str:
    settings = profile or {}
    url = env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or settings.get("ec2_metadata_service_endpoint")
    if url:
        return url.rstrip("/")
    mode = env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") or settings.get("ec2_metadata_service_endpoint_mode")
    return IPV6_ENDPOINT if (mode or "").lower() == "ipv6" else DEFAULT_ENDPOINT


def fetch(env: Mapping[str, str], profile: Any = None) -> Credentials | None:
    """The instance role's credentials, or None where no metadata service answers."""
    if (env.get("AWS_EC2_METADATA_DISABLED") or "").lower() == "true":
        return None
    base = endpoint(env, profile)
    try:
        timeout = float(env.get("AWS_METADATA_SERVICE_TIMEOUT") or 1)
    except ValueError:
        timeout = 1.0
    from urllib.parse import urlsplit

    # The metadata service is this instance's own: a proxy would reach its host's (or none).
    # An endpoint elsewhere follows HTTP_PROXY / NO_PROXY, as botocore's fetcher does.
    proxied = {"env": env, "use_proxy": not is_metadata_host(urlsplit(base).hostname or "")}
    try:
        status, token = request("PUT", base + TOKEN_PATH, headers={"x-aws-ec2-metadata-token-ttl-seconds": "21600"},
                                timeout=timeout, what="instance metadata service", **proxied)
        headers: dict[str, str] = {}
        if status == 200:
            headers["x-aws-ec2-metadata-token"] = token.decode("ascii", "replace").strip()
        elif status in (403, 404, 405) and (env.get("AWS_EC2_METADATA_V1_DISABLED") or "").lower() != "true":
            pass  # IMDSv1 only (an old or proxied endpoint)
        else:
            return None  # not a metadata service that gives this process credentials
        status, body = request("GET", base + ROLE_PATH, headers=headers, timeout=timeout,
                               what="instance metadata service", **proxied)
        if status == 404:
            return None  # an instance without a role
        if status != 200:
            return None
        role = body.decode("utf-8", "replace").strip().splitlines()
        if not role:
            return None
        status, body = request("GET", base + ROLE_PATH + role[0], headers=headers, timeout=timeout,
                               what="instance metadata service", **proxied)
    except ConnectionError:
        return None  # not on EC2: the chain ends without instance credentials
    if status != 200:
        raise PresignError(f"{SOURCE}: role {role[0]!r} answered HTTP {status}")
    try:
        data = json.loads(body)
    except ValueError:
        raise PresignError(f"{SOURCE}: role {role[0]!r} did not answer JSON") from None
    if data.get("Code", "Success") != "Success" or not data.get("AccessKeyId"):
        raise PresignError(f"{SOURCE}: role {role[0]!r} answered {data.get('Code')}: {data.get('Message', '')}")
    expiration = parse_time(data["Expiration"]) if data.get("Expiration") else None
    return Credentials(data["AccessKeyId"], data["SecretAccessKey"], data.get("Token") or None,
                       expiration=expiration, source=f"{SOURCE}, role {role[0]}")
