"""Credential providers honour HTTPS_PROXY / HTTP_PROXY / NO_PROXY as the AWS CLI
does, against a loopback forward proxy (tests/core/proxy_standin.py) and the
loopback STS / SSO / container / IMDS stand-ins (tests/cli/standins.py).

The STS names used here exist only inside the proxy (it resolves them to
loopback), so a call that succeeds went through it."""

from __future__ import annotations

import hashlib
import json
import ssl
import time

import pytest

from s3presign import Credentials, PresignError
from s3presign.core.providers import _http, imds
from s3presign.server.tls import make_self_signed
from tests.cli.standins import StandIn, iso
from tests.server.helpers import TOKEN_USER

from .proxy_standin import ProxyStandIn

SOURCE = ("AKIDSOURCEUSER00", "source/secret")
PROXY_ONLY = "sts.proxy-only.test"  # no resolver knows it; the proxy maps it to loopback


@pytest.fixture
def standin():
    server = StandIn(TOKEN_USER, sources={SOURCE[0]: (SOURCE[1], None)})
    yield server
    server.close()


@pytest.fixture
def tls_standin(tmp_path):
    """The same stand-in behind TLS, with a certificate for PROXY_ONLY and 127.0.0.1."""
    server = StandIn(TOKEN_USER, sources={SOURCE[0]: (SOURCE[1], None)})
    cert, key, ca = make_self_signed(tmp_path / "tls", [PROXY_ONLY])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)  # before any request
    server.port = server.server.server_address[1]
    server.ca = str(ca)
    yield server
    server.close()


@pytest.fixture
def proxy():
    server = ProxyStandIn(names=(PROXY_ONLY,))
    yield server
    server.close()


def env_for(tmp_path, **extra):
    (tmp_path / ".aws").mkdir(exist_ok=True)
    env = {"HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": str(tmp_path / ".aws" / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / ".aws" / "credentials")}
    env.update(extra)
    return env


def role_profile(tmp_path):
    (tmp_path / ".aws").mkdir(exist_ok=True)
    (tmp_path / ".aws" / "credentials").write_text(
        f"[base]\naws_access_key_id = {SOURCE[0]}\naws_secret_access_key = {SOURCE[1]}\n")
    (tmp_path / ".aws" / "config").write_text(
        "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\nregion = eu-west-1\n")


def test_signed_sts_call_through_an_http_proxy_and_no_proxy(tmp_path, standin, proxy):
    """AssumeRole to an http:// STS goes to the proxy in absolute form (its SigV4
    signature, over Host, still verifies); NO_PROXY sends it direct."""
    role_profile(tmp_path)
    env = env_for(tmp_path, AWS_ENDPOINT_URL_STS=standin.url, HTTP_PROXY=proxy.url)
    creds = Credentials.resolve("role", env)
    assert creds.session_token == TOKEN_USER[2]
    assert [(s["method"], s["target"]) for s in proxy.seen] == [("POST", standin.url + "/")]
    assert standin.calls[-1]["headers"]["host"] == standin.url.removeprefix("http://")
    port = standin.url.rsplit(":", 1)[1]
    for no_proxy in ("127.0.0.1", f"127.0.0.1:{port}", "*", "localhost, .0.0.1"):
        proxy.seen.clear()
        for name in ("NO_PROXY", "no_proxy"):
            assert Credentials.resolve("role", {**env, name: no_proxy}).access_key == TOKEN_USER[0]
        assert proxy.seen == [], no_proxy
    # a NO_PROXY naming other hosts leaves this one proxied
    assert Credentials.resolve("role", {**env, "NO_PROXY": "example.com,10.0.0.1"}).access_key == TOKEN_USER[0]
    assert len(proxy.seen) == 1
    # HTTPS_PROXY is for https:// targets only
    proxy.seen.clear()
    env.pop("HTTP_PROXY")
    Credentials.resolve("role", {**env, "HTTPS_PROXY": proxy.url})
    assert proxy.seen == []


def test_https_sts_through_a_connect_tunnel(tmp_path, tls_standin, proxy):
    """An https:// STS on a name only the proxy can resolve: CONNECT, then TLS end
    to end (the certificate checked against AWS_CA_BUNDLE for that name)."""
    role_profile(tmp_path)
    url = f"https://{PROXY_ONLY}:{tls_standin.port}"
    env = env_for(tmp_path, AWS_ENDPOINT_URL_STS=url, HTTPS_PROXY=proxy.url, AWS_CA_BUNDLE=tls_standin.ca)
    creds = Credentials.resolve("role", env)
    assert creds.access_key == TOKEN_USER[0] and creds.session_token == TOKEN_USER[2]
    assert [(s["method"], s["target"]) for s in proxy.seen] == [("CONNECT", f"{PROXY_ONLY}:{tls_standin.port}")]
    assert tls_standin.calls[-1]["headers"]["host"] == f"{PROXY_ONLY}:{tls_standin.port}"
    # web identity (unsigned) takes the same road; lower-case https_proxy wins over HTTPS_PROXY
    token = tmp_path / "token"
    token.write_text("oidc-token")
    proxy.seen.clear()
    creds = Credentials.resolve(None, {**env, "HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": proxy.url,
                                       "AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ROLE_ARN": "arn:aws:iam::1:role/x",
                                       "AWS_ENDPOINT_URL": url})
    assert "web identity" in creds.source and proxy.seen[0]["method"] == "CONNECT"


