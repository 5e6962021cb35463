"""POST object: a browser form upload, authenticated by its signed policy (V4 or V2).

The fields before the file are read (at most 20 KiB, S3's limit), the policy is
verified against them (core.verify.verify_post_form: signature, expiration,
every condition, no unlisted field), and only then is the file streamed
through the encryptor onto disk, its length checked against the policy's
content-length-range as it arrives. Fields after the file are ignored, as S3
ignores them.
"""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode, urlsplit

from s3presign.core.numbers import ascii_uint
from s3presign.core.s3errors import S3Error
from s3presign.core.verify import verify_post_form
from s3presign.server import xml
from s3presign.server.formdata import FormReader, boundary_of
from s3presign.server.handlers.common import check_key, default_sse, stored_headers, version_header
from s3presign.server.handlers import authz
from s3presign.server.handlers.context import Ctx
from s3presign.server.handlers.writing import LARGE_BODY, save
from s3presign.server.http import Response
from s3presign.server.sse import parse_write_sse
from s3presign.server.storage import ObjectMeta

MAX_FIELDS = 20 * 1024  # bytes of form fields before the file
MAX_FILE = 5 * 1024**3
FILENAME = "${filename}"
_FORM = "multipart/form-data"
# Any of these makes a form a signed one (verified, refused when incomplete).
_SIGNED_FIELDS = ("policy", "awsaccesskeyid", "signature", "x-amz-signature", "x-amz-credential",
                  "x-amz-algorithm")




async def _fields(reader: FormReader) -> dict[str, str]:
    """The fields before the file (names lower-case, first value kept); the reader is
    left at the start of the file."""
    form: dict[str, str] = {}
    budget = MAX_FIELDS
    while (part := await reader.next_part()) is not None:
        if part.name == "file":
            form["file"] = part.filename or ""
            return form
        value = await reader.value(budget)
        budget -= len(value)
        try:
            form.setdefault(part.name.lower(), value.decode("utf-8"))
        except UnicodeDecodeError:
            raise S3Error("MalformedPOSTRequest") from None
    raise S3Error("PostFileMissing")


def _anonymous(form: dict[str, str]) -> bool:
    """S3: the policy (and the signature with it) is needed only where the bucket is not
    publicly writable. A form with neither is an anonymous request."""
    return not any(f in form for f in _SIGNED_FIELDS)


def _location(ctx: Ctx, key: str) -> str:
    req = ctx.req
    scheme = "https" if req.secure else "http"
    return f"{scheme}://{req.headers.get('host', '')}/{quote(ctx.bucket)}/{quote(key)}"


def _answer(ctx: Ctx, form: dict[str, str], key: str, etag: str) -> Response:
    """success_action_redirect (303), else success_action_status: 200, 201 with
    S3's PostResponse document, or 204 (the default)."""
    location = _location(ctx, key)
    redirect = form.get("success_action_redirect") or form.get("redirect")
    if redirect and urlsplit(redirect).scheme in ("http", "https"):
        query = urlencode({"bucket": ctx.bucket, "key": key, "etag": f'"{etag}"'})
        target = redirect + ("&" if "?" in redirect else "?") + query
        return Response(303).header("Location", target).header("ETag", f'"{etag}"')
    status = form.get("success_action_status")
    if status == "201":
        body = xml.document("PostResponse", [
            xml.el("Location", location), xml.el("Bucket", ctx.bucket), xml.el("Key", key),
            xml.el("ETag", f'"{etag}"'),
        ], namespace=False)
        resp = Response(201, body=body).header("Content-Type", "application/xml")
    else:
        resp = Response(200 if status == "200" else 204)
    return resp.header("ETag", f'"{etag}"').header("Location", location)


async def post_object(ctx: Ctx) -> Response:
    req, state = ctx.req, ctx.state
    if not req.headers.get("content-type", "").lower().startswith(_FORM):
        raise S3Error("PreconditionFailed",
                      elements={"Condition": "Bucket POST must be of the enclosure-type multipart/form-data"})
    reader = FormReader(req.stream(), boundary_of(req.headers["content-type"]))
    info = await state.store.bucket(ctx.bucket)
    form = await _fields(reader)
    filename = form.pop("file")
    if "key" not in form:
        raise S3Error("PostMissingField", field="key")
    form["key"] = key = form["key"].replace(FILENAME, filename)  # the policy sees the final key
    if _anonymous(form):
        auth, length_range = None, None   # authorized like any anonymous request: by grant only
    else:
        auth, _, length_range = verify_post_form(form, bucket=ctx.bucket, lookup=state.lookup,
                                                 region=state.config.region)
    ctx.auth, ctx.key = auth, key
    check_key(key)
    await authz.check(ctx, "PostObject", key, post=True, info=info, fields=form)
    content_type, stored, user, extra = stored_headers(form)
    extra.update(ctx.access.object_extra)  # owner and ACL
    sse = parse_write_sse(form, secure=req.secure, allow_insecure_ssec=state.config.allow_insecure_ssec,
                          signature_version=ctx.signature_version)
    writer = state.encryption.begin_write(sse, default_sse(info), bucket=ctx.bucket, key=key,
                                          signature_version=ctx.signature_version)
    low, high = length_range if length_range is not None else (0, MAX_FILE)
    high = min(high, MAX_FILE)
    length = ascii_uint(req.headers.get("content-length"))
    large = length is not None and length >= LARGE_BODY
    size = 0

    async def counted():
        """The file, measured against the policy's range as it arrives."""
        nonlocal size
        async for chunk in reader.chunks():
            size += len(chunk)
            if size > high:
                raise S3Error("EntityTooLarge", elements={"ProposedSize": str(size), "MaxSizeAllowed": str(high)})
            yield chunk

    def check() -> None:
        if size < low:
            raise S3Error("EntityTooSmall", elements={"ProposedSize": str(size), "MinSizeAllowed": str(low)})

    blobs, md5 = await save(state.store, writer, counted(), large=large, digest=True, check=check, key=key)
    try:
        await reader.drain()
    except BaseException:
        await state.store.discard(blobs)
        raise
    etag = writer.etag(md5 or "")
    meta = ObjectMeta(key=key, size=size, etag=etag, last_modified=time.time(), content_type=content_type,
                      headers=stored, user_meta=user, envelope=writer.envelope, extra=extra, blobs=blobs)
    await state.store.put(ctx.bucket, meta)
    resp = _answer(ctx, form, key, etag).extend(writer.response_headers.items())
    return version_header(resp, info, meta)
