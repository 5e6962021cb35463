"""Credentials, found the way the AWS CLI finds them."""

from __future__ import annotations

import os
TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path
    from typing import Callable, Mapping

from .errors import PresignError


class Credentials:
    """An access key, its secret and an optional session token (never shown in repr).

    Temporary credentials carry ``expiration`` (epoch seconds) and ``source``
    (where they came from, for messages); ``refresh()`` fetches new ones from the
    same source when it can.
    """

    __slots__ = ("access_key", "secret_key", "session_token", "expiration", "source", "_refresher")

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        session_token: str | None = None,
        *,
        expiration: "float | datetime | None" = None,
        source: str | None = None,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token
        if expiration is not None and not isinstance(expiration, (int, float)):
            if getattr(expiration, "tzinfo", None) is None:
                raise PresignError("expiration= must be epoch seconds or a timezone-aware datetime")
            expiration = expiration.timestamp()  # type: ignore[union-attr]
        self.expiration: float | None = None if expiration is None else float(expiration)
        self.source = source
        self._refresher: "Callable[[], Credentials] | None" = None
        if not access_key or not secret_key or not isinstance(access_key, str) or not isinstance(secret_key, str):
            raise PresignError(
                "credentials need both an access key and a secret key; "
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or use a profile"
            )

    @property
    def expires_at(self) -> "datetime | None":
        if self.expiration is None:
            return None
        import datetime as _dt

        return _dt.datetime.fromtimestamp(self.expiration, _dt.timezone.utc)

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        import time

        return self.expiration is not None and self.expiration - (time.time() if now is None else now) < seconds

    def labelled(self, source: str) -> "Credentials":
        self.source = source
        return self

    def refresh(self) -> "Credentials":
        """New credentials from the same source (static ones are returned as they are)."""
        if self._refresher is None:
            return self
        fresh = self._refresher()
        fresh._refresher = self._refresher
        return fresh

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
        """A profile of the shared credentials/config files (AWS_PROFILE, default 'default'):
        static keys, or what the profile says to run (assume-role, web identity, SSO,
        credential_process)."""
        env = os.environ if environ is None else environ
        profile = load_profile(name, env)
        creds = _from_profile(profile, env, (), None)
        if creds is None:
            raise PresignError(
                f"profile {profile.name!r} has no credentials; add aws_access_key_id and "
                "aws_secret_access_key, role_arn, sso_session or credential_process to it"
            )
        return creds

    @classmethod
    def resolve(
        cls,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        mfa_prompt: "Callable[[str], str] | None" = None,
    ) -> "Credentials":
        """The AWS CLI's credential chain: the environment (unless a profile is named),
        the profile (assume-role, web identity, SSO, static keys, credential_process),
        container credentials, then EC2 instance metadata (IMDSv2).

        ``mfa_prompt(serial)`` returns an MFA code for an assume-role profile with
        ``mfa_serial``; without it such a profile is refused. Temporary credentials
        come back with ``expiration`` and ``refresh()`` re-runs this chain."""
        env = os.environ if environ is None else environ
        creds = _chain(profile, env, mfa_prompt)
        if creds.expiration is not None:
            creds._refresher = lambda: _chain(profile, env, mfa_prompt)
        return creds


