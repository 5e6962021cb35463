"""STS over its Query API: AssumeRole (SigV4-signed with the source credentials) and
AssumeRoleWithWebIdentity (unsigned; the OIDC token file is the proof).

The endpoint is STS's regional one unless AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL
or a ``[services]`` section says otherwise.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Callable, Mapping
from urllib.parse import quote, urlsplit

from ..credentials import Credentials, credential_source, load_profile
from ..errors import PresignError
from ._http import parse_time, request

VERSION = "2011-06-15"
NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def sts_endpoint(region: str | None, profile: Any, env: Mapping[str, str]) -> str:
    from ..config import service_endpoint

    url = service_endpoint("sts", profile.name if profile is not None else None, env)
    if url:
        return url
    if not region:
        return "https://sts.amazonaws.com"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


def _form(params: Mapping[str, str]) -> bytes:
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params.items()).encode()


def _signed_headers(creds: Credentials, url: str, region: str, body: bytes) -> dict[str, str]:
    """SigV4 header authentication for service 'sts' (the core's own signing functions)."""
    from .. import sigv4
    from ..canonical import canonical_headers

    parts = urlsplit(url)
    stamp, date = sigv4.amz_date(int(time.time()))
    headers = {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "host": parts.netloc,
        "x-amz-date": stamp,
    }
    if creds.session_token:
        headers["x-amz-security-token"] = creds.session_token
    names = sorted(headers)
    payload = hashlib.sha256(body).hexdigest()
    canonical = sigv4.canonical_request("POST", parts.path or "/", "", canonical_headers(headers, names),
                                        ";".join(names), payload)
    scope = sigv4.credential_scope(date, region, "sts")
    signature = sigv4.sign(sigv4.signing_key(creds.secret_key, date, region, "sts"),
                           sigv4.string_to_sign(stamp, scope, canonical))
    headers["authorization"] = (
        f"{sigv4.ALGORITHM} Credential={creds.access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    del headers["host"]
    return headers


def _call(url: str, headers: dict[str, str], body: bytes, action: str, env: Mapping[str, str]) -> Any:
    from xml.etree import ElementTree

    try:
        status, data = request("POST", url, headers=headers, body=body, timeout=10.0, what="STS",
                               cafile=env.get("AWS_CA_BUNDLE"), env=env)
    except ConnectionError as exc:
        raise PresignError(f"{exc}; check AWS_ENDPOINT_URL_STS / the network") from None
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        raise PresignError(f"STS {action} answered HTTP {status} without XML") from None
    if status != 200:
        code = root.findtext(f".//{NS}Code") or root.findtext(".//Code") or "?"
        message = root.findtext(f".//{NS}Message") or root.findtext(".//Message") or ""
        raise PresignError(f"STS {action} refused: {code}: {message}")
    node = root.find(f".//{NS}Credentials")
    if node is None:
        node = root.find(".//Credentials")
    if node is None:
        raise PresignError(f"STS {action} answered without Credentials")

    def text(name: str) -> str:
        return node.findtext(NS + name) or node.findtext(name) or ""

    return text("AccessKeyId"), text("SecretAccessKey"), text("SessionToken"), text("Expiration")


def _session_name(given: str | None) -> str:
    return given or f"s3presign-{int(time.time() * 1000)}"


def assume_role_profile(profile: Any, env: Mapping[str, str], visited: tuple[str, ...],
                        mfa_prompt: Callable[[str], str] | None) -> Credentials:
    """A profile with role_arn and source_profile or credential_source."""
    from ..credentials import _from_profile

    name = profile.name
    if profile.get("source_profile") and profile.get("credential_source"):
        raise PresignError(f"profile {name!r} sets both source_profile and credential_source; keep one")
    if profile.get("source_profile"):
        source_name = profile["source_profile"]
        source = load_profile(source_name, env)
        if source_name == name or (source_name in visited and source_name == visited[-1]):
            access, secret = source.get("aws_access_key_id"), source.get("aws_secret_access_key")
            if not access or not secret:
                raise PresignError(f"profile {name!r} is its own source_profile but has no static keys")
            base = Credentials(access, secret, source.get("aws_session_token") or None, source=f"profile {name!r}")
        else:
            base = _from_profile(source, env, visited, mfa_prompt)  # type: ignore[assignment]
            if base is None:
                raise PresignError(f"profile {name!r}: its source_profile {source_name!r} has no credentials")
    else:
        base = credential_source(profile["credential_source"], env, profile)
    params = {
        "Action": "AssumeRole",
        "Version": VERSION,
        "RoleArn": profile["role_arn"],
        "RoleSessionName": _session_name(profile.get("role_session_name")),
    }
    if profile.get("duration_seconds"):
        params["DurationSeconds"] = profile["duration_seconds"]
    if profile.get("external_id"):
        params["ExternalId"] = profile["external_id"]
    serial = profile.get("mfa_serial")
    if serial:
        if mfa_prompt is None:
            raise PresignError(
                f"profile {name!r} assumes {profile['role_arn']} with MFA ({serial}), and no MFA code can be "
                "asked for here (not a terminal); run in a terminal, or export temporary keys first "
                "(`aws configure export-credentials --profile NAME --format env`)"
            )
        params["SerialNumber"] = serial
        params["TokenCode"] = mfa_prompt(serial).strip()
    region = profile.get("sts_region") or profile.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    url = sts_endpoint(region, profile, env)
    body = _form(params)
    headers = _signed_headers(base, url, region or "us-east-1", body)
    access, secret, token, expiration = _call(url, headers, body, "AssumeRole", env)
    return Credentials(access, secret, token or None, expiration=parse_time(expiration) if expiration else None,
                       source=f"assume-role {profile['role_arn']} (profile {name!r} via {base.source})")


def web_identity(role_arn: str, token_file: str, session_name: str | None, profile: Any,
                 env: Mapping[str, str]) -> Credentials:
    """AssumeRoleWithWebIdentity with the OIDC token in ``token_file`` (EKS IRSA, CI OIDC)."""
    try:
        with open(token_file, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as exc:
        raise PresignError(f"cannot read the web identity token file {token_file}: {exc.strerror}") from None
    if not token:
        raise PresignError(f"the web identity token file {token_file} is empty")
    params = {
        "Action": "AssumeRoleWithWebIdentity",
        "Version": VERSION,
        "RoleArn": role_arn,
        "RoleSessionName": _session_name(session_name),
        "WebIdentityToken": token,
    }
    region = (profile or {}).get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    url = sts_endpoint(region, profile, env)
    body = _form(params)
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    access, secret, session, expiration = _call(url, headers, body, "AssumeRoleWithWebIdentity", env)
    where = f"profile {profile.name!r}" if profile is not None else "AWS_WEB_IDENTITY_TOKEN_FILE"
    return Credentials(access, secret, session or None, expiration=parse_time(expiration) if expiration else None,
                       source=f"web identity {role_arn} ({where})")
