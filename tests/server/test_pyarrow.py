"""pyarrow's S3FileSystem (the AWS SDK for C++ underneath: an independent client whose
recent releases send CRC64NVME checksum trailers on uploads) writes and reads
through the real server over HTTPS: a multipart-sized stream, a Parquet table,
listings, HEAD of a bucket, delete."""

from __future__ import annotations

import os
import uuid

import pytest

from .helpers import MAIN

try:
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq
except ImportError:  # part of the test extra: under CI a missing install fails (tests/conftest.py)
    pytest.skip("pyarrow not installed (pip install '.[test]')", allow_module_level=True)


def test_pyarrow_s3filesystem_writes_and_reads(tls_endpoint):
    s3 = tls_endpoint.client()
    bucket = f"pa-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    fs = pafs.S3FileSystem(access_key=MAIN[0], secret_key=MAIN[1], region="us-east-1", scheme="https",
                           endpoint_override=tls_endpoint.url.split("://", 1)[1], tls_ca_file_path=tls_endpoint.ca)
    data = os.urandom(12 * 1024 * 1024 + 3)  # larger than pyarrow's part size: a multipart upload
    with fs.open_output_stream(f"{bucket}/dir/big.bin") as out:
        out.write(data)
    with fs.open_input_stream(f"{bucket}/dir/big.bin") as back:
        assert back.read() == data
    with fs.open_input_file(f"{bucket}/dir/big.bin") as ranged:  # ranged reads
        assert ranged.read_at(10, 5 * 1024 * 1024) == data[5 * 1024 * 1024:5 * 1024 * 1024 + 10]

    table = pa.table({"n": list(range(1000)), "s": [f"row {i}" for i in range(1000)]})
    pq.write_table(table, f"{bucket}/dir/t.parquet", filesystem=fs)
    assert pq.read_table(f"{bucket}/dir/t.parquet", filesystem=fs).equals(table)

    infos = {i.path: i for i in fs.get_file_info(pafs.FileSelector(f"{bucket}/dir", recursive=True))}
    assert sorted(infos) == [f"{bucket}/dir/big.bin", f"{bucket}/dir/t.parquet"]
    assert infos[f"{bucket}/dir/big.bin"].size == len(data)
    assert fs.get_file_info(bucket).type == pafs.FileType.Directory
    fs.delete_file(f"{bucket}/dir/t.parquet")
    assert fs.get_file_info(f"{bucket}/dir/t.parquet").type == pafs.FileType.NotFound
    head = s3.head_object(Bucket=bucket, Key="dir/big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-2"')
