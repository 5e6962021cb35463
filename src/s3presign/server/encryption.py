"""The one entry point handlers use to encrypt and decrypt objects.

Every object is encrypted (SSE-S3 when nothing else is asked for). Each object
gets fresh root keys, one per layer, protected according to its SSE mode:

- SSE-S3 (AES256): a random object key sealed by the master key;
- SSE-KMS (aws:kms): a data key from the key service, bound to the KMS
  encryption context (the caller's plus ``aws:s3:arn`` of the object);
- DSSE-KMS (aws:kms:dsse): two independent data keys, two layers;
- SSE-C: a random object key sealed under the customer's key, plus a salted
  HMAC of that key to tell a wrong key. The customer key is never stored.

Multipart parts are sealed records under a server key, so that completion
needs no object key (S3 does not ask SSE-C clients for theirs there).

Sealing binds every root key to its bucket and object key, so an envelope moved
to another object does not open. The envelope (JSON, stored with the object)
holds sealed keys, nonces and the plaintext size, never a key in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from s3presign.core.s3errors import S3Error
from s3presign.server import keys, sio
from s3presign.server.kms import LocalKeyService
from s3presign.server.sse import (
    H_BUCKET_KEY, H_CONTEXT, H_KMS_KEY, H_SSE, KMS_MODES, SSE_C, SSE_DSSE, SSE_S3,
    CustomerKey, SseRequest, kms_needs_v4,
)

FORMAT_VERSION = 1
IntegrityError = sio.IntegrityError


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def stored_size(plain_size: int, envelope: Mapping[str, Any] | None = None) -> int:
    """Bytes on disk for ``plain_size`` bytes of plaintext (of this envelope's mode and parts)."""
    if envelope is None:
        return sio.stored_size(plain_size)
    layers = _layer_count(envelope)
    sizes = [p["size"] for p in envelope["parts"]] if "parts" in envelope else [plain_size]
    return sum(sio.stored_size(size, layers) for size in sizes)


def _layer_count(envelope: Mapping[str, Any]) -> int:
    return 2 if envelope["mode"] == SSE_DSSE else 1


def _object_context(mode: str, bucket: str, key: str) -> dict[str, str]:
    return {"sse": mode, "bucket": bucket, "key": key}


def _kms_context(caller: Mapping[str, str] | None, bucket: str, key: str) -> dict[str, str]:
    """S3's encryption context: the caller's, with the object's ARN (which S3 owns)."""
    return {**(caller or {}), "aws:s3:arn": f"arn:aws:s3:::{bucket}/{key}"}


def _headers(envelope: Mapping[str, Any], customer_key: CustomerKey | None) -> dict[str, str]:
    """The SSE response headers S3 sends for an object under this envelope."""
    if envelope["mode"] == SSE_C:
        assert customer_key is not None
        return customer_key.headers()
    headers = {H_SSE: envelope["mode"]}
    kms = envelope.get("kms")
    if kms:
        headers[H_KMS_KEY] = kms["arn"]
        if kms.get("bke"):
            headers[H_BUCKET_KEY] = "true"
    return headers


# --- streams: one per object, or one per multipart part ----------------------


@dataclass(frozen=True)
class _Segment:
    """One sio stream of an object: where its plaintext and stored bytes start."""

    plain_offset: int
    stored_offset: int
    plain_size: int
    layers: tuple[sio.Layer, ...]

    @property
    def stored_size(self) -> int:
        return sio.stored_size(self.plain_size, len(self.layers))


def _part_roots(roots: Sequence[bytes], part_number: int, salt: bytes) -> list[bytes]:
    """Part keys: derived from the object's root keys, the part number and a fresh
    salt, so re-uploading a part never reuses a (key, nonce) pair."""
    info = b"s3presign part %d" % part_number
    return [keys.hkdf(root, info, salt=salt) for root in roots]


def _layers(roots: Sequence[bytes], nonces: Sequence[str]) -> tuple[sio.Layer, ...]:
    if len(nonces) != len(roots):
        raise IntegrityError("envelope has the wrong number of layers")
    return tuple(sio.Layer(root, _unb64(n)) for root, n in zip(roots, nonces))


def _segments(envelope: Mapping[str, Any], roots: Sequence[bytes]) -> list[_Segment]:
    """The object's streams in order: the single stream, or its parts."""
    parts = envelope.get("parts")
    if parts is None:
        return [_Segment(0, 0, envelope["size"], _layers(roots, envelope["nonce"]))]
    segments, plain, stored = [], 0, 0
    for part in parts:
        layers = _layers(_part_roots(roots, part["n"], _unb64(part["salt"])), part["nonce"])
        segments.append(_Segment(plain, stored, part["size"], layers))
        plain += part["size"]
        stored += segments[-1].stored_size
    return segments


def _legacy_parts_mac(roots: Sequence[bytes], parts: Sequence[Mapping[str, Any]]) -> str:
    """The parts MAC of objects completed before completion stopped needing the object
    key (keyed from it); still verified on read."""
    listing = json.dumps([[p["n"], p["size"], p["salt"], p["nonce"]] for p in parts], separators=(",", ":"))
    return hmac.new(keys.hkdf(roots[0], b"s3presign parts"), listing.encode(), hashlib.sha256).hexdigest()


# Envelope fields that describe one stream or the parts, not the upload's keys.
_NOT_BINDING = frozenset({"nonce", "size", "parts", "mac", "pmac"})


def _binding(envelope: Mapping[str, Any]) -> str:
    """A digest of the upload's sealed keys and mode: what ties parts to their upload."""
    fixed = {k: v for k, v in envelope.items() if k not in _NOT_BINDING}
    return hashlib.sha256(json.dumps(fixed, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _mac(key: bytes, *fields: Any) -> str:
    return hmac.new(key, json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode(),
                    hashlib.sha256).hexdigest()


def _fresh_nonces(count: int) -> list[str]:
    return [_b64(secrets.token_bytes(sio.NONCE)) for _ in range(count)]


# --- writing -------------------------------------------------------------------


class ObjectWriter:
    """Encrypts one object (or one part) as it streams in.

    ``encrypt`` and ``finish`` return bytes-like ``bytearray`` objects (sealed in
    place, no copy): write them as they are. ``envelope`` is what to store with
    the object once :meth:`finish` has run; ``response_headers`` are the SSE
    headers of the response.
    """

    def __init__(self, layers: Sequence[sio.Layer], envelope: dict[str, Any],
                 response_headers: dict[str, str], etag_key: bytes | None,
                 seal: Any = None) -> None:
        self._enc = sio.Encryptor(layers)
        self._envelope = envelope
        self.response_headers = response_headers
        self._etag_key = etag_key
        self._seal = seal  # a part's: adds the record's MAC once its size is known

    def encrypt(self, chunk: sio.Buffer) -> bytearray:
        return self._enc.update(chunk)

    def sealed_size(self, n: int) -> int:
        """The size of what ``encrypt`` of ``n`` more bytes returns."""
        return self._enc.sealed_size(n)

    def encrypt_into(self, chunk: sio.Buffer, out: sio.Buffer) -> None:
        """``encrypt`` into ``out``, of exactly ``sealed_size(len(chunk))`` bytes."""
        self._enc.update_into(chunk, out)

    def finish(self) -> bytearray:
        out = self._enc.finish()
        self._envelope["size"] = self._enc.size
        if self._seal is not None:
            self._seal(self._envelope)
        return out

    @property
    def envelope(self) -> dict[str, Any]:
        return self._envelope

    @property
    def plain_size(self) -> int:
        return self._enc.size

    def etag(self, plain_md5_hex: str) -> str:
        """S3's ETag: the plaintext MD5 for SSE-S3; for the other modes a keyed
        digest of it, as S3 does, so the ETag confirms no guess about the data."""
        if self._etag_key is None:
            return plain_md5_hex
        return hmac.new(self._etag_key, bytes.fromhex(plain_md5_hex), hashlib.sha256).hexdigest()[:32]


def _etag_key(mode: str, roots: Sequence[bytes]) -> bytes | None:
    return None if mode == SSE_S3 else keys.hkdf(roots[0], b"s3presign etag")


# --- reading -------------------------------------------------------------------


class ObjectReader:
    """Decrypts any byte range of one stored object."""

    def __init__(self, segments: list[_Segment], response_headers: dict[str, str]) -> None:
        self._segments = segments
        self.response_headers = response_headers
        self.plain_size = sum(s.plain_size for s in segments)
        self.stored_size = sum(s.stored_size for s in segments)
        self._prepared: dict[int, Any] = {}  # segment index -> its ciphers (sio.prepare)

    def _ciphers(self, i: int) -> Any:
        prepared = self._prepared.get(i)
        if prepared is None and i not in self._prepared:
            prepared = self._prepared[i] = sio.prepare(self._segments[i].layers)
        return prepared

    def _pieces(self, start: int, end: int) -> list[tuple[int, _Segment, int, int]]:
        """(segment index, segment, local start, local end) for each stream the range touches."""
        if start < 0 or end < start - 1 or end >= self.plain_size:
            raise ValueError(f"range {start}-{end} outside an object of {self.plain_size} bytes")
        if end < start:  # empty range: authenticate the empty object's one package
            return [(0, s, 0, -1) for s in self._segments[:1] if self.plain_size == 0]
        pieces = []
        for i, s in enumerate(self._segments):
            if s.plain_size and s.plain_offset <= end and start < s.plain_offset + s.plain_size:
                pieces.append((i, s, max(start - s.plain_offset, 0), min(end - s.plain_offset, s.plain_size - 1)))
            elif not s.plain_size and start < s.plain_offset <= end:  # an empty part in between
                pieces.append((i, s, 0, -1))
        return pieces

    def _full(self, start: int, end: int | None) -> tuple[int, int]:
        return start, self.plain_size - 1 if end is None else end

    def cipher_range(self, start: int = 0, end: int | None = None) -> tuple[int, int]:
        """(offset, length) of the stored bytes holding plaintext ``start..end`` inclusive."""
        pieces = self._pieces(*self._full(start, end))
        if not pieces:
            return 0, 0
        ranges = [(s.stored_offset + o, n) for _, s, lo, hi in pieces
                  for o, n in [sio.cipher_range(s.plain_size, lo, hi, len(s.layers))]]
        return ranges[0][0], ranges[-1][0] + ranges[-1][1] - ranges[0][0]

    def decryptor(self, start: int = 0, end: int | None = None) -> sio.PushDecryptor:
        """A push decryptor (``feed(bytes) -> bytes``, ``close()``) for an async reader."""
        pieces = self._pieces(*self._full(start, end))
        decs = [
            (sio.Decryptor(s.layers, s.plain_size, lo, hi, self._ciphers(i)),
             sio.cipher_range(s.plain_size, lo, hi, len(s.layers))[1])
            for i, s, lo, hi in pieces
        ]
        return decs[0][0] if len(decs) == 1 else _Chain(decs)

    def whole(self, stored: bytes) -> bytes | None:
        """The plaintext of a small single-stream object from all its stored bytes, in
        one call; None when :meth:`decryptor` must do it."""
        if len(self._segments) != 1:
            return None
        prepared = self._ciphers(0)
        return None if prepared is None else sio.open_whole(prepared, self.plain_size, stored)

    def decrypt(self, cipher_chunks: Iterable[bytes], start: int = 0, end: int | None = None) -> Iterator[bytearray]:
        """Yield exactly plaintext ``start..end`` (bytes-like) from the stored bytes
        :meth:`cipher_range` names; IntegrityError before any unverified byte."""
        return sio.drive(self.decryptor(start, end), cipher_chunks)


class _Chain:
    """Decryptors of consecutive streams (multipart parts) fed from one byte stream."""

    def __init__(self, pieces: list[tuple[sio.Decryptor, int]]) -> None:
        self._pieces = pieces
        self._i = 0
        self._left = pieces[0][1] if pieces else 0

    def feed(self, data: sio.Buffer) -> bytearray:
        out: list[bytearray] = []
        pos, view = 0, memoryview(data)
        while pos < len(view) and self._i < len(self._pieces):
            dec = self._pieces[self._i][0]
            take = min(self._left, len(view) - pos)
            out.append(dec.feed(view[pos:pos + take]))
            pos, self._left = pos + take, self._left - take
            if self._left == 0:
                out.append(dec.close())
                self._i += 1
                self._left = self._pieces[self._i][1] if self._i < len(self._pieces) else 0
        if pos < len(view):
            raise IntegrityError("stored data continues past the end of the range")
        return bytearray().join(out)

    def close(self) -> bytearray:
        if self._i < len(self._pieces):
            raise IntegrityError("stored data ends early")
        return bytearray()


# --- the entry point -------------------------------------------------------------


class Encryption:
    """Created once at server start: owns the master key and the key service."""

    def __init__(self, data_dir: Path, master_key: bytes | None = None, *, region: str = "us-east-1") -> None:
        if master_key is not None and len(master_key) != keys.KEY_SIZE:
            raise keys.KeyStoreError(f"the master key must be {keys.KEY_SIZE} bytes")
        self._master = master_key if master_key is not None else keys.load_master_key(Path(data_dir))
        self.keys = LocalKeyService(Path(data_dir), self._master, region=region)
        self._parts_key = keys.hkdf(self._master, b"s3presign parts mac v1")

    def record_key(self) -> bytes:
        """The key that authenticates storage records (derived, never the master itself)."""
        return keys.hkdf(self._master, b"s3presign record mac v1")

    def check_access(self, envelope: Mapping[str, Any], customer_key: CustomerKey | None, *,
                     bucket: str, key: str, signature_version: str) -> dict[str, str]:
        """S3's checks of a request's SSE headers against an envelope (as open_read), for an
        answer that reads no bytes; the SSE response headers."""
        self._open_roots(envelope, customer_key, bucket, key, signature_version)
        return _headers(envelope, customer_key)

    def begin_write(self, request: SseRequest, bucket_default: SseRequest | None, *,
                    bucket: str, key: str, signature_version: str) -> ObjectWriter:
        """A writer for a new object under the SSE the request (else the bucket) names."""
        chosen = request
        if request.mode is None:
            chosen = bucket_default if bucket_default and bucket_default.mode else SseRequest(mode=SSE_S3)
        if chosen.mode in KMS_MODES and signature_version == "v2":
            raise kms_needs_v4()
        envelope, roots, headers = self._new_roots(chosen, bucket_default, bucket, key)
        envelope["nonce"] = _fresh_nonces(len(roots))
        layers = _layers(roots, envelope["nonce"])
        return ObjectWriter(layers, envelope, headers, _etag_key(envelope["mode"], roots))

    def open_read(self, envelope: Mapping[str, Any], customer_key: CustomerKey | None, *,
                  bucket: str, key: str, signature_version: str) -> ObjectReader:
        """A reader for a stored object; refuses as S3 does (missing/wrong SSE-C key, SigV2 on KMS)."""
        roots = self._open_roots(envelope, customer_key, bucket, key, signature_version)
        if "parts" in envelope:
            self._check_parts(envelope, roots, bucket, key)
        return ObjectReader(_segments(envelope, roots), _headers(envelope, customer_key))

    def _check_parts(self, envelope: Mapping[str, Any], roots: Sequence[bytes], bucket: str, key: str) -> None:
        parts = envelope["parts"]
        if "pmac" in envelope:
            ok = hmac.compare_digest(envelope["pmac"], self._object_mac(envelope, parts, bucket, key))
        else:
            ok = hmac.compare_digest(envelope.get("mac", ""), _legacy_parts_mac(roots, parts))
        if not ok:
            raise IntegrityError("the list of parts was changed")

    # --- multipart ------------------------------------------------------------------
    # UploadPart needs the object key (it encrypts); CompleteMultipartUpload does not:
    # S3 does not ask an SSE-C client for its key there. So each part's record is
    # sealed by a MAC under a server key (derived from the master key, never from
    # the object's or the customer's) over the upload id, the object, the upload's
    # sealed keys and the part's number, size, salt and nonces; completion checks
    # every part's MAC and seals the chosen list the same way. A read still needs
    # the object key, and every package of every part is authenticated by it.

    def _part_mac(self, upload: Mapping[str, Any], record: Mapping[str, Any], upload_id: str,
                  bucket: str, key: str) -> str:
        return _mac(self._parts_key, "part", upload_id, bucket, key, _binding(upload),
                    record["n"], record["size"], record["salt"], record["nonce"])

    def _object_mac(self, envelope: Mapping[str, Any], parts: Sequence[Mapping[str, Any]],
                    bucket: str, key: str) -> str:
        listing = [[p["n"], p["size"], p["salt"], p["nonce"], p.get("mac", "")] for p in parts]
        return _mac(self._parts_key, "object", bucket, key, _binding(envelope), listing)

    def begin_part(self, envelope: Mapping[str, Any], part_number: int, customer_key: CustomerKey | None,
                   *, bucket: str, key: str, upload_id: str = "", signature_version: str = "v4") -> ObjectWriter:
        """A writer for one multipart part; its ``envelope`` is the part's record
        ({"n", "salt", "nonce", "size", "mac"}, complete once ``finish`` has run) to
        keep until :func:`complete_parts`."""
        roots = self._open_roots(envelope, customer_key, bucket, key, signature_version)
        salt = secrets.token_bytes(16)
        record: dict[str, Any] = {"n": part_number, "salt": _b64(salt), "nonce": _fresh_nonces(len(roots))}
        layers = _layers(_part_roots(roots, part_number, salt), record["nonce"])
        upload = dict(envelope)

        def seal(done: dict[str, Any]) -> None:
            done["mac"] = self._part_mac(upload, done, upload_id, bucket, key)

        return ObjectWriter(layers, record, _headers(envelope, customer_key), _etag_key(envelope["mode"], roots),
                            seal)

    def check_completion(self, envelope: Mapping[str, Any], customer_key: CustomerKey | None, *,
                         signature_version: str, key_required: bool = False) -> dict[str, str]:
        """S3's checks of a CompleteMultipartUpload's SSE headers, without any object
        key: SSE-C headers are optional (required with ``key_required``) and, when
        sent, must name the upload's key. The SSE response headers."""
        mode = envelope.get("mode")
        if envelope.get("v") != FORMAT_VERSION:
            raise IntegrityError(f"unknown envelope version {envelope.get('v')!r}")
        if mode == SSE_C:
            if customer_key is None:
                if key_required:
                    raise S3Error("SseCObjectNeedsKey")
                return {}
            check = _unb64(envelope["check"])
            if not keys.key_matches(customer_key.key, check[:16], check[16:]):
                raise S3Error("SseCWrongKey")
            return customer_key.headers()
        if customer_key is not None:
            raise S3Error("SseCNotForThisObject")
        if mode in KMS_MODES and signature_version == "v2":
            raise kms_needs_v4()
        return _headers(envelope, None)

    def complete_parts(self, envelope: Mapping[str, Any], parts: Sequence[Mapping[str, Any]],
                       customer_key: CustomerKey | None = None, *, bucket: str, key: str, upload_id: str = "",
                       signature_version: str = "v4") -> dict[str, Any]:
        """The envelope of a completed multipart object: the upload's sealed keys plus
        each part's record (its writer's ``envelope``), in order, under a MAC so that
        parts cannot be reordered, dropped or swapped for another upload's later.
        Needs no object key; a part whose record does not authenticate is IntegrityError."""
        self.check_completion(envelope, customer_key, signature_version=signature_version)
        done = {k: v for k, v in envelope.items() if k not in ("nonce", "size")}
        done["parts"] = [dict(p) for p in parts]
        done["size"] = sum(p["size"] for p in parts)
        if any("mac" not in p for p in parts):
            # staged before part records were sealed (an upload that spans an upgrade):
            # the older completion, which needs the object key
            roots = self._open_roots(envelope, customer_key, bucket, key, signature_version)
            done["mac"] = _legacy_parts_mac(roots, done["parts"])
            return done
        for part in parts:
            if not hmac.compare_digest(part["mac"], self._part_mac(envelope, part, upload_id, bucket, key)):
                raise IntegrityError(f"part {part.get('n')} does not belong to this upload")
        done["pmac"] = self._object_mac(done, done["parts"], bucket, key)
        return done

    def _new_roots(self, request: SseRequest, bucket_default: SseRequest | None,
                   bucket: str, key: str) -> tuple[dict[str, Any], list[bytes], dict[str, str]]:
        """Fresh root keys for a new object, the envelope that keeps them sealed, and
        the response headers."""
        mode = request.mode
        envelope: dict[str, Any] = {"v": FORMAT_VERSION, "mode": mode}
        if mode in KMS_MODES:
            arn = self.keys.resolve(request.kms_key_id)
            context = _kms_context(request.context, bucket, key)
            data_keys = [self.keys.generate_data_key(arn, context) for _ in range(2 if mode == SSE_DSSE else 1)]
            bke = request.bucket_key_enabled
            if bke is None:
                bke = bool(bucket_default and bucket_default.mode in KMS_MODES and bucket_default.bucket_key_enabled)
            envelope["kms"] = {"arn": arn, "ctx": dict(request.context or {}), "bke": bke,
                               "keys": [_b64(d.ciphertext) for d in data_keys]}
            headers = _headers(envelope, None)
            if request.context is not None:
                headers[H_CONTEXT] = _b64(keys.canonical(context))
            return envelope, [d.plaintext for d in data_keys], headers
        root = secrets.token_bytes(keys.KEY_SIZE)
        if mode == SSE_C:
            customer = request.customer_key
            assert customer is not None
            salt, mac = keys.key_check(customer.key)
            envelope["check"] = _b64(salt + mac)
            envelope["key"] = _b64(keys.seal(customer.key, root, _object_context(mode, bucket, key)))
            return envelope, [root], customer.headers()
        envelope["key"] = _b64(keys.seal(self._master, root, _object_context(SSE_S3, bucket, key)))
        return envelope, [root], _headers(envelope, None)

    def _open_roots(self, envelope: Mapping[str, Any], customer_key: CustomerKey | None,
                    bucket: str, key: str, signature_version: str) -> list[bytes]:
        """The object's root keys, after S3's checks on the request's SSE headers."""
        mode = envelope.get("mode")
        if envelope.get("v") != FORMAT_VERSION:
            raise IntegrityError(f"unknown envelope version {envelope.get('v')!r}")
        if mode == SSE_C:
            if customer_key is None:
                raise S3Error("SseCObjectNeedsKey")
            check = _unb64(envelope["check"])
            if not keys.key_matches(customer_key.key, check[:16], check[16:]):
                raise S3Error("SseCWrongKey")
            return [self._unseal(customer_key.key, envelope["key"], _object_context(mode, bucket, key))]
        if customer_key is not None:
            raise S3Error("SseCNotForThisObject")
        if mode in KMS_MODES:
            if signature_version == "v2":
                raise kms_needs_v4()
            kms = envelope["kms"]
            context = _kms_context(kms["ctx"], bucket, key)
            try:
                return [self.keys.decrypt(kms["arn"], _unb64(blob), context) for blob in kms["keys"]]
            except keys.SealError as exc:
                raise IntegrityError(f"KMS data key: {exc}") from None
        if mode == SSE_S3:
            return [self._unseal(self._master, envelope["key"], _object_context(mode, bucket, key))]
        raise IntegrityError(f"unknown SSE mode {mode!r}")

    @staticmethod
    def _unseal(sealing_key: bytes, sealed: str, context: Mapping[str, str]) -> bytes:
        try:
            return keys.unseal(sealing_key, _unb64(sealed), context)
        except keys.SealError as exc:
            raise IntegrityError(f"object key: {exc}") from None
