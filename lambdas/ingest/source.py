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


def describe(s3: Any, ref: ObjectRef) -> SourceObject:
    """Head the object (the version the event names) and derive its identity."""
    kwargs: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
    if ref.version_id and ref.version_id != "null":
        kwargs["VersionId"] = ref.version_id
    head = s3.head_object(**kwargs)
    etag = head["ETag"].strip('"')
    if "-" in etag:  # multipart: the ETag depends on part sizes, hash the content instead
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


def decompressed_chunks(chunks: Iterator[bytes], gzip: bool) -> Iterator[bytes]:
    """Gunzip on the fly (multi-member aware); a corrupt stream rejects the object as not_utf8."""
    if not gzip:
        yield from chunks
        return
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    fed = False
    try:
        for chunk in chunks:
            data = chunk
            while data:
                fed = True
                out = inflater.decompress(data, CHUNK_BYTES)
                if out:
                    yield out
                data = inflater.unconsumed_tail
                if inflater.eof:  # next gzip member
                    data = inflater.unused_data + data
                    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    fed = False
        tail = inflater.flush()
        if tail:
            yield tail
    except zlib.error as exc:
        raise ObjectRejected("not_utf8") from exc
    if fed and not inflater.eof:  # truncated stream
        raise ObjectRejected("not_utf8")