def test_proxy_credentials_and_refusal(tmp_path, tls_standin, standin):
    guarded = ProxyStandIn(credentials=("me", "p@ss:word"), names=(PROXY_ONLY,))
    try:
        role_profile(tmp_path)
        base = env_for(tmp_path, AWS_CA_BUNDLE=tls_standin.ca)
        host = guarded.url.removeprefix("http://")
        good, bad = f"http://me:p%40ss%3Aword@{host}", f"http://me:wrong@{host}"
        https_sts = {"AWS_ENDPOINT_URL_STS": f"https://{PROXY_ONLY}:{tls_standin.port}"}
        assert Credentials.resolve("role", {**base, **https_sts, "HTTPS_PROXY": good}).access_key == TOKEN_USER[0]
        assert Credentials.resolve("role", {**base, "AWS_ENDPOINT_URL_STS": standin.url,
                                            "HTTP_PROXY": good}).access_key == TOKEN_USER[0]
        assert {s["method"] for s in guarded.seen} == {"CONNECT", "POST"}
        assert all(s["proxy_auth"] == "Basic bWU6cEBzczp3b3Jk" for s in guarded.seen)
        with pytest.raises(PresignError, match="through proxy http://127.0.0.1:.*407") as refused:
            Credentials.resolve("role", {**base, **https_sts, "HTTPS_PROXY": bad})
        assert "wrong" not in str(refused.value)  # the proxy's password is never echoed
        with pytest.raises(PresignError, match="only http:// proxies"):
            Credentials.resolve("role", {**base, **https_sts, "HTTPS_PROXY": "https://" + host})
    finally:
        guarded.close()


def test_sso_portal_through_the_proxy(tmp_path, standin, proxy):
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text(
        "[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n"
        "[sso-session corp]\nsso_start_url = https://my.awsapps.com/start\nsso_region = eu-west-1\n")
    cache = tmp_path / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    (cache / (hashlib.sha1(b"corp").hexdigest() + ".json")).write_text(
        json.dumps({"accessToken": "sso-access-token", "expiresAt": iso(time.time() + 3600)}))
    creds = Credentials.resolve("sso", env_for(tmp_path, AWS_ENDPOINT_URL_SSO=standin.url, HTTP_PROXY=proxy.url))
    assert creds.access_key == TOKEN_USER[0]
    assert proxy.seen and proxy.seen[0]["target"].startswith(standin.url + "/federation/credentials?")


def test_metadata_endpoints_bypass_the_proxy(tmp_path, standin, proxy):
    """The container agent and a link-local / loopback IMDS are never proxied (a
    proxy would answer with its own host's metadata); an IMDS endpoint elsewhere
    follows HTTP_PROXY, as botocore's fetcher does."""
    proxies = {"HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url}
    env = env_for(tmp_path, AWS_CONTAINER_CREDENTIALS_FULL_URI=standin.url + "/creds/full",
                  AWS_CONTAINER_AUTHORIZATION_TOKEN="ctok", **proxies)
    assert Credentials.resolve(None, env).source.startswith("container")
    env = env_for(tmp_path, AWS_EC2_METADATA_SERVICE_ENDPOINT=standin.url, **proxies)
    del env["AWS_EC2_METADATA_DISABLED"]
    assert "app-role" in Credentials.resolve(None, env).source
    assert proxy.seen == []
    # a metadata endpoint on a name: through the proxy (which alone can resolve it)
    port = standin.url.rsplit(":", 1)[1]
    named = ProxyStandIn(names=("metadata.proxy-only.test",))
    try:
        creds = imds.fetch({"AWS_EC2_METADATA_SERVICE_ENDPOINT": f"http://metadata.proxy-only.test:{port}",
                            "HTTP_PROXY": named.url})
        assert creds is not None and creds.access_key == TOKEN_USER[0]
        assert [s["method"] for s in named.seen] == ["PUT", "GET", "GET"]
    finally:
        named.close()
    for host in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "127.0.0.1", "::1", "localhost"):
        assert _http.is_metadata_host(host), host
    for host in ("10.0.0.1", "sts.amazonaws.com", "fd00::1"):
        assert not _http.is_metadata_host(host), host


def test_proxy_variables_read_as_urllib_reads_them():
    read = _http.environ_proxies
    assert read({"HTTPS_PROXY": "http://a:1", "https_proxy": "http://b:2"})["https"] == "http://b:2"
    assert "https" not in read({"HTTPS_PROXY": "http://a:1", "https_proxy": ""})
    assert "http" not in read({"HTTP_PROXY": "http://a:1", "REQUEST_METHOD": "GET"})  # CGI: a client could set it
    assert read({"http_proxy": "http://a:1", "REQUEST_METHOD": "GET"})["http"] == "http://a:1"
    env = {"HTTPS_PROXY": "proxy.corp:3128", "NO_PROXY": ".internal,sts.eu-west-1.amazonaws.com"}
    assert _http.proxy_for("https://sts.amazonaws.com/", env) == "http://proxy.corp:3128"
    assert _http.proxy_for("https://sts.eu-west-1.amazonaws.com/", env) is None
    assert _http.proxy_for("https://vault.internal/", env) is None
    assert _http.proxy_for("http://sts.amazonaws.com/", env) is None  # no HTTP_PROXY
