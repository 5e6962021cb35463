"""Multipart uploads in progress, on the filesystem next to the bucket's objects.

Layout, below ``buckets/<bucket>/uploads/`` (FilesystemStorage.staging_dir)::

    <upload id>/upload.json        the upload: key, metadata, SSE envelope (sealed keys only)
    <upload id>/part-00001         a part: ciphertext + record (the object file format)

Why it looks like this:

- parts never live under ``objects/``, so an unfinished or abandoned upload is
  never listed or readable as an object;
- completion first renames the upload directory aside (one atomic step that
  also stops further parts and aborts from touching it), then builds the object
  through the ordinary object writer and publishes it with its atomic rename:
  the object appears whole or not at all;
- abort renames the directory into the trash and deletes it, freeing the space.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from s3presign.core.s3errors import S3Error
from s3presign.server.storage import FilesystemStorage, ObjectMeta, ObjectSink

_UPLOAD_ID = re.compile(r"^[0-9a-f]{64}$")
_PART = re.compile(r"^part-(\d{5})$")
_RECORD = "upload.json"
_STALE = 3600.0  # seconds: debris older than this has no live request behind it


@dataclass(slots=True)
class Upload:
    """What CreateMultipartUpload fixed for the object the upload will become."""

    upload_id: str
    key: str
    initiated: float
    envelope: dict[str, Any]  # server.encryption: sealed keys, no data nonce used
    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    owner: tuple[str, str] = ("", "")
    checksum_algorithm: str | None = None

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Upload":
        fields = json.loads(data)
        fields["owner"] = tuple(fields.get("owner") or ("", ""))
        return cls(**fields)


def _sweep(root: Path) -> None:
    """Remove what a crash left in a bucket's staging dir: half-made uploads, aborted
    ones not yet deleted (old enough that no request still owns them)."""
    cutoff = time.time() - _STALE
    for entry in os.scandir(root):
        if entry.name.startswith((".new-", ".gone-")):
            try:
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry.path, ignore_errors=True)
            except OSError:
                pass


def new_upload_id() -> str:
    return secrets.token_hex(32)


def _part_name(number: int) -> str:
    return f"part-{number:05d}"


@contextlib.contextmanager
def _upload_gone(upload_id: str) -> Iterator[None]:
    """A part's directory vanished (the upload was aborted or completed meanwhile):
    S3's NoSuchUpload, not the storage's NoSuchBucket."""
    try:
        yield
    except S3Error as err:
        if err.name == "NoSuchBucket":
            raise S3Error("NoSuchUpload", elements={"UploadId": upload_id}) from None
        raise


class _PartSink:
    """A part's sink whose commit fails as NoSuchUpload if the upload went away."""

    __slots__ = ("_sink", "_upload_id")

    def __init__(self, sink: ObjectSink, upload_id: str) -> None:
        self._sink = sink
        self._upload_id = upload_id

    def write(self, data: bytes) -> None:
        self._sink.write(data)

    def commit(self, meta: ObjectMeta) -> None:
        with _upload_gone(self._upload_id):
            self._sink.commit(meta)

    def abort(self) -> None:
        self._sink.abort()


# (ordered part records) -> the completed object's record, or an S3Error
Assemble = Callable[[dict[int, ObjectMeta]], tuple[list[int], ObjectMeta]]


