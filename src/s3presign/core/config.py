"""Endpoints and CA bundle from the environment and the config file, as the AWS CLI reads them.

Precedence for a service's endpoint (AWS's "service-specific endpoints"):
AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the ``[services NAME]`` section the
profile names, the profile's ``endpoint_url``; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
(or ``ignore_configured_endpoint_urls``) turns every configured one off.
"""

from __future__ import annotations

import os

from .errors import PresignError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Mapping

# service -> (environment suffix, [services] key): the services' IDs as AWS spells them
SERVICE_IDS = {"s3": ("S3", "s3"), "sts": ("STS", "sts"), "sso": ("SSO", "sso"), "sso-oidc": ("SSO_OIDC", "sso_oidc")}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def parse_nested(text: str) -> dict[str, str]:
    """The indented ``name = value`` lines of a nested setting (``s3 =\\n  endpoint_url = ...``)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip():
            out[name.strip().lower()] = value.strip()
    return out


def service_endpoint(service: str, profile: str | None = None, environ: "Mapping[str, str] | None" = None) -> str | None:
    """The endpoint URL configured for ``service`` ('s3', 'sts', 'sso'), or None for AWS's own."""
    from .credentials import load_config_file, load_profile

    env = os.environ if environ is None else environ
    env_suffix, section_key = SERVICE_IDS[service]
    if _truthy(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
        return None
    url = env.get(f"AWS_ENDPOINT_URL_{env_suffix}") or env.get("AWS_ENDPOINT_URL")
    if url:
        return url
    try:
        settings = load_profile(profile, env)
    except PresignError:
        if profile is not None:
            raise
        return None
    if _truthy(settings.get("ignore_configured_endpoint_urls")):
        return None
    services = settings.get("services")
    if services:
        config = load_config_file(env)
        section = config.get(f"services {services}")
        if section is None:
            raise PresignError(
                f"profile {settings.name!r} names services = {services}, but the config file has no "
                f"[services {services}] section; add it or drop the setting"
            )
        nested = parse_nested(section.get(section_key, ""))
        if nested.get("endpoint_url"):
            return nested["endpoint_url"]
    return settings.get("endpoint_url") or None


def ca_bundle(profile: str | None = None, environ: "Mapping[str, str] | None" = None) -> str | None:
    """AWS_CA_BUNDLE, else the profile's ``ca_bundle``."""
    from .credentials import load_profile

    env = os.environ if environ is None else environ
    if env.get("AWS_CA_BUNDLE"):
        return env["AWS_CA_BUNDLE"]
    try:
        return load_profile(profile, env).get("ca_bundle") or None
    except PresignError:
        return None
