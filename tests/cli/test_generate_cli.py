"""`s3presign url` / `post` as a user runs them: subprocesses, real output."""

import base64
import json
import os
import subprocess
import sys

import pytest

from s3presign import SSE, Credentials, Presigner

ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AWS_REGION": "eu-west-1",
}
for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
    ENV.pop(name, None)


def run(*args, env=ENV):
    return subprocess.run([sys.executable, "-m", "s3presign", *args], capture_output=True, text=True, env=env)


def test_url_json_is_reproducible_and_matches_the_library():
    out = run("url", "PUT", "s3://my-bucket/dir/a b.txt", "--sse", "kms:alias/app", "--kms-context", '{"p":"x"}',
              "--timestamp", "2026-01-01T00:00:00Z", "--output", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    expected = Presigner(Credentials(ENV["AWS_ACCESS_KEY_ID"], ENV["AWS_SECRET_ACCESS_KEY"]), "eu-west-1").presign(
        "PUT", "my-bucket", "dir/a b.txt", sse=SSE.kms("alias/app", {"p": "x"}), now=1767225600
    )
    assert data == expected.to_dict()
    assert data["headers"]["x-amz-server-side-encryption"] == "aws:kms"


def test_url_text_prints_url_on_stdout_and_headers_on_stderr():
    out = run("url", "PUT", "s3://my-bucket/k", "--sse", "c")
    assert out.returncode == 0
    assert out.stdout.startswith("https://my-bucket.s3.eu-west-1.amazonaws.com/k?") and out.stdout.count("\n") == 1
    assert "x-amz-server-side-encryption-customer-algorithm: AES256" in out.stderr
    assert "x-amz-server-side-encryption-customer-key:" in out.stderr


def test_fixed_key_from_file(tmp_path):
    key = bytes(range(32))
    path = tmp_path / "key.txt"
    path.write_text(base64.b64encode(key).decode() + "\n")
    out = run("url", "GET", "s3://my-bucket/k", "--sse", "c-key", "--sse-c-key-file", str(path), "--output", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["headers"]["x-amz-server-side-encryption-customer-key"] == base64.b64encode(key).decode()
    assert base64.b64encode(key).decode() not in data["url"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["url", "PUT", "s3://my-bucket/k", "--sse", "kms", "--signature-version", "v2"], "Signature Version 4"),
        (["url", "GET", "s3://my-bucket/k", "--expires-in", "-1"], "1 to 604800"),
        (["url", "PUT", "s3://my-bucket/"], "object key"),
        (["url", "GET", "s3://my-bucket/k", "--expires-in", "8d"], "604800"),
        (["url", "GET", "s3://my-bucket/k", "--expires-in", "1 hour"], "15m"),
        (["url", "PUT", "s3://my-bucket/k", "--checksum", "md4:AAAA"], "sha256"),
        (["url", "PUT", "s3://my-bucket/k", "--checksum", "sha256"], "--for-file"),
        (["url", "PUT", "s3://my-bucket/k", "--content-md5", "nope"], "base64"),
        (["url", "GET", "s3://my-bucket/k", "--content-length", "3"], "PUT"),
        (["url", "GET", "my-bucket/k"], "s3://BUCKET/KEY"),
        (["url", "GET", "s3://My_Bucket/k"], "bucket naming rules"),
        (["url", "PUT", "s3://my-bucket/k", "--sse", "c-key", "--sse-c-key-file", "/nonexistent"], "cannot read"),
        (["url", "GET", "s3://my-bucket/k", "--timestamp", "yesterday"], "ISO-8601"),
        (["post", "s3://my-bucket/k", "--content-length-range", "x"], "MIN,MAX"),
        (["url", "PATCH", "s3://my-bucket/k"], "PATCH"),
    ],
)
def test_refusals_are_one_line_exit_2(args, words):
    out = run(*args)
    assert out.returncode == 2
    assert words in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_missing_credentials_is_one_line(tmp_path):
    env = {k: v for k, v in ENV.items() if not k.startswith("AWS_ACCESS") and not k.startswith("AWS_SECRET")}
    env["HOME"] = str(tmp_path)
    out = run("url", "GET", "s3://my-bucket/k", env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "no AWS credentials found" in out.stderr


def test_profile_credentials_and_region(tmp_path):
    (tmp_path / "credentials").write_text("[dev]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s3cr3t\n")
    (tmp_path / "config").write_text("[profile dev]\nregion = ap-south-1\n")
    env = {k: v for k, v in ENV.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"), AWS_CONFIG_FILE=str(tmp_path / "config"))
    out = run("url", "GET", "s3://my-bucket/k", "--profile", "dev", "--output", "json", env=env)
    assert out.returncode == 0, out.stderr
    url = json.loads(out.stdout)["url"]
    assert "AKIDPROFILE%2F" in url and "%2Fap-south-1%2Fs3%2F" in url and "s3.ap-south-1.amazonaws.com" in url


def test_post_json_and_html():
    out = run("post", "s3://my-bucket/uploads/${filename}", "--sse", "s3", "--content-length-range", "1,1048576")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["url"] == "https://my-bucket.s3.eu-west-1.amazonaws.com/"
    assert data["fields"]["x-amz-server-side-encryption"] == "AES256"
    policy = json.loads(base64.b64decode(data["fields"]["policy"]))
    assert ["starts-with", "$key", "uploads/"] in policy["conditions"]
    assert ["content-length-range", 1, 1048576] in policy["conditions"]
    html = run("post", "s3://my-bucket/k", "--output", "html")
    assert html.returncode == 0 and '<form action="https://my-bucket.s3.eu-west-1.amazonaws.com/"' in html.stdout


@pytest.mark.parametrize("command", [["url", "GET", "s3://my-bucket/k"], ["multipart", "s3://my-bucket/k", "--size", "1"]])
def test_expires_in_takes_human_units(command):
    out = run(*command, "--expires-in", "7d", "--output", "json")
    assert out.returncode == 0, out.stderr
    assert "X-Amz-Expires=604800&" in out.stdout
    refused = run(*command, "--expires-in", "8d")
    assert refused.returncode == 2 and "604800 seconds (7d)" in refused.stderr and "691200" in refused.stderr
    post = run("post", "s3://my-bucket/k", "--expires-in", "90s", "--timestamp", "2026-01-01T00:00:00Z")
    assert json.loads(base64.b64decode(json.loads(post.stdout)["fields"]["policy"]))["expiration"].startswith(
        "2026-01-01T00:01:30")