class UploadStore:
    """Multipart staging over a FilesystemStorage (stateless: cheap to make per request)."""

    def __init__(self, storage: FilesystemStorage) -> None:
        self.storage = storage

    def _dir(self, bucket: str, upload_id: str) -> Path:
        if not _UPLOAD_ID.match(upload_id):  # never a path from the client
            raise S3Error("NoSuchUpload", elements={"UploadId": upload_id})
        return self.storage.staging_dir(bucket) / upload_id

    def create(self, bucket: str, upload: Upload) -> None:
        """Built aside, then renamed into place: an upload is listed complete or not at all."""
        root = self.storage.staging_dir(bucket)
        _sweep(root)
        staging = root / f".new-{upload.upload_id}"
        staging.mkdir(mode=0o700)
        try:
            with open(staging / _RECORD, "wb") as f:
                f.write(upload.to_bytes())
                f.flush()
                os.fsync(f.fileno())
            os.rename(staging, root / upload.upload_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def get(self, bucket: str, upload_id: str, key: str) -> Upload:
        """The upload, if it exists and is for this key (S3's NoSuchUpload otherwise)."""
        upload = self._read(self._dir(bucket, upload_id))
        if upload is None or upload.key != key:
            raise S3Error("NoSuchUpload", elements={"UploadId": upload_id})
        return upload

    @staticmethod
    def _read(directory: Path) -> Upload | None:
        try:
            with open(directory / _RECORD, "rb") as f:
                return Upload.from_bytes(f.read())
        except (FileNotFoundError, NotADirectoryError):
            return None

    def part_writer(self, bucket: str, upload_id: str, number: int) -> ObjectSink:
        """A sink for one part; a re-sent part replaces the earlier one at commit."""
        with _upload_gone(upload_id):
            return _PartSink(self.storage.file_writer(self._dir(bucket, upload_id) / _part_name(number)), upload_id)

    def parts(self, bucket: str, upload_id: str) -> dict[int, ObjectMeta]:
        return self._parts(self._dir(bucket, upload_id))

    def _parts(self, directory: Path) -> dict[int, ObjectMeta]:
        found: dict[int, ObjectMeta] = {}
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return found
        for entry in entries:
            match = _PART.match(entry.name)
            if not match:
                continue  # the record, or a part still being written
            try:
                obj = self.storage.open_file(entry.path)
            except (FileNotFoundError, ValueError):
                continue
            obj.close()
            found[int(match.group(1))] = obj.meta
        return found

    def list_uploads(self, bucket: str) -> list[Upload]:
        root = self.storage.staging_dir(bucket)
        uploads = []
        for entry in os.scandir(root):
            if _UPLOAD_ID.match(entry.name):
                upload = self._read(Path(entry.path))
                if upload is not None:
                    uploads.append(upload)
        uploads.sort(key=lambda u: (u.key, u.initiated, u.upload_id))
        return uploads

    def abort(self, bucket: str, upload_id: str, key: str) -> None:
        """Remove the upload and every part (the space is freed now, not later)."""
        self.get(bucket, upload_id, key)
        directory = self._dir(bucket, upload_id)
        doomed = self._trash(directory)
        try:
            os.rename(directory, doomed)
        except FileNotFoundError:
            raise S3Error("NoSuchUpload", elements={"UploadId": upload_id}) from None
        shutil.rmtree(doomed, ignore_errors=True)

    def _trash(self, directory: Path) -> Path:
        return directory.parent / f".gone-{directory.name}-{secrets.token_hex(4)}"

    def complete(self, bucket: str, upload: Upload, assemble: Assemble) -> ObjectMeta:
        """Publish the object ``assemble`` describes from the staged parts, atomically.

        Blocking (file copies): run it on a worker thread."""
        directory = self._dir(bucket, upload.upload_id)
        working = directory.parent / f".completing-{upload.upload_id}-{secrets.token_hex(4)}"
        try:
            os.rename(directory, working)  # no part, abort or second completion gets in now
        except FileNotFoundError:
            raise S3Error("NoSuchUpload", elements={"UploadId": upload.upload_id}) from None
        sink = None
        try:
            numbers, meta = assemble(self._parts(working))
            sink = self.storage.writer(bucket, upload.key)
            for number in numbers:
                part = self.storage.open_file(working / _part_name(number))
                try:
                    sink.copy_from(part.fd, 0, part.stored_size)  # type: ignore[attr-defined]
                finally:
                    part.close()
            sink.commit(meta)
        except BaseException:
            if sink is not None:
                sink.abort()
            try:
                os.rename(working, directory)  # the upload stays as it was
            except OSError:
                shutil.rmtree(working, ignore_errors=True)
            raise
        shutil.rmtree(working, ignore_errors=True)
        return meta
