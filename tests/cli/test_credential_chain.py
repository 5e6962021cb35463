"""The AWS CLI's credential chain, each source against a loopback stand-in that
speaks its real protocol, and each source's URLs used against the real server
(which knows the issued keys: TOKEN_USER, with its session token)."""

from __future__ import annotations

import uuid

import hashlib
import json
import os
import stat
import sys
import time

import httpx
import pytest

from s3presign import Credentials, Presigner, PresignError
from s3presign.core.providers import container
from tests.cli.conftest import new_bucket
from tests.cli.standins import StandIn, iso
from tests.cli.test_bound_uploads import cli
from tests.server.helpers import MAIN, TOKEN_USER

SOURCE = ("AKIDSOURCEUSER00", "source/secret")


@pytest.fixture
def standin():
    server = StandIn(TOKEN_USER, sources={SOURCE[0]: (SOURCE[1], None), TOKEN_USER[0]: (TOKEN_USER[1], TOKEN_USER[2])})
    yield server
    server.close()


@pytest.fixture
def home(tmp_path):
    (tmp_path / ".aws").mkdir()
    return tmp_path


def env_for(home, **extra):
    env = {"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials")}
    env.update(extra)
    return env


def works(endpoint, creds, bucket=None):
    """A URL signed with ``creds`` reads an object from the real server."""
    # the signer's own bucket: another account's would refuse it (403)
    owner = endpoint.client(creds=(creds.access_key, creds.secret_key, creds.session_token))
    if bucket is None:
        bucket = f"g-{uuid.uuid4().hex[:16]}"
        owner.create_bucket(Bucket=bucket)
    owner.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
    presigner = Presigner(creds, endpoint.region, endpoint_url=endpoint.url, addressing_style="path")
    request = presigner.presign("GET", bucket, "hello.txt", expires_in="1h")
    response = httpx.get(request.url, headers=request.headers, timeout=30)
    assert response.status_code == 200 and response.content == b"hello", response.text
    return request


def test_credential_process(http_endpoint, home):
    script = home / "creds.py"
    script.write_text(
        "import json, time\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': {TOKEN_USER[0]!r}, 'SecretAccessKey': {TOKEN_USER[1]!r},"
        f" 'SessionToken': {TOKEN_USER[2]!r},"
        " 'Expiration': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 600))}))\n"
    )
    (home / ".aws" / "config").write_text(f"[profile proc]\ncredential_process = {sys.executable} {script}\n")
    creds = Credentials.resolve("proc", env_for(home))
    assert creds.session_token == TOKEN_USER[2] and "credential_process" in creds.source
    assert 590 < creds.expiration - time.time() <= 600
    request = works(http_endpoint, creds)
    # a URL made with credentials expiring in 10 minutes never claims to last longer
    assert request.expires_at.timestamp() <= creds.expiration
    assert "X-Amz-Expires=3600" not in request.url


def test_assume_role_with_source_profile(http_endpoint, home, standin):
    (home / ".aws" / "credentials").write_text(
        f"[base]\naws_access_key_id = {SOURCE[0]}\naws_secret_access_key = {SOURCE[1]}\n")
    (home / ".aws" / "config").write_text(
        "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n"
        "role_session_name = me\nregion = eu-west-1\nduration_seconds = 900\n"
        "[profile chained]\nrole_arn = arn:aws:iam::123456789012:role/second\nsource_profile = role\n"
    )
    creds = Credentials.resolve("role", env_for(home, AWS_ENDPOINT_URL_STS=standin.url))
    assert (creds.access_key, creds.session_token) == (TOKEN_USER[0], TOKEN_USER[2])
    assert "assume-role arn:aws:iam::123456789012:role/app" in creds.source and creds.expiration
    call = standin.calls[-1]
    assert call["params"]["RoleSessionName"] == "me" and call["params"]["DurationSeconds"] == "900"
    assert "/eu-west-1/sts/aws4_request" in call["headers"]["authorization"]
    works(http_endpoint, creds)
    # a role whose source is itself a role: two AssumeRole calls, the second signed with the first's keys
    standin.calls.clear()
    creds = Credentials.resolve("chained", env_for(home, AWS_ENDPOINT_URL_STS=standin.url))
    assert [c["params"]["RoleArn"].rsplit("/", 1)[1] for c in standin.calls] == ["app", "second"]
    assert TOKEN_USER[0] in standin.calls[1]["headers"]["authorization"]
    works(http_endpoint, creds)


