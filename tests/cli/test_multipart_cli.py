"""`s3presign multipart` as a user runs it: the JSON plan, its refusals, and the
plan driving a real upload against `s3presign serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from s3presign import SSE, Credentials, Presigner
from tests.server.helpers import MAIN, start_server
from tests.server.transfer_helpers import complete_body, xml_text

ENV = {**os.environ, "AWS_ACCESS_KEY_ID": MAIN[0], "AWS_SECRET_ACCESS_KEY": MAIN[1], "AWS_REGION": "us-east-1"}
for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
    ENV.pop(name, None)
MiB = 1024 * 1024


def run(*args):
    return subprocess.run([sys.executable, "-m", "s3presign", "multipart", *args], capture_output=True, text=True,
                          env=ENV)


def test_plan_json_matches_the_library():
    out = run("s3://my-bucket/big.bin", "--size", str(20 * MiB), "--part-size", str(8 * MiB), "--sse", "kms:alias/x",
              "--upload-id", "UP", "--timestamp", "2026-01-01T00:00:00Z", "--output", "json")
    assert out.returncode == 0, out.stderr
    plan = Presigner(Credentials(*MAIN), "us-east-1").presign_multipart(
        "my-bucket", "big.bin", size=20 * MiB, part_size=8 * MiB, upload_id="UP", sse=SSE.kms("alias/x"),
        now=1767225600)
    data = json.loads(out.stdout)
    assert data == plan.to_dict()
    assert [p["size"] for p in data["parts"]] == [8 * MiB, 8 * MiB, 4 * MiB]
    assert data["create"] is None and data["abort"]["method"] == "DELETE"


def test_limits_are_one_line_errors():
    out = run("s3://my-bucket/k", "--size", str(100 * MiB), "--part-size", str(MiB))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("s3presign: error: part_size=1048576: every part but the last must be at least 5 MiB")
    assert out.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    endpoint = start_server(tmp_path_factory.mktemp("cli") / "data")
    endpoint.client().create_bucket(Bucket="cli-bucket")
    yield endpoint
    endpoint.stop()


def test_plan_drives_a_real_upload(server):
    data = os.urandom(11 * MiB)
    common = ["s3://cli-bucket/from-cli.bin", "--size", str(len(data)), "--part-size", str(5 * MiB),
              "--sse", "s3", "--endpoint-url", server.url, "--addressing-style", "path"]
    first = json.loads(run(*common).stdout)
    assert first["upload_id"] is None and all("url" not in p for p in first["parts"])
    with httpx.Client(timeout=60) as client:
        created = client.post(first["create"]["url"], headers=first["create"]["headers"])
        upload_id = xml_text(created.content, "UploadId")
        plan = json.loads(run(*common, "--upload-id", upload_id).stdout)
        etags = []
        for part in plan["parts"]:
            sent = client.put(part["url"], headers=part["headers"], content=data[part["offset"]:part["offset"] + part["size"]])
            assert sent.status_code == 200, sent.text
            etags.append((part["part_number"], sent.headers["etag"]))
        done = client.post(plan["complete"]["url"], headers=plan["complete"]["headers"], content=complete_body(etags))
    assert done.status_code == 200, done.text
    got = server.client().get_object(Bucket="cli-bucket", Key="from-cli.bin")
    assert got["Body"].read() == data and got["ServerSideEncryption"] == "AES256"
