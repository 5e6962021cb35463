"""Credentials, found the way the AWS CLI finds them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from pathlib import Path

from .errors import PresignError


class Credentials:
    """An access key, its secret and an optional session token (never shown in repr)."""

    __slots__ = ("access_key", "secret_key", "session_token")

    def __init__(self, access_key: str, secret_key: str, session_token: str | None = None) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token
        if not access_key or not secret_key or not isinstance(access_key, str) or not isinstance(secret_key, str):
            raise PresignError(
                "credentials need both an access key and a secret key; "
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or use a profile"
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "Credentials":
        """AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optional AWS_SESSION_TOKEN."""
        env = os.environ if environ is None else environ
        access = env.get("AWS_ACCESS_KEY_ID")
        secret = env.get("AWS_SECRET_ACCESS_KEY")
        if not access or not secret:
            raise PresignError(
                "no credentials in the environment; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or name a profile"
            )
        return cls(access, secret, env.get("AWS_SESSION_TOKEN") or None)

    def __repr__(self) -> str:
        return f"Credentials(access_key={self.access_key!r}, secret_key=***)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Credentials) and (
            self.access_key, self.secret_key, self.session_token
        ) == (other.access_key, other.secret_key, other.session_token)

    def __hash__(self) -> int:
        return hash((self.access_key, self.secret_key, self.session_token))

    @classmethod
    def from_profile(cls, name: str | None = None, environ: Mapping[str, str] | None = None) -> "Credentials":
        """A profile of the shared credentials/config files (AWS_PROFILE, default 'default')."""
        profile = load_profile(name, environ)
        access = profile.get("aws_access_key_id")
        secret = profile.get("aws_secret_access_key")
        if not access or not secret:
            unsupported = sorted(
                k for k in ("credential_process", "sso_start_url", "sso_session", "role_arn", "web_identity_token_file")
                if k in profile
            )
            hint = (
                f"; it uses {', '.join(unsupported)}, which s3presign does not run — export "
                "temporary keys (e.g. `aws configure export-credentials --format env`)"
                if unsupported
                else "; add aws_access_key_id and aws_secret_access_key to it"
            )
            raise PresignError(f"profile {profile.name!r} has no static access keys{hint}")
        return cls(access, secret, profile.get("aws_session_token") or None)

    @classmethod
    def resolve(cls, profile: str | None = None, environ: Mapping[str, str] | None = None) -> "Credentials":
        """The AWS CLI's order: an explicit profile, else the environment, else the profile files."""
        env = os.environ if environ is None else environ
        if profile is None and env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            return cls.from_environment(env)
        return cls.from_profile(profile, env)


class Profile(dict):
    """The merged settings of one profile, credentials file winning over config."""

    name: str


def _read_ini(path: "Path") -> "dict[str, dict[str, str]]":
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise PresignError(f"cannot parse {path}: {exc.message.splitlines()[0]}; fix the file") from None
    return {s: dict(parser.items(s)) for s in parser.sections()}


def load_profile(name: str | None = None, environ: Mapping[str, str] | None = None) -> Profile:
    from pathlib import Path

    env = os.environ if environ is None else environ
    name = name or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    home = Path(env.get("HOME", "~")).expanduser()
    creds_path = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials").expanduser()
    config_path = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config").expanduser()
    config = _read_ini(config_path) if config_path.is_file() else {}
    creds = _read_ini(creds_path) if creds_path.is_file() else {}
    section = config.get(f"profile {name}") or (config.get("default") if name == "default" else None)
    profile = Profile(section or {})
    profile.update(creds.get(name, {}))
    profile.name = name
    if not profile and (section is None and name not in creds):
        raise PresignError(
            f"profile {name!r} not found in {creds_path} or {config_path}; "
            "run `aws configure --profile NAME` or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    return profile


def profile_region(name: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The region as the AWS CLI picks it: AWS_REGION, AWS_DEFAULT_REGION, then the profile."""
    env = os.environ if environ is None else environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        return region
    try:
        return load_profile(name, env).get("region")
    except PresignError:
        return None
