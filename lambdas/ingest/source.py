"""One source object in S3: its identity (key + content checksum) and a streamed, decompressed body.

Identity is the key plus the ETag of a single-part upload, or else a SHA-256 of the bytes
computed in a first streamed pass: never the version id, so an identical re-upload (a new
version with the same content) is recognised as already done.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdas.ingest.errors import ObjectRejected

CHUNK_BYTES = 8 << 20


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None  # as the notification names it (informational: identity comes from HEAD)


@dataclass(frozen=True)
class SourceObject:
    ref: ObjectRef
    checksum: str  # "etag:<md5>" or "sha256:<hex>"
    version_id: str | None
    last_modified: datetime
    size: int


def _get(s3: Any, ref: ObjectRef, **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key, **extra}
    if ref.version_id and ref.version_id != "null":
        kwargs["VersionId"] = ref.version_id
    return s3.get_object(**kwargs)


def describe(s3: Any, ref: ObjectRef, max_bytes: int) -> SourceObject:
    """Head the object (the version the event names) and derive its identity.

    An object over `max_bytes` keeps its ETag as identity (it is rejected unread, so its
    bytes are not hashed either).
    """
    kwargs: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
    if ref.version_id and ref.version_id != "null":
        kwargs["VersionId"] = ref.version_id
    head = s3.head_object(**kwargs)
    etag = head["ETag"].strip('"')
    if "-" in etag and int(head["ContentLength"]) <= max_bytes:
        # multipart: the ETag depends on part sizes, hash the content instead
        digest = hashlib.sha256()
        for chunk in raw_chunks(s3, ref):
            digest.update(chunk)
        checksum = f"sha256:{digest.hexdigest()}"
    else:
        checksum = f"etag:{etag}"
    return SourceObject(ref, checksum, head.get("VersionId"), head["LastModified"], int(head["ContentLength"]))


def raw_chunks(s3: Any, ref: ObjectRef) -> Iterator[bytes]:
    body = _get(s3, ref)["Body"]
    try:
        while chunk := body.read(CHUNK_BYTES):
            yield chunk
    finally:
        body.close()


def check_size(obj: SourceObject, max_bytes: int) -> None:
    """Reject an object over the limit before reading a byte of it."""
    if obj.size > max_bytes:
        raise ObjectRejected("too_large", f"{obj.size} bytes; the limit is {max_bytes} bytes "
                                          "(INGEST_MAX_OBJECT_BYTES, cdk.json ingest_max_object_mb)")


def decompressed_chunks(chunks: Iterator[bytes], gzip: bool, max_bytes: int | None = None) -> Iterator[bytes]:
    """The object's content, gunzipped when `gzip`; `too_large` once it passes `max_bytes`.

    The limit also applies after decompression, so a small gzip bomb is stopped early.
    """
    total = 0
    for chunk in _gunzip(chunks) if gzip else chunks:
        total += len(chunk)
        if max_bytes is not None and total > max_bytes:
            raise ObjectRejected("too_large", f"more than {max_bytes} bytes once decompressed "
                                              "(INGEST_MAX_OBJECT_BYTES, cdk.json ingest_max_object_mb)")
        yield chunk


def _gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Gunzip as gzip(1) and Python's gzip module read it: every member in turn, zero bytes
    between or after members ignored (tape-block padding). Not gzip, corrupt (CRC, length) or
    truncated: `bad_compression`."""
    inflater: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
    fed = False
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if inflater is None:  # between members: padding, then maybe another member
                    data = data.lstrip(b"\0")
                    if not data:
                        break
                    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                fed = True
                out = inflater.decompress(data, CHUNK_BYTES)
                if out:
                    yield out
                data = inflater.unconsumed_tail
                if inflater.eof:
                    data = inflater.unused_data + data
                    inflater = None
        if inflater is not None:
            tail = inflater.flush()
            if tail:
                yield tail
            if fed and not inflater.eof:
                raise ObjectRejected("bad_compression", "the gzip stream ends before its last member does")
    except zlib.error:
        raise ObjectRejected("bad_compression", "the content is not a valid gzip stream") from None
