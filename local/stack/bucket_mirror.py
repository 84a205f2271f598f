"""Mirror moto's in-memory buckets to the workdir and seed them back at the next start.

The mirror is incremental (an index of key -> ETag per bucket), so stopping after a run
downloads only what changed. The processed bucket's mirror doubles as the local lake that
Spark and DuckDB read with `file://` paths.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

_THREADS = 8


def list_objects(s3: Any, bucket: str, prefix: str = "") -> dict[str, str]:
    """key -> ETag of every object in the bucket under prefix."""
    out: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = obj["ETag"]
    return out


def sync_to_dir(s3: Any, bucket: str, dest: Path, index: dict[str, str], prefix: str = "") -> int:
    """Download new/changed objects, delete local files gone from the bucket; returns files changed.

    `index` (key -> ETag of the local copy) is updated in place.
    """
    remote = list_objects(s3, bucket, prefix)
    todo = [key for key, etag in remote.items() if index.get(key) != etag or not (dest / key).exists()]
    gone = [k for k in index if k.startswith(prefix) and k not in remote]
    for key in gone:
        (dest / key).unlink(missing_ok=True)
        del index[key]

    def fetch(key: str) -> None:
        path = dest / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        s3.download_file(bucket, key, str(tmp))
        tmp.replace(path)

    with ThreadPoolExecutor(_THREADS) as pool:
        list(pool.map(fetch, todo))
    for key in todo:
        index[key] = remote[key]
    return len(todo) + len(gone)


def md5_of(path: Path) -> str:
    """Hex MD5 of a file: the ETag S3 gives a single-part upload of it."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_files(root: Path) -> list[Path]:
    """Files under root, skipping in-flight downloads."""
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".part"))


def seed_from_dir(
    s3: Any, bucket: str, src: Path, index: dict[str, str], on_file: Callable[[int], None] | None = None
) -> int:
    """Upload every mirrored file back into the (empty, fresh) bucket; returns the count."""
    files = local_files(src)

    def put(path: Path) -> tuple[str, str]:
        key = path.relative_to(src).as_posix()
        with path.open("rb") as fh:
            etag = s3.put_object(Bucket=bucket, Key=key, Body=fh)["ETag"]
        if on_file:
            on_file(path.stat().st_size)
        return key, etag

    with ThreadPoolExecutor(_THREADS) as pool:
        for key, etag in pool.map(put, files):
            index[key] = etag
    return len(files)