def _chain(profile: str | None, env: Mapping[str, str], mfa_prompt: "Callable[[str], str] | None") -> Credentials:
    if profile is None and env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return Credentials.from_environment(env).labelled("environment variables")
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") and env.get("AWS_ROLE_ARN") and profile is None:
        from .providers import sts

        return sts.web_identity(env["AWS_ROLE_ARN"], env["AWS_WEB_IDENTITY_TOKEN_FILE"],
                                env.get("AWS_ROLE_SESSION_NAME"), None, env)
    try:
        settings = load_profile(profile, env)
    except PresignError:
        if profile is not None:
            raise
        settings = None
    if settings is not None:
        creds = _from_profile(settings, env, (), mfa_prompt)
        if creds is not None:
            return creds
    from .providers import container, imds

    creds = container.from_environment(env)
    if creds is not None:
        return creds
    creds = imds.fetch(env, settings)
    if creds is not None:
        return creds
    where = f"profile {settings.name!r} has none" if settings is not None else "no profile"
    raise PresignError(
        f"no AWS credentials found ({where}; no AWS_ACCESS_KEY_ID, no container or instance credentials); "
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws configure` / `aws sso login`"
    )


def _from_profile(
    profile: "Profile", env: Mapping[str, str], visited: tuple[str, ...], mfa_prompt: "Callable[[str], str] | None"
) -> Credentials | None:
    """The credentials a profile yields, in botocore's order, or None if it has none."""
    name = profile.name
    if name in visited:
        raise PresignError(
            f"profile {name!r} is its own source ({' -> '.join((*visited, name))}); break the source_profile loop"
        )
    if profile.get("role_arn") and (profile.get("source_profile") or profile.get("credential_source")):
        from .providers import sts

        return sts.assume_role_profile(profile, env, visited + (name,), mfa_prompt)
    if profile.get("role_arn") and profile.get("web_identity_token_file"):
        from .providers import sts

        return sts.web_identity(profile["role_arn"], profile["web_identity_token_file"],
                                profile.get("role_session_name"), profile, env)
    if profile.get("sso_session") or profile.get("sso_start_url"):
        from .providers import sso

        return sso.fetch(profile, env)
    access, secret = profile.get("aws_access_key_id"), profile.get("aws_secret_access_key")
    if access and secret:
        return Credentials(access, secret, profile.get("aws_session_token") or None, source=f"profile {name!r}")
    if profile.get("credential_process"):
        from .providers import process

        return process.run(profile["credential_process"], name)
    return None


def credential_source(kind: str, env: Mapping[str, str], profile: "Profile") -> Credentials:
    """A role profile's ``credential_source``: Environment, Ec2InstanceMetadata or EcsContainer."""
    creds: Credentials | None
    if kind == "Environment":
        creds = Credentials.from_environment(env).labelled("environment variables")
    elif kind == "Ec2InstanceMetadata":
        from .providers import imds

        creds = imds.fetch(env, profile)
    elif kind == "EcsContainer":
        from .providers import container

        creds = container.from_environment(env)
    else:
        raise PresignError(
            f"profile {profile.name!r}: credential_source = {kind!r} is not one of "
            "Environment, Ec2InstanceMetadata, EcsContainer"
        )
    if creds is None:
        raise PresignError(f"profile {profile.name!r}: credential_source {kind} found no credentials")
    return creds


class Profile(dict):
    """The merged settings of one profile, credentials file winning over config
    (``config`` keeps the config file's other sections: sso-session, services)."""

    name: str
    config: "dict[str, dict[str, str]]"


def _read_ini(path: "Path") -> "dict[str, dict[str, str]]":
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise PresignError(f"cannot parse {path}: {exc.message.splitlines()[0]}; fix the file") from None
    return {s: dict(parser.items(s)) for s in parser.sections()}


def _paths(env: Mapping[str, str]) -> "tuple[Path, Path]":
    from pathlib import Path

    home = Path(env.get("HOME", "~")).expanduser()
    creds_path = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials").expanduser()
    config_path = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config").expanduser()
    return creds_path, config_path


def load_config_file(environ: Mapping[str, str] | None = None) -> "dict[str, dict[str, str]]":
    """Every section of the config file (AWS_CONFIG_FILE, default ~/.aws/config)."""
    env = os.environ if environ is None else environ
    config_path = _paths(env)[1]
    return _read_ini(config_path) if config_path.is_file() else {}


def load_profile(name: str | None = None, environ: Mapping[str, str] | None = None) -> Profile:
    env = os.environ if environ is None else environ
    name = name or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    creds_path, config_path = _paths(env)
    config = _read_ini(config_path) if config_path.is_file() else {}
    creds = _read_ini(creds_path) if creds_path.is_file() else {}
    section = config.get(f"profile {name}") or (config.get("default") if name == "default" else None)
    profile = Profile(section or {})
    profile.update(creds.get(name, {}))
    profile.name = name
    profile.config = config
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
