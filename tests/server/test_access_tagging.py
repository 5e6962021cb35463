"""Tagging against the real server: x-amz-tagging on PUT, copy (with its directive) and
multipart, GetObjectTagging, x-amz-tagging-count, bucket tagging, S3's limits, and
s3:PutObjectTagging being needed to tag at write."""

from __future__ import annotations

import json


from .helpers import MAIN, OTHER, refused


def _tags(resp) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resp["TagSet"]}


def test_object_tags_at_write_and_copy(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="project=alpha&empty=")
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"project": "alpha", "empty": ""}
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "k"})
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="copied")) == {"project": "alpha", "empty": ""}
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "k"},
                   TaggingDirective="REPLACE", Tagging="new=1")
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="replaced")) == {"new": "1"}
    s3.put_object(Bucket=bucket, Key="none", Body=b"x")
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="none")) == {}
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="mp=yes")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"p")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="mp")) == {"mp": "yes"}


def test_tag_limits(endpoint, bucket):
    s3 = endpoint.client()
    many = "&".join(f"k{i}=v" for i in range(11))
    assert refused(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging=many)) == (400, "InvalidTag")
    assert refused(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="aws:x=1")) == (400, "InvalidTag")
    assert refused(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="k" * 129 + "=1"))[1] == "InvalidTag"


def test_bucket_tagging(endpoint, bucket):
    s3 = endpoint.client()
    assert refused(lambda: s3.get_bucket_tagging(Bucket=bucket)) == (404, "NoSuchTagSet")
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "storage"}]})
    assert _tags(s3.get_bucket_tagging(Bucket=bucket)) == {"team": "storage"}
    assert refused(lambda: endpoint.client(creds=OTHER).get_bucket_tagging(Bucket=bucket)) == (403, "AccessDenied")
    s3.delete_bucket_tagging(Bucket=bucket)
    assert refused(lambda: s3.get_bucket_tagging(Bucket=bucket)) == (404, "NoSuchTagSet")


def test_tagging_at_write_needs_put_object_tagging(endpoint, bucket):
    main = endpoint.client(creds=MAIN)
    main.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObjectTagging", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    assert refused(lambda: main.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=b")) == (403, "AccessDenied")
    main.put_object(Bucket=bucket, Key="t", Body=b"x")
