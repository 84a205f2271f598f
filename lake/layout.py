"""Where things live in the buckets: which entity a raw key names, and the processed layout.

Raw keys: `<entity>/<anything>/<file>`; the first segment names the entity (the ingest routes
by it, local mode reports by it). Processed keys: `<table>/<k1>=<v1>/<k2>=<v2>/<file>` (hive
partitions); a lake file's name derives from its source key and content checksum, so a replay
overwrites its own files and a new version of the key writes new names.

Example:
    >>> entity_of_key("surgical_robots/facility=FAC-001/fleet.csv")
    'surgical_robots'
    >>> partition_prefix("procedure_telemetry", ("date", "robot_id"), ("2025-03-01", "ROBOT-0001"))
    'procedure_telemetry/date=2025-03-01/robot_id=ROBOT-0001/'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from lake.contract import ENTITIES


def entity_of_key(key: str) -> str | None:
    """The entity a raw object key's first segment names (the key must go on past it), or None."""
    first, sep, _ = key.partition("/")
    return first if sep and first in ENTITIES else None


def partition_prefix(table: str, partition_keys: Sequence[str], values: Sequence[str]) -> str:
    """`<table>/k1=v1/k2=v2/` for partition values in partition-key order."""
    parts = "/".join(f"{k}={v}" for k, v in zip(partition_keys, values, strict=True))
    return f"{table}/{parts}/"


def lake_file_name(source_key: str, checksum: str) -> str:
    """`<source file name>-<8 hex of the key's SHA-256>-<12 of the checksum>.parquet`: unique per
    key and content (two keys ending in the same file name do not collide)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", source_key.rsplit("/", 1)[-1])
    key_hash = hashlib.sha256(source_key.encode()).hexdigest()[:8]
    return f"{base}-{key_hash}-{checksum.split(':')[-1][:12]}.parquet"
