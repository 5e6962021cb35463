"""IAM Identity Center (SSO): the AWS CLI's cached token, then GetRoleCredentials.

`aws sso login` leaves the token in ~/.aws/sso/cache/<sha1>.json (sha1 of the
sso-session name, or of the start URL for legacy profiles); s3presign reads it,
never starts a login itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any, Mapping
from urllib.parse import quote

from ..credentials import Credentials
from ..errors import PresignError
from ._http import parse_time, request


def _settings(profile: Any) -> tuple[str, str, str, str]:
    """(cache key, sso region, account id, role name)."""
    name = profile.name
    session = profile.get("sso_session")
    if session:
        section = profile.config.get(f"sso-session {session}")
        if section is None:
            raise PresignError(f"profile {name!r} names sso_session = {session}, but there is no [sso-session {session}] section")
        key, region = session, section.get("sso_region") or profile.get("sso_region")
    else:
        key, region = profile.get("sso_start_url", ""), profile.get("sso_region")
    account, role = profile.get("sso_account_id"), profile.get("sso_role_name")
    missing = [n for n, v in (("sso_region", region), ("sso_account_id", account), ("sso_role_name", role)) if not v]
    if missing:
        raise PresignError(f"SSO profile {name!r} lacks {', '.join(missing)}; run `aws configure sso --profile {name}`")
    return key, region, account, role  # type: ignore[return-value]


def cache_dir(env: Mapping[str, str]) -> str:
    return os.path.join(os.path.expanduser(env.get("HOME", "~")), ".aws", "sso", "cache")


def fetch(profile: Any, env: Mapping[str, str]) -> Credentials:
    from ..config import service_endpoint

    name = profile.name
    key, region, account, role = _settings(profile)
    path = os.path.join(cache_dir(env), hashlib.sha1(key.encode()).hexdigest() + ".json")
    login = f"run `aws sso login --profile {name}`"
    try:
        with open(path, encoding="utf-8") as f:
            cached = json.load(f)
        token = cached["accessToken"]
        expires = parse_time(cached["expiresAt"])
    except (OSError, ValueError, KeyError, TypeError):
        raise PresignError(f"no SSO token for profile {name!r} in {path}; {login}") from None
    if expires <= time.time():
        raise PresignError(f"the SSO token for profile {name!r} has expired; {login}")
    base = service_endpoint("sso", name, env) or f"https://portal.sso.{region}.amazonaws.com"
    url = (f"{base.rstrip('/')}/federation/credentials?account_id={quote(account, safe='')}"
           f"&role_name={quote(role, safe='')}")
    try:
        status, body = request("GET", url, headers={"x-amz-sso_bearer_token": token, "Accept": "application/json"},
                               timeout=10.0, what="the SSO portal", cafile=env.get("AWS_CA_BUNDLE"), env=env)
    except ConnectionError as exc:
        raise PresignError(f"{exc}; check the network / AWS_ENDPOINT_URL_SSO") from None
    if status in (401, 403):
        raise PresignError(f"the SSO portal refused the token for profile {name!r} (HTTP {status}); {login}")
    if status != 200:
        raise PresignError(f"SSO GetRoleCredentials for profile {name!r} answered HTTP {status}")
    try:
        data = json.loads(body)["roleCredentials"]
        access, secret = data["accessKeyId"], data["secretAccessKey"]
    except (ValueError, KeyError, TypeError):
        raise PresignError("SSO GetRoleCredentials answered without roleCredentials") from None
    expiration = data.get("expiration")
    return Credentials(access, secret, data.get("sessionToken") or None,
                       expiration=expiration / 1000 if isinstance(expiration, (int, float)) else None,
                       source=f"SSO role {role} in account {account} (profile {name!r})")
