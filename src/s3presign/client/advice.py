"""Warnings that a failed request would otherwise teach the hard way (shared by `url` and `inspect`)."""

SSEC_BLOCKED_ON_NEW_BUCKETS = (
    "SSE-C writes are blocked by default on Amazon S3 buckets created since April 2026; a bucket "
    "owner unblocks them with PutBucketEncryption and BlockedEncryptionTypes NONE "
    "(otherwise this upload is refused)"
)

JS_SDK_EMPTY_CHECKSUM = (
    "x-amz-checksum-crc32 is signed as {value!r}, the CRC32 of an EMPTY body: AWS SDK for "
    "JavaScript v3 signs it into pre-signed PUTs by default (aws-sdk-js-v3 #6994), so S3 refuses "
    "any real upload with BadDigest; sign with requestChecksumCalculation: 'WHEN_REQUIRED' "
    "(or unhoistableHeaders) so no checksum is signed"
)
