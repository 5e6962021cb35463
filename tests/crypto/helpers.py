"""Shared assertion for the crypto tests."""

import pytest

from s3presign.core.s3errors import S3Error


def refused(name, fn, *args, **kwargs):
    """Call ``fn`` and assert it raises the S3Error named ``name``; return it."""
    with pytest.raises(S3Error) as info:
        fn(*args, **kwargs)
    assert info.value.name == name, info.value
    return info.value
