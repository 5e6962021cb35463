"""Upgrading a data dir written by the file-per-object layout (schema 1).

Schema 1 kept ``buckets/<bucket>/bucket.json``, one file per object
(``objects/<sha256(key)>``: stored bytes, JSON record, footer) and multipart
uploads under ``uploads/<id>/`` (``upload.json``, ``part-NNNNN`` files in the
object format; ``.completing-<id>-*`` is an upload a crash caught mid-completion).

The upgrade copies every object's and part's stored bytes (ciphertext, as is:
the envelopes do not depend on where bytes live) into new blobs, then writes
every record in ONE metadata transaction, and only then removes the old tree.
A crash before that transaction leaves the old tree intact and only
unreferenced blobs (swept at start-up); the upgrade simply runs again.
Run it explicitly with ``s3presign serve --data-dir DIR`` (it runs on start).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import struct
import time
from pathlib import Path
from typing import Any

from s3presign.server.storage import NULL, ObjectMeta, Storage, Upload

log = logging.getLogger("s3presign.storage")

_FOOTER = struct.Struct("<Q8s")
_MAGIC = b"S3PREC01"
_PART = re.compile(r"^part-(\d{5})$")
_UPLOAD_DIR = re.compile(r"^(?:\.completing-)?([0-9a-f]{64})(?:-[0-9a-f]+)?$")
_CHUNK = 1 << 20


def _read_file(path: Path) -> tuple[dict[str, Any], int] | None:
    """(record, stored length) of a schema-1 object file, None if it is not one."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < _FOOTER.size:
                return None
            f.seek(size - _FOOTER.size)
            length, magic = _FOOTER.unpack(f.read(_FOOTER.size))
            if magic != _MAGIC or length > size - _FOOTER.size:
                return None
            f.seek(size - _FOOTER.size - length)
            return json.loads(f.read(length)), size - _FOOTER.size - length
    except (OSError, ValueError):
        return None


def _copy_blob(storage: Storage, path: Path, length: int) -> list[list[Any]]:
    blob = storage.blobs.create()
    try:
        with open(path, "rb") as f:
            left = length
            while left > 0:
                chunk = f.read(min(_CHUNK, left))
                if not chunk:
                    raise OSError(f"{path} is shorter than its record")
                blob.write(chunk)
                left -= len(chunk)
        size = blob.commit()
    except BaseException:
        blob.abort()
        raise
    return [[blob.name, size]]


def _meta(record: dict[str, Any], blobs: list[list[Any]]) -> ObjectMeta:
    known = {n: record[n] for n in ("size", "etag", "last_modified", "content_type", "headers", "user_meta",
                                    "envelope", "checksum", "extra") if n in record}
    return ObjectMeta(key=record.get("key", ""), blobs=blobs, **known)


def needs_upgrade(data_dir: Path, storage: Storage) -> bool:
    return (Path(data_dir) / "buckets").is_dir() and storage.meta.get("legacy") != "migrated"


def upgrade_if_needed(data_dir: Path, storage: Storage) -> int:
    """Upgrade a schema-1 data dir in place; the number of objects moved."""
    root = Path(data_dir) / "buckets"
    if not needs_upgrade(data_dir, storage):
        return 0
    started = time.monotonic()
    buckets: list[dict[str, Any]] = []
    objects: dict[str, list[ObjectMeta]] = {}
    uploads: list[tuple[str, Upload, dict[int, ObjectMeta]]] = []
    for entry in sorted(root.iterdir()):
        info_file = entry / "bucket.json"
        if entry.name.startswith(".") or not info_file.is_file():
            continue
        info = json.loads(info_file.read_bytes())
        buckets.append(info)
        found = objects.setdefault(info["name"], [])
        if (entry / "objects").is_dir():
            for path in (entry / "objects").iterdir():
                parsed = _read_file(path)
                if parsed is None:
                    log.warning("upgrade: %s is not an object file; left in place", path)
                    continue
                record, length = parsed
                found.append(_meta(record, _copy_blob(storage, path, length)))
        if (entry / "uploads").is_dir():
            for directory in (entry / "uploads").iterdir():
                match = _UPLOAD_DIR.match(directory.name)
                if not match or not (directory / "upload.json").is_file():
                    continue
                fields = json.loads((directory / "upload.json").read_bytes())
                fields["owner"] = tuple(fields.get("owner") or ("", ""))
                upload = Upload(**fields)
                parts: dict[int, ObjectMeta] = {}
                for path in directory.iterdir():
                    number = _PART.match(path.name)
                    parsed = _read_file(path) if number else None
                    if parsed is not None:
                        parts[int(number.group(1))] = _meta(parsed[0], _copy_blob(storage, path, parsed[1]))
                uploads.append((info["name"], upload, parts))
    meta = storage.meta
    with meta.tx() as t:
        for info in buckets:
            if meta.insert_bucket(t, info["name"], info["created"], info["region"]):
                meta.update_bucket(t, info["name"], "", json.dumps(info.get("config") or {}))
        for bucket, metas in objects.items():
            rows = []
            for m in metas:
                m.version_id = NULL
                record, mac, names = storage._sealed(bucket, m)
                rows.append((bucket, m.key, NULL, 1, record, mac, names))
            meta.load_versions(t, rows)
        for bucket, upload, parts in uploads:
            record = upload.record()
            meta.insert_upload(t, upload.upload_id, bucket, upload.key, upload.initiated, record,
                               storage._mac("u", bucket, upload.key, upload.upload_id, record))
            for number, part in parts.items():
                record = part.record()
                meta.upsert_part(t, upload.upload_id, number, record,
                                 storage._mac("p", upload.upload_id, str(number), "", record),
                                 " ".join(b[0] for b in part.blobs))
        meta.set(t, "legacy", "migrated")
    moved = sum(len(m) for m in objects.values())
    aside = Path(data_dir) / ".s3presign" / f"upgraded-{int(time.time())}"
    os.rename(root, aside)
    shutil.rmtree(aside, ignore_errors=True)
    log.warning("upgraded the data dir to the metadata database: %d bucket(s), %d object(s), %d upload(s) in %.1f s",
                len(buckets), moved, len(uploads), time.monotonic() - started)
    return moved
