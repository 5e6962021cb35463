"""One HTTP exchange with a credential endpoint (http.client, strict timeouts).

Proxies are the AWS CLI's: HTTPS_PROXY / HTTP_PROXY (lower-case names win, and
HTTP_PROXY is ignored under CGI, as urllib does), NO_PROXY as urllib matches it
(host suffixes, '*'). An https:// target goes through a CONNECT tunnel, so TLS
and the certificate check are end to end; an http:// one is sent to the proxy
in absolute form. Metadata endpoints (container, IMDS on a link-local or
loopback address) are never proxied: a proxy would answer with its own host's
metadata, or not at all.
"""

from __future__ import annotations

import http.client
import os
from typing import Mapping
from urllib.parse import unquote, urlsplit

from ..errors import PresignError

# Credential endpoints answer small documents; anything larger is not one.
MAX_BODY = 1 << 20


def environ_proxies(env: Mapping[str, str]) -> dict[str, str]:
    """{'http': url, 'https': url, 'no': list, ...} from *_PROXY variables."""
    found: dict[str, str] = {}
    for name, value in env.items():  # any case first ...
        if value and name.lower().endswith("_proxy"):
            found[name.lower()[:-6]] = value
    if "REQUEST_METHOD" in env:  # a CGI script: HTTP_PROXY may come from a client's "Proxy:" header
        found.pop("http", None)
    for name, value in env.items():  # ... then the lower-case names override (empty ones unset)
        if name.endswith("_proxy"):
            if value:
                found[name[:-6]] = value
            else:
                found.pop(name[:-6], None)
    return found


def proxy_for(url: str, env: Mapping[str, str]) -> str | None:
    """The proxy URL a request to ``url`` goes through, or None (direct)."""
    parts = urlsplit(url)
    proxies = environ_proxies(env)
    proxy = proxies.get(parts.scheme)
    if not proxy:
        return None
    if "no" in proxies:
        from urllib.request import proxy_bypass_environment

        if proxy_bypass_environment(parts.netloc, proxies):
            return None
    if proxy.startswith("//"):
        proxy = "http:" + proxy
    elif not proxy.startswith(("http:", "https:")):
        proxy = "http://" + proxy  # HTTPS_PROXY=proxy:3128, as botocore reads it
    return proxy


def is_metadata_host(host: str) -> bool:
    """Link-local or loopback (169.254.169.254, 169.254.170.2, fd00:ec2::254 included)."""
    import ipaddress

    if host.lower() in ("localhost", "fd00:ec2::254", "fd00:ec2::23"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_link_local or address.is_loopback


def _shown(proxy_url: str) -> str:
    """The proxy's address without its credentials (for messages)."""
    parts = urlsplit(proxy_url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
    what: str = "credential endpoint",
    cafile: str | None = None,
    env: Mapping[str, str] | None = None,
    use_proxy: bool = True,
) -> tuple[int, bytes]:
    """(status, body). Network failures raise ConnectionError (the chain may go on)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PresignError(f"{what} URL {url!r} must be http:// or https://")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = dict(headers or {})
    proxy = proxy_for(url, os.environ if env is None else env) if use_proxy else None
    host, port, via = parts.hostname, parts.port, ""
    if proxy is not None:
        pparts = urlsplit(proxy)
        if pparts.scheme != "http" or not pparts.hostname:
            raise PresignError(
                f"proxy {_shown(proxy)} for {what}: only http:// proxies are supported "
                "(an https:// target still gets end-to-end TLS through CONNECT); fix HTTPS_PROXY / HTTP_PROXY"
            )
        auth: dict[str, str] = {}
        if pparts.username is not None:
            from base64 import b64encode

            pair = f"{unquote(pparts.username)}:{unquote(pparts.password or '')}".encode()
            auth["Proxy-Authorization"] = "Basic " + b64encode(pair).decode()
        host, port, via = pparts.hostname, pparts.port or 80, f" through proxy {_shown(proxy)}"
        if parts.scheme == "http":
            target = f"http://{parts.netloc}{target}"  # absolute form: the proxy makes the request
            headers.update(auth)
    try:
        if parts.scheme == "https":
            import ssl

            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=ssl.create_default_context(cafile=cafile or None)
            )
            if proxy is not None:
                conn.set_tunnel(parts.hostname, parts.port, headers=auth)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
    except ValueError as exc:  # e.g. a port that is not a number
        raise PresignError(f"{what} at {url}{via}: {exc}") from None
    try:
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read(MAX_BODY + 1)
        if len(data) > MAX_BODY:
            raise PresignError(f"{what} at {url} answered more than 1 MiB; that is not a credential document")
        return response.status, data
    except (OSError, http.client.HTTPException) as exc:
        raise ConnectionError(f"{what} at {parts.scheme}://{parts.netloc}{via} unreachable: {exc}") from None
    finally:
        conn.close()


def parse_time(text: str) -> float:
    """Epoch seconds of an ISO-8601 instant ('2026-01-01T00:00:00Z', with fraction or offset)."""
    import datetime as _dt

    value = text.strip().replace("Z", "+00:00").replace("UTC", "+00:00")
    try:
        stamp = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise PresignError(f"credential expiration {text!r} is not ISO-8601") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_dt.timezone.utc)
    return stamp.timestamp()
