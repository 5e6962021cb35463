"""Users in the metadata database (the distributed shape): sealed secrets, every
"instance" seeing a change within its poll period, and the `s3presign user` and
`s3presign kms --metadata-url` commands against a real PostgreSQL."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s3presign.server.metadata import Metadata, MetadataUnavailable, SQLite
from s3presign.server.users import DatabaseUsers, UserError, UserStore, account_of

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _until(check, seconds: float = 5.0) -> float:
    """Seconds until ``check()`` holds (fails after ``seconds``)."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, "not seen in time"
        time.sleep(0.02)
    return time.monotonic() - start


def test_users_are_shared_and_a_change_is_seen_by_every_instance_within_the_poll(tmp_path):
    path = tmp_path / "shared.sqlite3"
    master = secrets.token_bytes(32)
    cli = UserStore(Metadata(SQLite(path)), master)
    cli.add("AKIAFIRSTUSER000", "first-secret")
    one = DatabaseUsers(UserStore(Metadata(SQLite(path)), master), poll=0.05)
    two = DatabaseUsers(UserStore(Metadata(SQLite(path)), master), poll=0.05)
    assert one.lookup("AKIAFIRSTUSER000").secret_key == "first-secret"
    assert two.lookup("AKIANEWUSER00000") is None  # starts each one's poller
    cli.add("AKIANEWUSER00000", SECRET, display_name="alice")
    for directory in (one, two):  # added: accepted everywhere without a restart
        _until(lambda: directory.lookup("AKIANEWUSER00000") is not None, 2)
        assert directory.lookup("AKIANEWUSER00000").secret_key == SECRET
        assert directory.account("AKIANEWUSER00000").display_name == "alice"
    cli.set_status("AKIANEWUSER00000", False)  # disabled: refused everywhere
    for directory in (one, two):
        _until(lambda: directory.lookup("AKIANEWUSER00000") is None, 2)
    cli.set_status("AKIANEWUSER00000", True)
    _until(lambda: one.lookup("AKIANEWUSER00000") is not None, 2)
    cli.remove("AKIANEWUSER00000")  # removed: refused everywhere
    for directory in (one, two):
        _until(lambda: directory.lookup("AKIANEWUSER00000") is None, 2)
    assert [u.access_key for u in cli.list()] == ["AKIAFIRSTUSER000"]


def test_a_users_account_is_the_file_users_unless_it_joins_another(tmp_path):
    store = UserStore(Metadata(SQLite(tmp_path / "m.sqlite3")), secrets.token_bytes(32))
    first = store.add("AKIAOWNER0000000", "s1")
    assert first.account == account_of("AKIAOWNER0000000")  # same owner as with --credentials
    second = store.add("AKIASECONDKEY000", "s2", account_id=first.account.account_id)
    assert second.account == first.account  # one account, two keys
    other = store.add("AKIAOTHERACCOUNT", "s3", account_id="123456789012", display_name="ops")
    assert other.account.account_id == "123456789012" and other.account.display_name == "ops"
    assert other.account.canonical_id not in (first.account.canonical_id,) and len(other.account.canonical_id) == 64
    for bad, says in ((("AKIAOWNER0000000", "x"), "already exists"), (("a b", "x"), "access key id"),
                      (("AKIAGOODKEY00000", "has space"), "secret access key")):
        with pytest.raises(UserError, match=says):
            store.add(*bad)
    with pytest.raises(UserError, match="account id"):
        store.add("AKIAGOODKEY00000", "s", account_id="12")
    with pytest.raises(UserError, match="no user"):
        store.remove("AKIANOBODY000000")


def test_secrets_are_sealed_under_the_master_key_and_bound_to_their_access_key(tmp_path):
    path = tmp_path / "m.sqlite3"
    master = secrets.token_bytes(32)
    store = UserStore(Metadata(SQLite(path)), master)
    store.add("AKIASEALED000000", SECRET, session_token="token-" + "t" * 30)
    store.add("AKIAVICTIM000000", "victim-secret")
    store.meta.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for needle in (SECRET.encode(), b"token-" + b"t" * 30, base64.b64encode(SECRET.encode()), SECRET.encode().hex().encode()):
        assert needle not in raw
    # a secret copied onto another row does not open there: that row is no user at all
    meta = Metadata(SQLite(path))
    sealed = meta.get("unused")  # noqa: F841 (opens the connection)
    with meta.tx() as t:
        row = meta._exec(t, "SELECT secret FROM s3p_users WHERE access_key = ?", ("AKIASEALED000000",)).fetchone()
        meta._exec(t, "UPDATE s3p_users SET secret = ? WHERE access_key = ?", (row[0], "AKIAVICTIM000000"))
    directory = DatabaseUsers(UserStore(meta, master))
    assert directory.lookup("AKIASEALED000000").session_token == "token-" + "t" * 30
    assert directory.lookup("AKIAVICTIM000000") is None
    # another master key opens none of them
    assert DatabaseUsers(UserStore(Metadata(SQLite(path)), secrets.token_bytes(32))).lookup("AKIASEALED000000") is None


