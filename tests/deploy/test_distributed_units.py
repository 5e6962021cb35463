"""The distributed shape's pieces without the whole stack: serve's option checks, the
shared key service and master check value over one database seen by two "instances",
the GC lease, and PostgreSQL going away under a Metadata (503, then reconnection)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from s3presign.core.s3errors import S3Error
from s3presign.server import keys
from s3presign.server.kms import SharedKeyService
from s3presign.server.metadata import Metadata, MetadataUnavailable, SQLite


def _serve(tmp_path: Path, *args: str, env: dict | None = None, credentials: bool | None = None
           ) -> subprocess.CompletedProcess:
    """serve with these options; a credentials file only in the embedded shape (unless asked),
    since the distributed shape keeps its users in the database."""
    import os

    users = tmp_path / "users.ini"
    users.write_text("[u]\naws_access_key_id = AKIAUNITTEST00000000\naws_secret_access_key = " + "s" * 40 + "\n")
    if credentials is None:
        credentials = "--metadata-url" not in args and "S3PRESIGN_METADATA_URL" not in (env or {})
    return subprocess.run([sys.executable, "-m", "s3presign", "serve", "--port", "0", "--data-dir",
                           str(tmp_path / "d"), *(["--credentials", str(users)] if credentials else []), *args],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, says", [
    (["--metadata-url", "postgresql://u:p@127.0.0.1:1/db"], "--metadata-url needs --blob-bucket"),
    (["--blob-bucket", "b", "--blob-endpoint", "http://127.0.0.1:1"], "--blob-bucket needs --metadata-url"),
    (["--metadata-url", "postgresql://u:p@127.0.0.1:1/db", "--blob-bucket", "b",
      "--blob-endpoint", "http://127.0.0.1:1"], "needs --master-key-file"),
    (["--metadata-url", "mysql://x", "--blob-bucket", "b", "--blob-endpoint", "http://127.0.0.1:1"],
     "must be a PostgreSQL URL"),
])
def test_serve_refuses_an_incomplete_distributed_shape_in_one_line(tmp_path, args, says):
    proc = _serve(tmp_path, *args, env={"S3PRESIGN_BLOB_ACCESS_KEY_ID": "k", "S3PRESIGN_BLOB_SECRET_ACCESS_KEY": "s"})
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr


def test_serve_refuses_a_credentials_file_in_the_distributed_shape_and_says_how_to_import_it(tmp_path):
    key = tmp_path / "master.key"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o600)
    proc = _serve(tmp_path, "--metadata-url", "postgresql://u:p@127.0.0.1:1/db", "--blob-bucket", "b",
                  "--blob-endpoint", "http://127.0.0.1:1", "--master-key-file", str(key), credentials=True,
                  env={"S3PRESIGN_BLOB_ACCESS_KEY_ID": "k", "S3PRESIGN_BLOB_SECRET_ACCESS_KEY": "s"})
    assert proc.returncode == 2, proc.stderr
    assert "s3presign user import" in proc.stderr and "Traceback" not in proc.stderr


def test_serve_with_the_database_away_refuses_to_start_in_one_line(tmp_path):
    key = tmp_path / "master.key"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o600)
    proc = _serve(tmp_path, "--blob-bucket", "b", "--blob-endpoint", "http://127.0.0.1:1",
                  "--master-key-file", str(key),
                  env={"S3PRESIGN_METADATA_URL": "postgresql://u:p@127.0.0.1:1/db",
                       "S3PRESIGN_BLOB_ACCESS_KEY_ID": "k", "S3PRESIGN_BLOB_SECRET_ACCESS_KEY": "s"})
    assert proc.returncode != 0
    assert "metadata database unreachable" in proc.stderr and "Traceback" not in proc.stderr


def _two_instances(tmp_path: Path) -> tuple[Metadata, Metadata]:
    path = tmp_path / "shared.sqlite3"
    return Metadata(SQLite(path)), Metadata(SQLite(path))


def test_master_check_value_is_shared_and_a_wrong_key_refused(tmp_path):
    a, b = _two_instances(tmp_path)
    master = secrets.token_bytes(32)
    keys.check_master_key_shared(a, master, "--master-key-file", "db")
    keys.check_master_key_shared(b, master, "--master-key-file", "db")  # same key: fine
    with pytest.raises(keys.KeyStoreError, match="not the master key of the deployment"):
        keys.check_master_key_shared(b, secrets.token_bytes(32), "--master-key-file", "db")
    assert a.get("master-check") == keys.key_check_value(master)


def test_shared_key_service_sees_the_other_instances_keys_and_disables_at_once(tmp_path):
    a, b = _two_instances(tmp_path)
    master = secrets.token_bytes(32)
    one, two = SharedKeyService(a, master), SharedKeyService(b, master)
    arn = one.resolve(None)  # creates aws/s3 in the database
    assert two.resolve(None) == arn  # the other instance uses the same default key
    made = one.generate_data_key(arn, {"bucket": "x"})
    assert two.decrypt(arn, made.ciphertext, {"bucket": "x"}) == made.plaintext
    custom = two.create_key("mine", alias="alias/mine")
    assert one.resolve("alias/mine") == custom.arn
    one.set_enabled(custom.arn, False)
    with pytest.raises(S3Error) as err:
        two.generate_data_key(two.resolve("alias/mine"), {})
    assert err.value.code == "KMS.DisabledException" or "Disabled" in err.value.code
    # the database holds the material sealed only
    row = a.get("kms") or ""
    assert made.plaintext.hex() not in row and master.hex() not in row
    with pytest.raises(keys.KeyStoreError, match="different master key"):
        SharedKeyService(b, secrets.token_bytes(32)).resolve(None)


def test_gc_lease_is_held_by_one_instance_until_it_expires(tmp_path):
    a, b = _two_instances(tmp_path)
    assert a.lease("gc", "one", 60)
    assert not b.lease("gc", "two", 60)
    assert a.lease("gc", "one", 60)  # renewal
    assert a.lease("gc", "one", -1)  # expired at once
    assert b.lease("gc", "two", 60)


@pytest.fixture
def pg_url():
    from tests.server.pg import postgres

    yield from postgres()


def test_postgresql_restart_under_a_metadata_gives_unavailable_then_reconnects(pg_url):
    from s3presign.server.metadata import PostgreSQL

    meta = Metadata(PostgreSQL(pg_url))
    with meta.tx() as t:
        meta.insert_bucket(t, "kept", 1.0, "us-east-1")
    assert meta.bucket("kept") is not None
    # kill every backend of this database: as a restart does to the instances' connections
    admin = Metadata(PostgreSQL(pg_url))
    admin._all("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
               " AND datname = current_database()")
    assert meta.bucket("kept") is not None  # a read reconnects by itself
    admin._all("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
               " AND datname = current_database()")
    with pytest.raises(MetadataUnavailable):
        with meta.tx() as t:
            meta.insert_bucket(t, "lost", 1.0, "us-east-1")
    with meta.tx() as t:  # and the next transaction runs on a new connection
        meta.insert_bucket(t, "after", 1.0, "us-east-1")
    assert meta.bucket("after") is not None and meta.bucket("lost") is None