def test_assume_role_credential_source_and_services_section(http_endpoint, home, standin):
    (home / ".aws" / "config").write_text(
        "[profile ci]\nrole_arn = arn:aws:iam::1:role/ci\ncredential_source = Environment\nservices = local\n"
        f"[services local]\nsts =\n  endpoint_url = {standin.url}\n"
    )
    env = env_for(home, AWS_ACCESS_KEY_ID=SOURCE[0], AWS_SECRET_ACCESS_KEY=SOURCE[1])
    creds = Credentials.resolve("ci", env)
    assert creds.access_key == TOKEN_USER[0] and "environment variables" in creds.source
    works(http_endpoint, creds)


def test_assume_role_with_mfa(home, standin):
    (home / ".aws" / "credentials").write_text(
        f"[base]\naws_access_key_id = {SOURCE[0]}\naws_secret_access_key = {SOURCE[1]}\n")
    (home / ".aws" / "config").write_text(
        "[profile mfa]\nrole_arn = arn:aws:iam::1:role/admin\nsource_profile = base\n"
        "mfa_serial = arn:aws:iam::1:mfa/me\n")
    standin.mfa = ("arn:aws:iam::1:mfa/me", "123456")
    env = env_for(home, AWS_ENDPOINT_URL_STS=standin.url)
    with pytest.raises(PresignError, match="MFA .*no MFA code can be asked for"):
        Credentials.resolve("mfa", env)
    assert standin.calls == []  # refused before any request
    asked = []
    creds = Credentials.resolve("mfa", env, mfa_prompt=lambda serial: asked.append(serial) or "123456")
    assert asked == ["arn:aws:iam::1:mfa/me"] and creds.access_key == TOKEN_USER[0]
    with pytest.raises(PresignError, match="AccessDenied"):
        Credentials.resolve("mfa", env, mfa_prompt=lambda serial: "000000")
    # the CLI, not on a terminal, refuses in one line
    out = cli_env(home, env, "url", "GET", "s3://my-bucket/k", "--profile", "mfa")
    assert out.returncode == 2 and "MFA" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def cli_env(home, env, *args):
    import subprocess

    full = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "s3presign", *args], capture_output=True, text=True, env=full,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_web_identity_from_environment_and_profile(http_endpoint, home, standin):
    token = home / "token"
    token.write_text("oidc-token\n")
    env = env_for(home, AWS_WEB_IDENTITY_TOKEN_FILE=str(token), AWS_ROLE_ARN="arn:aws:iam::1:role/eks",
                  AWS_ROLE_SESSION_NAME="pod", AWS_ENDPOINT_URL=standin.url)
    creds = Credentials.resolve(None, env)
    assert creds.access_key == TOKEN_USER[0] and "web identity" in creds.source
    call = standin.calls[-1]
    assert call["params"]["Action"] == "AssumeRoleWithWebIdentity" and call["params"]["RoleSessionName"] == "pod"
    works(http_endpoint, creds)
    (home / ".aws" / "config").write_text(
        f"[profile oidc]\nrole_arn = arn:aws:iam::1:role/ci\nweb_identity_token_file = {token}\n")
    creds = Credentials.resolve("oidc", env_for(home, AWS_ENDPOINT_URL_STS=standin.url))
    assert creds.session_token == TOKEN_USER[2]
    token.write_text("wrong")
    with pytest.raises(PresignError, match="InvalidIdentityToken"):
        Credentials.resolve("oidc", env_for(home, AWS_ENDPOINT_URL_STS=standin.url))


@pytest.mark.parametrize("legacy", [False, True])
def test_sso_token_cache_and_get_role_credentials(http_endpoint, home, standin, legacy):
    if legacy:
        config = ("[profile sso]\nsso_start_url = https://my.awsapps.com/start\nsso_region = eu-west-1\n"
                  "sso_account_id = 123456789012\nsso_role_name = Dev\n")
        key = "https://my.awsapps.com/start"
    else:
        config = ("[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n"
                  "[sso-session corp]\nsso_start_url = https://my.awsapps.com/start\nsso_region = eu-west-1\n")
        key = "corp"
    (home / ".aws" / "config").write_text(config)
    env = env_for(home, AWS_ENDPOINT_URL_SSO=standin.url)
    with pytest.raises(PresignError, match="aws sso login --profile sso"):
        Credentials.resolve("sso", env)
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    entry = cache / (hashlib.sha1(key.encode()).hexdigest() + ".json")
    entry.write_text(json.dumps({"accessToken": "sso-access-token", "expiresAt": iso(time.time() + 3600),
                                 "region": "eu-west-1", "startUrl": "https://my.awsapps.com/start"}))
    creds = Credentials.resolve("sso", env)
    assert creds.access_key == TOKEN_USER[0] and "SSO role Dev" in creds.source
    assert "account_id=123456789012" in standin.calls[-1]["path"] and "role_name=Dev" in standin.calls[-1]["path"]
    works(http_endpoint, creds)
    entry.write_text(json.dumps({"accessToken": "sso-access-token", "expiresAt": iso(time.time() - 5)}))
    with pytest.raises(PresignError, match="expired; run `aws sso login"):
        Credentials.resolve("sso", env)


