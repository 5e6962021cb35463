"""The built-in key service, directly and through `s3presign kms`."""

import json
import os
import subprocess
import sys

import pytest

from s3presign.server import keys
from s3presign.server.kms import KmsUsageError, LocalKeyService

from .helpers import refused

CONTEXT = {"aws:s3:arn": "arn:aws:s3:::b/k"}


def service(path, region="us-east-1"):
    return LocalKeyService(path, keys.load_master_key(path), region=region)


def test_default_key_is_made_once_per_region(tmp_path):
    kms = service(tmp_path)
    arn = kms.resolve(None)
    assert arn.startswith("arn:aws:kms:us-east-1:000000000000:key/")
    assert kms.resolve("alias/aws/s3") == arn and service(tmp_path).resolve(None) == arn
    other = service(tmp_path, "eu-west-1").resolve(None)
    assert other.startswith("arn:aws:kms:eu-west-1:") and other != arn
    assert [k.managed for k in kms.list_keys()] == [True, True]


def test_ids_arns_and_aliases_name_the_same_key(tmp_path):
    kms = service(tmp_path)
    key = kms.create_key("d", alias="alias/one")
    kms.create_alias("alias/two", key.arn)
    alias_arn = f"arn:aws:kms:us-east-1:000000000000:alias/two"
    assert {kms.resolve(i) for i in (key.arn, key.key_id, "alias/one", "alias/two", alias_arn)} == {key.arn}
    assert kms.describe(key.key_id).aliases == ("alias/one", "alias/two")


@pytest.mark.parametrize("key_id,name", [
    ("not-a-key", "KmsNotFound"),
    ("11111111-2222-3333-4444-555555555555", "KmsKeyDoesNotExist"),
    ("arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555", "KmsKeyDoesNotExist"),
    ("arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555", "KmsKeyDoesNotExist"),
    ("alias/missing", "KmsAliasNotFound"),
])
def test_unknown_keys(tmp_path, key_id, name):
    error = refused(name, service(tmp_path).resolve, key_id)
    assert (error.status, error.code) == (400, "KMS.NotFoundException")


def test_a_key_in_another_region_is_not_found(tmp_path):
    key = service(tmp_path, "eu-west-1").create_key()
    refused("KmsKeyDoesNotExist", service(tmp_path).resolve, key.key_id)
    refused("KmsKeyDoesNotExist", service(tmp_path).resolve, key.arn)


def test_disable_and_enable(tmp_path):
    kms = service(tmp_path)
    key = kms.create_key()
    data_key = kms.generate_data_key(key.arn, CONTEXT)
    kms.set_enabled(key.arn, False)
    error = refused("KmsDisabled", kms.resolve, key.key_id)
    assert (error.status, error.code, error.message) == (400, "KMS.DisabledException", f"{key.arn} is disabled.")
    refused("KmsDisabled", kms.decrypt, key.arn, data_key.ciphertext, CONTEXT)
    kms.set_enabled(key.arn, True)
    assert kms.decrypt(key.arn, data_key.ciphertext, CONTEXT) == data_key.plaintext


def test_data_keys_are_bound_to_key_and_context(tmp_path):
    kms = service(tmp_path)
    one, two = kms.create_key(), kms.create_key()
    data_key = kms.generate_data_key(one.arn, CONTEXT)
    assert data_key.plaintext not in data_key.ciphertext and "plaintext" not in repr(data_key).split("(")[1].split("=")[0]
    with pytest.raises(keys.SealError):
        kms.decrypt(one.arn, data_key.ciphertext, {"aws:s3:arn": "arn:aws:s3:::b/other"})
    with pytest.raises(keys.SealError):
        kms.decrypt(two.arn, data_key.ciphertext, CONTEXT)


def test_persistence_and_file_modes(tmp_path):
    key = service(tmp_path).create_key("kept", alias="alias/kept")
    data_key = service(tmp_path).generate_data_key(key.arn, CONTEXT)
    assert service(tmp_path).decrypt(key.arn, data_key.ciphertext, CONTEXT) == data_key.plaintext
    for name in ("kms.json", "master.key"):
        assert (keys.key_dir(tmp_path) / name).stat().st_mode & 0o777 == 0o600
    assert keys.key_dir(tmp_path).stat().st_mode & 0o777 == 0o700
    stored = (keys.key_dir(tmp_path) / "kms.json").read_text()
    assert json.loads(stored)["keys"][key.key_id]["description"] == "kept"


def test_a_running_service_sees_changes_made_elsewhere(tmp_path):
    server = service(tmp_path)
    key = server.create_key()
    assert server.resolve(key.key_id) == key.arn
    service(tmp_path).set_enabled(key.key_id, False)  # e.g. the CLI, another process
    refused("KmsDisabled", server.resolve, key.key_id)
    fresh = service(tmp_path).create_key(alias="alias/new")
    assert server.resolve("alias/new") == fresh.arn


def test_alias_rules(tmp_path):
    kms = service(tmp_path)
    key = kms.create_key(alias="alias/taken")
    for bad in ("noprefix", "alias/", "alias/has space", "alias/aws/s3"):
        with pytest.raises(KmsUsageError):
            kms.create_alias(bad, key.key_id)
    with pytest.raises(KmsUsageError):
        kms.create_key(alias="alias/taken")
    assert len(kms.list_keys()) == 1  # the refused create left nothing behind


def test_another_master_key_is_refused(tmp_path):
    service(tmp_path).create_key()
    with pytest.raises(OSError, match="different master key"):
        LocalKeyService(tmp_path, os.urandom(32)).list_keys()


# --- the CLI, as a user runs it -------------------------------------------------


def cli(*args, data_dir):
    return subprocess.run([sys.executable, "-m", "s3presign", "kms", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60)


def test_cli_round_trip(tmp_path):
    made = cli("create-key", "--alias", "reports", "--description", "monthly reports", data_dir=tmp_path)
    assert made.returncode == 0, made.stderr
    arn = made.stdout.strip()
    assert arn.startswith("arn:aws:kms:us-east-1:000000000000:key/")
    assert cli("create-alias", "finance", arn, data_dir=tmp_path).returncode == 0
    listed = cli("list-keys", data_dir=tmp_path).stdout
    assert arn in listed and "Enabled" in listed and "alias/finance" in listed and "monthly reports" in listed
    assert "Disabled" in cli("disable-key", "alias/reports", data_dir=tmp_path).stdout
    refused("KmsDisabled", service(tmp_path).resolve, arn)
    assert "Enabled" in cli("enable-key", arn.rsplit("/", 1)[1], data_dir=tmp_path).stdout
    assert service(tmp_path).resolve("alias/finance") == arn


@pytest.mark.parametrize("args,message", [
    (("disable-key", "alias/nope"), "KMS.NotFoundException"),
    (("enable-key", "not-a-key"), "Invalid keyId 'not-a-key'"),
    (("create-key", "--alias", "aws/x"), "reserved"),
    (("create-alias", "x", "11111111-2222-3333-4444-555555555555"), "does not exist"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    result = cli(*args, data_dir=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_unusable_data_dir(tmp_path):
    (tmp_path / "file").write_text("x")
    result = cli("list-keys", data_dir=tmp_path / "file")
    assert result.returncode != 0 and "Traceback" not in result.stderr and "data dir" in result.stderr


def test_cli_help_has_examples():
    result = subprocess.run([sys.executable, "-m", "s3presign", "kms", "create-key", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Example" in result.stdout and "--alias" in result.stdout
