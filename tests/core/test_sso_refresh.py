"""IAM Identity Center: an sso-session token that has ended (or ends within 15
minutes) is refreshed through SSO-OIDC CreateToken, as botocore's
SSOTokenProvider does, the cache entry rewritten atomically (0600), then
GetRoleCredentials. Stand-ins on loopback: tests/core/oidc_standin.py (OIDC) and
tests/cli/standins.py (the SSO portal)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time

import pytest

from s3presign import Credentials, PresignError
from tests.cli.standins import StandIn, iso
from tests.server.helpers import TOKEN_USER

from .oidc_standin import OIDCStandIn

CLIENT = ("client-id-123", "client-secret-456")
CONFIG = ("[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n"
          "[sso-session corp]\nsso_start_url = https://my.awsapps.com/start\nsso_region = eu-west-1\n"
          "sso_registration_scopes = sso:account:access\n")


@pytest.fixture
def portal():
    server = StandIn(TOKEN_USER, sso_token="fresh-access-token")
    yield server
    server.close()


@pytest.fixture
def oidc():
    server = OIDCStandIn(*CLIENT, refresh_token="refresh-token-0")
    yield server
    server.close()


@pytest.fixture
def home(tmp_path):
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text(CONFIG)
    (tmp_path / ".aws" / "sso" / "cache").mkdir(parents=True)
    return tmp_path


def env_for(home, portal, oidc):
    return {"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
            "AWS_ENDPOINT_URL_SSO": portal.url, "AWS_ENDPOINT_URL_SSO_OIDC": oidc.url}


def entry_path(home, key="corp"):
    return home / ".aws" / "sso" / "cache" / (hashlib.sha1(key.encode()).hexdigest() + ".json")


def write_entry(home, *, expires_in: float, key="corp", **fields):
    """An entry as `aws sso login` leaves it for an sso-session profile."""
    entry = {"startUrl": "https://my.awsapps.com/start", "region": "eu-west-1", "accessToken": "old-access-token",
             "expiresAt": iso(time.time() + expires_in), "clientId": CLIENT[0], "clientSecret": CLIENT[1],
             "registrationExpiresAt": iso(time.time() + 86400 * 30), "refreshToken": "refresh-token-0"}
    entry.update(fields)
    entry = {k: v for k, v in entry.items() if v is not None}
    entry_path(home, key).write_text(json.dumps(entry))
    return entry


def test_expired_token_is_refreshed_then_role_credentials_fetched(home, portal, oidc):
    write_entry(home, expires_in=-60)
    before = time.time()
    creds = Credentials.resolve("sso", env_for(home, portal, oidc))
    assert (creds.access_key, creds.session_token) == (TOKEN_USER[0], TOKEN_USER[2])
    assert [c["body"] for c in oidc.calls] == [{"grantType": "refresh_token", "clientId": CLIENT[0],
                                                "clientSecret": CLIENT[1], "refreshToken": "refresh-token-0"}]
    assert oidc.calls[0]["headers"]["content-type"].startswith("application/json")
    assert portal.calls[-1]["headers"]["x-amz-sso_bearer_token"] == "fresh-access-token"
    # the entry is rewritten: new access token and expiry, the rotated refresh token, the registration kept
    path = entry_path(home)
    saved = json.loads(path.read_text())
    assert saved["accessToken"] == "fresh-access-token" and saved["refreshToken"] == "refresh-token-1"
    assert (saved["clientId"], saved["clientSecret"]) == CLIENT
    assert saved["startUrl"] == "https://my.awsapps.com/start" and saved["region"] == "eu-west-1"
    expires = time.mktime(time.strptime(saved["expiresAt"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert before + 28800 - 2 <= expires <= time.time() + 28800 + 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(path.parent)) == [path.name]  # no temporary file left behind
    # the refreshed token is used as it is until it nears its end
    Credentials.resolve("sso", env_for(home, portal, oidc))
    assert len(oidc.calls) == 1


def test_token_ending_within_15_minutes_is_refreshed_ahead(home, portal, oidc):
    write_entry(home, expires_in=600)
    Credentials.resolve("sso", env_for(home, portal, oidc))
    assert len(oidc.calls) == 1 and json.loads(entry_path(home).read_text())["accessToken"] == "fresh-access-token"
    # 20 minutes left: no refresh (botocore's window is 15)
    write_entry(home, expires_in=1200, accessToken="fresh-access-token")
    Credentials.resolve("sso", env_for(home, portal, oidc))
    assert len(oidc.calls) == 1


def test_failed_refresh_keeps_a_token_that_still_works(home, portal, oidc):
    entry = write_entry(home, expires_in=300, refreshToken="revoked")
    portal.sso_token = "old-access-token"
    creds = Credentials.resolve("sso", env_for(home, portal, oidc))
    assert creds.access_key == TOKEN_USER[0] and len(oidc.calls) == 1
    assert json.loads(entry_path(home).read_text()) == entry  # untouched


@pytest.mark.parametrize("fields, reason", [
    ({"refreshToken": "revoked"}, r"could not be refreshed \(SSO-OIDC CreateToken answered HTTP 400 invalid_grant: Invalid refresh token"),
    ({"clientSecret": "wrong"}, r"could not be refreshed \(SSO-OIDC CreateToken answered HTTP 401 invalid_client"),
    ({"registrationExpiresAt": iso(time.time() - 60)}, r"cannot be refreshed \(its client registration expired at"),
    ({"refreshToken": None, "clientSecret": None}, r"cannot be refreshed \(its cache entry has no refreshToken, clientSecret\)"),
])
def test_expired_and_not_refreshable_names_sso_login(home, portal, oidc, fields, reason):
    entry = write_entry(home, expires_in=-5, **fields)
    with pytest.raises(PresignError, match=reason) as refused:
        Credentials.resolve("sso", env_for(home, portal, oidc))
    assert str(refused.value).endswith("and has expired; run `aws sso login --profile sso`")
    assert json.loads(entry_path(home).read_text()) == entry
    if "registration" in reason or "no refreshToken" in reason:
        assert oidc.calls == []  # nothing to ask for


def test_unreachable_oidc_with_an_expired_token_names_sso_login(home, portal, oidc):
    write_entry(home, expires_in=-5)
    env = {**env_for(home, portal, oidc), "AWS_ENDPOINT_URL_SSO_OIDC": "http://127.0.0.1:9"}
    with pytest.raises(PresignError, match=r"could not be refreshed \(SSO-OIDC at http://127.0.0.1:9 unreachable.*"
                                           r"aws sso login --profile sso"):
        Credentials.resolve("sso", env)


def test_legacy_profile_is_not_refreshed(home, portal, oidc):
    """A profile with sso_start_url and no sso_session: botocore does not refresh
    its token either; a new login is the way."""
    (home / ".aws" / "config").write_text(
        "[profile sso]\nsso_start_url = https://my.awsapps.com/start\nsso_region = eu-west-1\n"
        "sso_account_id = 123456789012\nsso_role_name = Dev\n")
    write_entry(home, expires_in=-5, key="https://my.awsapps.com/start")
    with pytest.raises(PresignError, match="has expired; run `aws sso login --profile sso`"):
        Credentials.resolve("sso", env_for(home, portal, oidc))
    assert oidc.calls == []


def test_crash_while_writing_leaves_the_previous_entry(home, portal, oidc, monkeypatch):
    entry = write_entry(home, expires_in=-5)

    def power_cut(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(OSError):
        Credentials.resolve("sso", env_for(home, portal, oidc))
    assert json.loads(entry_path(home).read_text()) == entry
    assert sorted(os.listdir(entry_path(home).parent)) == [entry_path(home).name]


def test_same_refresh_as_botocore(home, portal, oidc, monkeypatch):
    """botocore's SSOTokenProvider, given the same entry and the same stand-in, makes
    the same CreateToken call and leaves an entry with the same fields."""
    import botocore.session
    from botocore.tokens import SSOTokenProvider, _sso_json_dumps
    from botocore.utils import JSONFileCache

    write_entry(home, expires_in=-60)
    Credentials.resolve("sso", env_for(home, portal, ours := oidc))
    mine = json.loads(entry_path(home).read_text())

    theirs = OIDCStandIn(*CLIENT, refresh_token="refresh-token-0")
    try:
        write_entry(home, expires_in=-60)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", theirs.url)
        session = botocore.session.Session(profile="sso")
        cache = JSONFileCache(str(home / ".aws" / "sso" / "cache"), dumps_func=_sso_json_dumps)
        token = SSOTokenProvider(session, cache=cache, profile_name="sso").load_token().get_frozen_token()
        assert token.token == "fresh-access-token"
        botos = json.loads(entry_path(home).read_text())
    finally:
        theirs.close()
    assert theirs.calls[0]["body"] == ours.calls[0]["body"]
    assert set(mine) == set(botos)
    for field in ("startUrl", "region", "accessToken", "clientId", "clientSecret", "registrationExpiresAt",
                  "refreshToken"):
        assert mine[field] == botos[field], field
