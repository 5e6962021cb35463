"""Two servers over one data dir, each with its own storage and database connections
(as the processes of ``serve --workers N``): a read one of them keeps answers of is
never stale after a write made by the other."""

from __future__ import annotations

import json

import httpx
import pytest

from s3presign import Credentials
from s3presign.server.app import start_in_thread
from s3presign.server.config import ServerConfig
from s3presign.server.users import account_of

from .helpers import MAIN, OTHER, TARGET, Endpoint, error_of

pytestmark = pytest.mark.skipif(TARGET != "embedded", reason="two servers over one local data dir")


def test_a_write_by_another_server_is_seen_by_the_next_get(tmp_path):
    data = tmp_path / "shared"
    users = {c[0]: Credentials(c[0], c[1]) for c in (MAIN, OTHER)}
    config = ServerConfig(data_dir=data, users=users, access_log=None)
    ra = start_in_thread(config)
    try:
        rb = start_in_thread(config)
        try:
            a = Endpoint(ra.url, data, tmp_path / "none.log", None, "us-east-1")  # type: ignore[arg-type]
            b = Endpoint(rb.url, data, tmp_path / "none.log", None, "us-east-1")  # type: ignore[arg-type]
            sa, sb = a.client(), b.client()
            sa.create_bucket(Bucket="shared")
            sa.put_object(Bucket="shared", Key="k", Body=b"first")
            url = a.presigner().presign("GET", "shared", "k").url
            for _ in range(3):  # read repeatedly: what process A keeps
                assert httpx.get(url).content == b"first"
            sb.put_object(Bucket="shared", Key="k", Body=b"second")
            assert httpx.get(url).content == b"second"
            assert sa.head_object(Bucket="shared", Key="k")["ContentLength"] == len(b"second")

            # a policy put by B denies A's next read, even to the owner
            deny = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/k"}]}
            sb.put_bucket_policy(Bucket="shared", Policy=json.dumps(deny))
            assert error_of(httpx.get(url))["Code"] == "AccessDenied"
            sb.delete_bucket_policy(Bucket="shared")
            assert httpx.get(url).content == b"second"

            # another account's read: refused, then allowed once B's policy grants it
            other = a.presigner(creds=OTHER).presign("GET", "shared", "k").url
            assert error_of(httpx.get(other))["Code"] == "AccessDenied"
            allow = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_of(OTHER[0]).account_id}:root"},
                 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/k"}]}
            sb.put_bucket_policy(Bucket="shared", Policy=json.dumps(allow))
            assert httpx.get(other).content == b"second"

            sb.delete_object(Bucket="shared", Key="k")
            assert error_of(httpx.get(url))["Code"] == "NoSuchKey"
        finally:
            rb.stop()
    finally:
        ra.stop()
