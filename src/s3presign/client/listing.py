"""ListObjectsV2 with the user's own credentials: pre-signed by the core, sent with httpx.

Page by page (continuation tokens), yielding keys as each page arrives, so
listing a prefix of any size holds one page in memory.
"""

from __future__ import annotations

from typing import Any, Iterator
from urllib.parse import unquote_plus

from s3presign.core.errors import PresignError

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _text(element: Any, name: str) -> str | None:
    child = element.find(S3_NS + name)
    if child is None:
        child = element.find(name)
    return None if child is None else (child.text or "")


def list_keys(presigner: Any, bucket: str, prefix: str = "", *, ca_bundle: str | None = None,
              page_size: int = 1000, timeout: float = 60.0) -> Iterator[str]:
    """Every key under ``prefix``, in S3's order."""
    import httpx
    from defusedxml import ElementTree

    token: str | None = None
    import ssl

    verify: Any = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
    with httpx.Client(timeout=timeout, verify=verify) as client:
        while True:
            # encoding-type=url: keys with characters XML 1.0 cannot carry still list
            request = presigner.presign_list_objects(bucket, prefix=prefix or None, max_keys=page_size,
                                                     continuation_token=token, encoding_type="url", expires_in=300)
            response = client.get(request.url, headers=request.headers)
            if response.status_code != 200:
                code = message = ""
                try:
                    root = ElementTree.fromstring(response.content)
                    code, message = _text(root, "Code") or "", _text(root, "Message") or ""
                except Exception:  # noqa: BLE001 - a non-XML error body: report the status
                    pass
                raise PresignError(
                    f"listing s3://{bucket}/{prefix} failed: HTTP {response.status_code} {code} {message}".rstrip()
                    + "; check the credentials may s3:ListBucket, and the endpoint/region"
                )
            root = ElementTree.fromstring(response.content)
            encoded = _text(root, "EncodingType") == "url"
            for item in root.iter(S3_NS + "Contents"):
                key = _text(item, "Key") or ""
                yield unquote_plus(key) if encoded else key
            if _text(root, "IsTruncated") != "true":
                return
            token = _text(root, "NextContinuationToken")
            if not token:
                return