def test_a_snapshot_the_database_no_longer_confirms_gives_503_not_a_stale_answer(tmp_path):
    store = UserStore(Metadata(SQLite(tmp_path / "m.sqlite3")), secrets.token_bytes(32))
    store.add("AKIAFIRSTUSER000", "s")
    directory = DatabaseUsers(store, poll=3600, stale=0.2)
    assert directory.lookup("AKIAFIRSTUSER000") is not None
    time.sleep(0.3)  # the poller sleeps: as when every read of the counter fails
    with pytest.raises(MetadataUnavailable):
        directory.lookup("AKIAFIRSTUSER000")


# --- the commands, against a real PostgreSQL ------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url():
    from tests.server.pg import postgres

    for conninfo in postgres():
        fields = dict(item.split("=", 1) for item in conninfo.split())
        yield f"postgresql://{fields['user']}@/{fields['dbname']}?host={fields['host']}&port={fields['port']}"


def _cli(pg_url: str, master: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "s3presign", *args, "--master-key-file", str(master)],
                          input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "S3PRESIGN_METADATA_URL": pg_url})


def test_user_commands_manage_the_databases_users(pg_url, tmp_path):
    master = tmp_path / "master.key"
    master.write_text(secrets.token_hex(32))
    made = _cli(pg_url, master, "user", "add", "--name", "builder")
    assert made.returncode == 0, made.stderr
    access, secret = made.stdout.split()
    assert access.startswith("S3P") and len(secret) == 40
    piped = _cli(pg_url, master, "user", "add", "AKIAPIPED0000000", "--secret-stdin", stdin=SECRET + "\n")
    assert piped.returncode == 0 and piped.stdout.strip() == "AKIAPIPED0000000"
    users = tmp_path / "users.ini"
    users.write_text("[a]\naws_access_key_id = AKIAFROMFILE0000\naws_secret_access_key = file-secret\n"
                     "[b]\naws_access_key_id = AKIAPIPED0000000\naws_secret_access_key = other\n")
    imported = _cli(pg_url, master, "user", "import", str(users))
    assert imported.returncode == 0 and "1 user(s) added" in imported.stdout and "already present" in imported.stdout
    assert _cli(pg_url, master, "user", "disable", "AKIAFROMFILE0000").returncode == 0
    listed = _cli(pg_url, master, "user", "list").stdout.splitlines()
    assert [line.split()[0] for line in listed] == [access, "AKIAPIPED0000000", "AKIAFROMFILE0000"]
    assert "Inactive" in listed[2] and "builder" in listed[0]
    gone = _cli(pg_url, master, "user", "remove", "AKIAPIPED0000000")
    assert gone.returncode == 0
    again = _cli(pg_url, master, "user", "remove", "AKIAPIPED0000000")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "no user" in again.stderr
    other = tmp_path / "other.key"
    other.write_text(secrets.token_hex(32))
    wrong = _cli(pg_url, other, "user", "list")
    assert wrong.returncode == 2 and "not the master key of the deployment" in wrong.stderr
    # the dump of the database holds no secret in clear
    from s3presign.server.metadata import PostgreSQL

    meta = Metadata(PostgreSQL(pg_url))
    rows = repr(meta._all("SELECT * FROM s3p_users"))
    assert secret not in rows and SECRET not in rows and "file-secret" not in rows
    meta.close()


def test_kms_commands_with_a_metadata_url_manage_the_shared_keys(pg_url, tmp_path):
    from s3presign.core.sse import decode_key_file
    from s3presign.server.kms import SharedKeyService
    from s3presign.server.metadata import PostgreSQL

    master = tmp_path / "master.key"
    master.write_text(secrets.token_hex(32))
    meta = Metadata(PostgreSQL(pg_url))
    with meta.tx() as t:  # another deployment's test ran first: this one starts fresh
        meta._exec(t, "DELETE FROM s3p_meta WHERE name IN ('master-check', 'kms')")
    made = _cli(pg_url, master, "kms", "create-key", "--alias", "reports", "--description", "monthly")
    assert made.returncode == 0, made.stderr
    arn = made.stdout.strip()
    assert arn.startswith("arn:aws:kms:us-east-1:")
    # an instance's key service (over the same database) sees it and its disabling
    service = SharedKeyService(meta, decode_key_file(master.read_bytes()))
    assert service.resolve("alias/reports") == arn
    assert _cli(pg_url, master, "kms", "disable-key", "alias/reports").returncode == 0
    from s3presign.core.s3errors import S3Error

    with pytest.raises(S3Error):
        service.resolve("alias/reports")
    listed = _cli(pg_url, master, "kms", "list-keys")
    assert arn in listed.stdout and "Disabled" in listed.stdout
    both = _cli(pg_url, master, "kms", "list-keys", "--data-dir", str(tmp_path / "d"))
    assert both.returncode == 2 and "give one" in both.stderr
    meta.close()


def test_the_first_request_long_after_start_up_is_served(tmp_path):
    store = UserStore(Metadata(SQLite(tmp_path / "m.sqlite3")), secrets.token_bytes(32))
    store.add("AKIAFIRSTUSER000", "s")
    directory = DatabaseUsers(store, stale=0.2)
    time.sleep(0.3)  # an instance idle since it started: its snapshot was never re-read
    assert directory.lookup("AKIAFIRSTUSER000") is not None
