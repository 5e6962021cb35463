"""IAM Identity Center (SSO): the AWS CLI's cached token, then GetRoleCredentials.

`aws sso login` leaves the token in ~/.aws/sso/cache/<sha1>.json (sha1 of the
sso-session name, or of the start URL for legacy profiles); s3presign reads it,
never starts a login itself. For an sso-session profile a token that ends within
15 minutes is refreshed as botocore's SSOTokenProvider does: SSO-OIDC CreateToken
with the cached refresh token and client registration, the entry rewritten
atomically. Legacy profiles carry no refresh token: they need a new login.
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


REFRESH_WINDOW = 15 * 60  # botocore's: refresh a token with less than this left
REFRESH_KEYS = ("refreshToken", "clientId", "clientSecret", "registrationExpiresAt")


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
    now = time.time()
    if expires - now < REFRESH_WINDOW and profile.get("sso_session"):
        token, expires, problem = _refresh(profile, cached, path, region, env, now)
        if problem and expires <= now:
            raise PresignError(f"the SSO token for profile {name!r} {problem} and has expired; {login}")
    if expires <= now:
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


def _refresh(profile: Any, cached: dict, path: str, region: str, env: Mapping[str, str],
             now: float) -> tuple[str, float, str | None]:
    """(access token, its expiry, why it could not be refreshed or None).

    On failure the cached token is returned unchanged: while it lasts it still works.
    """
    from ..config import service_endpoint

    token, expires = cached["accessToken"], parse_time(cached["expiresAt"])
    missing = [k for k in REFRESH_KEYS if not isinstance(cached.get(k), str) or not cached.get(k)]
    if missing:
        return token, expires, f"cannot be refreshed (its cache entry has no {', '.join(missing)})"
    try:
        registration_ends = parse_time(cached["registrationExpiresAt"])
    except PresignError:
        return token, expires, "cannot be refreshed (its client registration has no valid expiry)"
    if registration_ends <= now:
        return token, expires, f"cannot be refreshed (its client registration expired at {cached['registrationExpiresAt']})"
    base = service_endpoint("sso-oidc", profile.name, env) or f"https://oidc.{region}.amazonaws.com"
    body = json.dumps({"grantType": "refresh_token", "clientId": cached["clientId"],
                       "clientSecret": cached["clientSecret"], "refreshToken": cached["refreshToken"]}).encode()
    try:
        status, answer = request("POST", f"{base.rstrip('/')}/token", body=body, timeout=10.0,
                                 headers={"Content-Type": "application/json", "Accept": "application/json"},
                                 what="SSO-OIDC", cafile=env.get("AWS_CA_BUNDLE"), env=env)
    except ConnectionError as exc:
        return token, expires, f"could not be refreshed ({exc})"
    try:
        data = json.loads(answer)
    except ValueError:
        data = None
    if status != 200 or not isinstance(data, dict):
        code = detail = ""
        if isinstance(data, dict):
            code = str(data.get("__type") or data.get("error") or "").rsplit("#", 1)[-1]
            detail = str(data.get("error_description") or data.get("message") or "")
        return token, expires, f"could not be refreshed (SSO-OIDC CreateToken answered HTTP {status} {code}: {detail})"
    fresh, lifetime = data.get("accessToken"), data.get("expiresIn")
    if not isinstance(fresh, str) or not fresh or not isinstance(lifetime, int) or isinstance(lifetime, bool) \
            or lifetime <= 0:
        return token, expires, "could not be refreshed (SSO-OIDC CreateToken answered without accessToken / expiresIn)"
    expires = now + lifetime
    entry = {**cached, "startUrl": _start_url(profile), "region": region, "accessToken": fresh,
             "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))}
    if isinstance(data.get("refreshToken"), str) and data["refreshToken"]:
        entry["refreshToken"] = data["refreshToken"]
    _write_atomically(path, json.dumps(entry).encode())
    return fresh, expires, None


def _start_url(profile: Any) -> str:
    section = profile.config.get(f"sso-session {profile.get('sso_session')}") or {}
    return section.get("sso_start_url") or profile.get("sso_start_url") or ""


def _write_atomically(path: str, data: bytes) -> None:
    """Replace ``path``: a temporary file (0600: the entry holds secrets) in the same
    directory, synced, then renamed over it; readers see the old entry or the new one."""
    import tempfile

    directory = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".s3presign-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