def test_container_full_and_relative_uri(http_endpoint, home, standin):
    token_file = home / "ctoken"
    token_file.write_text("ctok")
    env = env_for(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=standin.url + "/creds/full",
                  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token_file))
    creds = Credentials.resolve(None, env)
    assert creds.access_key == TOKEN_USER[0] and "FULL_URI" in creds.source
    assert standin.calls[-1]["headers"]["authorization"] == "ctok"
    works(http_endpoint, creds)
    with pytest.raises(PresignError, match="plain http is allowed only to loopback"):
        container.from_environment({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.com/creds"})
    # RELATIVE_URI names a path on the ECS agent; here the agent is the stand-in
    creds = container.from_environment({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/creds/relative"}, agent=standin.url)
    assert creds.session_token == TOKEN_USER[2] and "RELATIVE_URI" in creds.source
    works(http_endpoint, creds)


def test_imds_v2(http_endpoint, home, standin):
    env = env_for(home, AWS_EC2_METADATA_SERVICE_ENDPOINT=standin.url)
    del env["AWS_EC2_METADATA_DISABLED"]
    creds = Credentials.resolve(None, env)
    assert creds.access_key == TOKEN_USER[0] and "app-role" in creds.source
    token_put = [c for c in standin.calls if c["service"] == "imds-token"]
    assert token_put and token_put[0]["headers"]["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    assert all(c["headers"].get("x-aws-ec2-metadata-token") for c in standin.calls if c["service"] == "get")
    works(http_endpoint, creds)
    with pytest.raises(PresignError, match="no AWS credentials found"):
        Credentials.resolve(None, {**env, "AWS_EC2_METADATA_DISABLED": "true"})


def test_chain_order(home, standin):
    """Environment first; a named profile skips it; the profile before container and IMDS."""
    (home / ".aws" / "credentials").write_text("[p]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n")
    env = env_for(home, AWS_ACCESS_KEY_ID="AKIDENV", AWS_SECRET_ACCESS_KEY="s",
                  AWS_CONTAINER_CREDENTIALS_FULL_URI=standin.url + "/creds/x", AWS_CONTAINER_AUTHORIZATION_TOKEN="ctok",
                  AWS_EC2_METADATA_SERVICE_ENDPOINT=standin.url)
    assert Credentials.resolve(None, env).access_key == "AKIDENV"
    assert Credentials.resolve("p", env).access_key == "AKIDPROFILE"
    env.pop("AWS_ACCESS_KEY_ID")
    assert Credentials.resolve(None, {**env, "AWS_PROFILE": "p"}).access_key == "AKIDPROFILE"
    assert Credentials.resolve(None, env).source.startswith("container")
    assert standin.calls and all(c["path"].startswith("/creds") for c in standin.calls)


def test_expiry_is_capped_and_the_cli_says_so(http_endpoint, home, standin):
    standin.lifetime = 600
    env = env_for(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=standin.url + "/creds/full",
                  AWS_CONTAINER_AUTHORIZATION_TOKEN="ctok", AWS_ENDPOINT_URL=http_endpoint.url,
                  AWS_REGION=http_endpoint.region)
    creds = Credentials.resolve(None, env)
    presigner = Presigner(creds, http_endpoint.region, endpoint_url=http_endpoint.url)
    request = presigner.presign("GET", "my-bucket", "k", expires_in="1h")
    expires = int(request.url.split("X-Amz-Expires=")[1].split("&")[0])
    assert 590 <= expires <= 600 and request.expires_at.timestamp() <= creds.expiration
    uncapped = Presigner(creds, http_endpoint.region, endpoint_url=http_endpoint.url, cap_expiry=False)
    request = uncapped.presign("GET", "my-bucket", "k", expires_in="1h")
    assert "X-Amz-Expires=3600" in request.url and request.expires_at.timestamp() <= creds.expiration
    out = cli_env(home, env, "url", "GET", "s3://my-bucket/k", "--expires-in", "1h", "--output", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert "X-Amz-Expires=3600" not in data["url"] and "container credentials" in out.stderr
    assert "--no-cap-expiry" in out.stderr
    out = cli_env(home, env, "url", "GET", "s3://my-bucket/k", "--expires-in", "1h", "--no-cap-expiry")
    assert "X-Amz-Expires=3600" in out.stdout and "stops working" in out.stderr
    # credentials that have already expired are refused, naming the source
    expired = Credentials(*TOKEN_USER, expiration=time.time() - 1, source="a test")
    with pytest.raises(PresignError, match="credentials from a test expired"):
        Presigner(expired).presign("GET", "my-bucket", "k")


def test_refresh_fetches_new_credentials(home, standin):
    env = env_for(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=standin.url + "/creds/full",
                  AWS_CONTAINER_AUTHORIZATION_TOKEN="ctok")
    creds = Credentials.resolve(None, env)
    standin.issue = (MAIN[0], MAIN[1], "new-token")
    assert creds.expires_within(4000) and not creds.expires_within(60)
    fresh = creds.refresh()
    assert fresh.session_token == "new-token" and fresh.refresh().session_token == "new-token"
    static = Credentials("AKID", "SECRET")
    assert static.refresh() is static and not static.expires_within(10**9)


def test_endpoint_settings_precedence(http_endpoint, home):
    """AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL > [services] s3 endpoint_url > the profile's endpoint_url."""
    from s3presign.core.config import service_endpoint

    (home / ".aws" / "config").write_text(
        "[profile local]\nendpoint_url = http://profile.example\nservices = dev\n"
        f"[services dev]\ns3 =\n  endpoint_url = {http_endpoint.url}\n  addressing_style = path\n"
        "[profile plain]\nendpoint_url = http://profile.example\n")
    env = env_for(home)
    assert service_endpoint("s3", "local", env) == http_endpoint.url
    assert service_endpoint("s3", "plain", env) == "http://profile.example"
    assert service_endpoint("s3", "local", {**env, "AWS_ENDPOINT_URL": "http://all"}) == "http://all"
    assert service_endpoint("s3", "local", {**env, "AWS_ENDPOINT_URL": "http://all",
                                             "AWS_ENDPOINT_URL_S3": "http://s3only"}) == "http://s3only"
    assert service_endpoint("sts", "local", env) == "http://profile.example"
    assert service_endpoint("s3", "local", {**env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}) is None
    # the CLI uses the [services] section: its URL works against the server behind it
    (home / ".aws" / "credentials").write_text(f"[local]\naws_access_key_id = {MAIN[0]}\naws_secret_access_key = {MAIN[1]}\n")
    bucket = new_bucket(http_endpoint)
    http_endpoint.client().put_object(Bucket=bucket, Key="k", Body=b"via services")
    out = cli_env(home, {**env, "AWS_REGION": http_endpoint.region}, "url", "GET", f"s3://{bucket}/k", "--profile", "local")
    assert out.returncode == 0, out.stderr
    assert httpx.get(out.stdout.strip(), timeout=30).content == b"via services"


def test_long_upload_refreshes_credentials(http_endpoint, home, standin, tmp_path):
    """A multipart upload with credentials close to expiry signs its later requests
    with refreshed ones (each refresh is a real call to the container endpoint)."""
    from s3presign.client.transfer import multipart_upload

    standin.lifetime = 200  # inside the refresh margin: every step refreshes
    env = env_for(home, AWS_CONTAINER_CREDENTIALS_FULL_URI=standin.url + "/creds/full",
                  AWS_CONTAINER_AUTHORIZATION_TOKEN="ctok")
    creds = Credentials.resolve(None, env)
    calls = len(standin.calls)
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(11 * 1024 * 1024))
    bucket = new_bucket(http_endpoint)
    # the refreshed keys are another account's: the bucket's owner lets it upload
    http_endpoint.client().put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    presigner = Presigner(creds, http_endpoint.region, endpoint_url=http_endpoint.url, addressing_style="path")
    with httpx.Client(timeout=60) as client:
        done = multipart_upload(client, presigner, bucket, "big.bin", str(path), part_size=5 * 1024 * 1024,
                                concurrency=1, progress=False)
    assert done.parts == 3 and len(standin.calls) - calls >= 4  # 3 parts + complete
    reader = http_endpoint.client(creds=(creds.access_key, creds.secret_key, creds.session_token))  # its owner (ObjectWriter)
    got = reader.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert got == path.read_bytes()


def test_post_policy_ends_with_the_credentials():
    import base64

    creds = Credentials(*TOKEN_USER, expiration=time.time() + 600, source="a test")
    form = Presigner(creds).presign_post("my-bucket", "k", expires_in="2h")
    policy = json.loads(base64.b64decode(form.fields["policy"]))
    assert form.expires_at.timestamp() <= creds.expiration
    assert policy["expiration"] <= iso(creds.expiration)
