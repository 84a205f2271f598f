"""Object key -> (entity, format, compression), or the whole-object reason it cannot be routed.

The first key segment names the entity; the extension names the format, optionally `.gz`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lake.contract import ENTITIES, Entity
from lambdas.ingest.errors import ObjectRejected


class Format(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"


_EXTENSIONS = {".csv": Format.CSV, ".json": Format.NDJSON, ".ndjson": Format.NDJSON, ".jsonl": Format.NDJSON}


@dataclass(frozen=True)
class Route:
    entity: Entity
    format: Format
    gzip: bool


def entity_name(key: str) -> str | None:
    """The entity the key's first segment names, or None."""
    first = key.split("/", 1)[0]
    return first if first in ENTITIES and "/" in key else None


def route(key: str) -> Route:
    """Route a (URL-decoded) object key; raises ObjectRejected for unknown entity or format."""
    name = entity_name(key)
    if name is None:
        raise ObjectRejected("unknown_entity")
    lowered = key.lower()
    gz = lowered.endswith(".gz")
    if gz:
        lowered = lowered[:-3]
    for ext, fmt in _EXTENSIONS.items():
        if lowered.endswith(ext) and len(lowered.rsplit("/", 1)[-1]) > len(ext):
            return Route(ENTITIES[name], fmt, gz)
    raise ObjectRejected("unknown_format")
