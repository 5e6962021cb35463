"""Pre-signed multipart uploads: the part layout S3 accepts and one request per step.

S3 signs the upload id into every part, complete and abort URL, so a plan made
before the upload exists holds only the create request and the layout; once
CreateMultipartUpload has answered, :meth:`MultipartPlan.for_upload` signs the
rest. SSE follows core/sse.py's OPERATION_SSE: KMS, DSSE and SSE-S3 headers
go on the create request only; SSE-C key headers go on create, every part and
complete (signed if the key is fixed, named in ``required_headers`` if not).
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

from .errors import PresignError
from .sse import SSE

if TYPE_CHECKING:
    from .presign import PresignedRequest, Presigner

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB
DEFAULT_PART_SIZE = 8 * MiB  # boto3's multipart_chunksize


class PartPlan:
    """One part: where it starts in the file, how long it is, and its request
    (None until the upload id is known)."""

    __slots__ = ("part_number", "offset", "size", "request")

    def __init__(self, part_number: int, offset: int | None, size: int | None,
                 request: "PresignedRequest | None" = None) -> None:
        self.part_number = part_number
        self.offset = offset
        self.size = size
        self.request = request

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"part_number": self.part_number, "offset": self.offset, "size": self.size}
        if self.request is not None:
            data.update(self.request.to_dict())
        return data

    def __repr__(self) -> str:
        return f"PartPlan({self.part_number}, offset={self.offset}, size={self.size})"


class MultipartPlan:
    """Everything a client needs for one multipart upload.

    ``create`` is None when the plan was made for an existing upload id;
    ``complete``, ``abort`` and each part's ``request`` are None until the upload
    id is known (then use :meth:`for_upload`).
    """

    def __init__(self, presigner: "Presigner", bucket: str, key: str, layout: list[tuple[int, int | None, int | None]],
                 size: int | None, part_size: int | None, sse: SSE | None, expires_in: Any,
                 now: Any, upload_id: str | None, create: "PresignedRequest | None") -> None:
        self._presigner = presigner
        self._expires_in = expires_in
        self._now = now
        self.bucket = bucket
        self.key = key
        self.size = size
        self.part_size = part_size
        self.sse = sse
        self.upload_id = upload_id
        self.create = create
        self.parts = [PartPlan(n, offset, length) for n, offset, length in layout]
        self.complete: PresignedRequest | None = None
        self.abort: PresignedRequest | None = None
        if upload_id is not None:
            self._sign(upload_id)

    def _presign(self, method: str, query: dict[str, str], sse: SSE | None) -> "PresignedRequest":
        return self._presigner.presign(method, self.bucket, self.key, query=query, sse=sse,
                                       expires_in=self._expires_in, now=self._now)

    def _sign(self, upload_id: str) -> None:
        if not isinstance(upload_id, str) or not upload_id:
            raise PresignError("upload_id must be the non-empty UploadId that CreateMultipartUpload returned")
        self.upload_id = upload_id
        for part in self.parts:
            part.request = self._presign("PUT", {"uploadId": upload_id, "partNumber": str(part.part_number)}, self.sse)
        self.complete = self._presign("POST", {"uploadId": upload_id}, self.sse)
        self.abort = self._presign("DELETE", {"uploadId": upload_id}, None)  # SSE means nothing to abort

    def for_upload(self, upload_id: str) -> "MultipartPlan":
        """This plan with the part, complete and abort requests signed for ``upload_id``."""
        layout = [(p.part_number, p.offset, p.size) for p in self.parts]
        return MultipartPlan(self._presigner, self.bucket, self.key, layout, self.size, self.part_size,
                             self.sse, self._expires_in, self._now, upload_id, self.create)

    def part_requests(self, upload_id: str) -> list["PresignedRequest"]:
        """One pre-signed UploadPart request per part, for ``upload_id``."""
        return [p.request for p in self.for_upload(upload_id).parts]  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "size": self.size,
            "part_size": self.part_size,
            "part_count": len(self.parts),
            "upload_id": self.upload_id,
            "create": self.create.to_dict() if self.create else None,
            "parts": [p.to_dict() for p in self.parts],
            "complete": self.complete.to_dict() if self.complete else None,
            "abort": self.abort.to_dict() if self.abort else None,
        }

    def __repr__(self) -> str:
        return f"MultipartPlan(s3://{self.bucket}/{self.key}, {len(self.parts)} parts, upload_id={self.upload_id!r})"


def _whole(name: str, value: Any, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise PresignError(f"{name} must be a whole number of at least {low}, got {value!r}")
    return value


def layout(size: int | None, part_count: int | None, part_size: int | None) -> tuple[list[tuple[int, int | None, int | None]], int | None]:
    """[(part number, offset, size)] and the part size, within S3's limits
    (PresignError otherwise). Without ``size`` the offsets and sizes that cannot
    be known are None."""
    if size is None and part_count is None:
        raise PresignError("give the object's size (size=BYTES) or the number of parts (part_count=N)")
    if size is not None:
        _whole("size", size, 0)
        if size > MAX_OBJECT_SIZE:
            raise PresignError(f"size={size}: S3 objects are at most 5 TiB ({MAX_OBJECT_SIZE} bytes)")
    if part_count is not None:
        _whole("part_count", part_count, 1)
        if part_count > MAX_PARTS:
            raise PresignError(f"part_count={part_count}: S3 allows 1 to {MAX_PARTS} parts")
    if part_size is not None:
        _whole("part_size", part_size, 1)
        if part_size > MAX_PART_SIZE:
            raise PresignError(f"part_size={part_size}: S3 parts are at most 5 GiB ({MAX_PART_SIZE} bytes)")
    if size is None:
        count = part_count or 0
        if part_size is not None and part_size < MIN_PART_SIZE and count > 1:
            raise PresignError(_too_small(f"part_size={part_size}"))
        return [((n + 1), None if part_size is None else n * part_size,
                 part_size if part_size is not None and n + 1 < count else None) for n in range(count)], part_size
    given_size = part_size
    if part_size is None:
        if part_count is not None:
            part_size = max(-(-size // part_count), 1)
        else:  # boto3's default, grown (in whole MiB) so that 10,000 parts hold the object
            part_size = max(DEFAULT_PART_SIZE, -(-size // MAX_PARTS // MiB) * MiB)
    count = max(1, -(-size // part_size))
    if part_count is not None and count != part_count:
        raise PresignError(
            f"size={size} in parts of {part_size} bytes makes {count} parts, not part_count={part_count}; "
            "give two of size, part_count and part_size"
        )
    if count > MAX_PARTS:
        raise PresignError(
            f"size={size} in parts of {part_size} bytes makes {count} parts; S3 allows at most {MAX_PARTS}: "
            f"use parts of at least {max(-(-size // MAX_PARTS), MIN_PART_SIZE)} bytes"
        )
    if count > 1 and part_size < MIN_PART_SIZE:
        made = f"size={size} in {count} parts of {part_size} bytes" if given_size is None else f"part_size={part_size}"
        raise PresignError(_too_small(made))
    if part_size > MAX_PART_SIZE:
        raise PresignError(
            f"size={size} in {count} parts makes parts of {part_size} bytes; S3 parts are at most 5 GiB: use more parts"
        )
    parts = [(n + 1, n * part_size, min(part_size, size - n * part_size)) for n in range(count)]
    return parts, part_size


def _too_small(made: str) -> str:
    return (
        f"{made}: every part but the last must be at least 5 MiB ({MIN_PART_SIZE} bytes), "
        "as S3 refuses smaller ones with EntityTooSmall at completion"
    )


def plan(
    presigner: "Presigner",
    bucket: str,
    key: str,
    *,
    size: int | None = None,
    part_count: int | None = None,
    part_size: int | None = None,
    upload_id: str | None = None,
    sse: SSE | None = None,
    expires_in: int | _dt.timedelta = 3600,
    now: float | _dt.datetime | None = None,
) -> MultipartPlan:
    """The plan of a multipart upload (see the module docstring)."""
    parts, chosen = layout(size, part_count, part_size)
    if sse is not None and not isinstance(sse, SSE):
        raise PresignError("sse must be an SSE value, e.g. SSE.kms() or SSE.customer()")
    create = None
    if upload_id is None:
        create = presigner.presign("POST", bucket, key, query={"uploads": ""}, sse=sse, expires_in=expires_in, now=now)
    return MultipartPlan(presigner, bucket, key, parts, size, chosen, sse, expires_in, now, upload_id, create)
