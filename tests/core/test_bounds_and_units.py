"""Expiry units, bound-upload values and their refusals (library level; the server's
enforcement is in tests/cli/test_bound_uploads.py)."""

import base64
from datetime import timedelta

import pytest

from s3presign import Credentials, Presigner, PresignError
from s3presign.core.bounds import file_bounds, new_hasher
from s3presign.core.presign import parse_duration

P = Presigner(Credentials("AKIDEXAMPLE", "secret"), "eu-west-1")


@pytest.mark.parametrize("text, seconds", [("900", 900), ("90s", 90), ("15m", 900), ("12h", 43200),
                                           ("7d", 604800), ("1h30m", 5400), (" 2D ", 172800), ("1w", 604800)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
    assert f"X-Amz-Expires={seconds}&" in P.presign("GET", "my-bucket", "k", expires_in=text).url


def test_timedelta_and_limits():
    assert "X-Amz-Expires=604800&" in P.presign("GET", "my-bucket", "k", expires_in=timedelta(days=7)).url
    with pytest.raises(PresignError, match=r"'8d' \(691200 seconds\).*604800 seconds \(7d\)"):
        P.presign("GET", "my-bucket", "k", expires_in="8d")
    for bad in ("", "h", "1x", "1.5h", "15 minutes", "m15"):
        with pytest.raises(PresignError, match="not a duration"):
            P.presign("GET", "my-bucket", "k", expires_in=bad)


def test_crc_check_values():
    for alg, expected in (("crc32", "cbf43926"), ("crc32c", "e3069283"), ("crc64nvme", "ae8b14860a799888")):
        h = new_hasher(alg)
        h.update(b"123456789")
        assert h.digest().hex() == expected


def test_bound_values_are_checked_and_normalised(tmp_path):
    digest = bytes(range(32))
    r = P.presign("PUT", "my-bucket", "k", checksum=("SHA256", digest.hex()), content_md5=bytes(16))
    assert r.headers == {"x-amz-checksum-sha256": base64.b64encode(digest).decode(),
                         "content-md5": base64.b64encode(bytes(16)).decode()}
    with pytest.raises(PresignError, match="base64 \\(or hex\\) of 4 bytes"):
        P.presign("PUT", "my-bucket", "k", checksum=("crc32", "AAAA"))
    with pytest.raises(PresignError, match="use them with PUT"):
        P.presign("GET", "my-bucket", "k", content_length=3)
    with pytest.raises(PresignError, match="does not sign Content-Length"):
        Presigner(P.credentials, signature_version="v2").presign("PUT", "my-bucket", "k", content_length=3)
    with pytest.raises(PresignError, match="5 GiB"):
        P.presign("PUT", "my-bucket", "k", content_length=6 * 1024**3)
    path = tmp_path / "f"
    path.write_bytes(b"hello world")
    assert file_bounds(str(path)) == (11, ("sha256", "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="))


def test_bucket_level_refusals():
    from s3presign import SSE

    with pytest.raises(PresignError, match="SSE means nothing for ListObjectsV2"):
        P.presign("GET", "my-bucket", None, sse=SSE.s3())
    with pytest.raises(PresignError, match="max_keys"):
        P.presign_list_objects("my-bucket", max_keys=-1)
    with pytest.raises(PresignError, match="invalid bucket name"):
        P.presign_head_bucket("b")
