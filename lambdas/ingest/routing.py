"""Object key -> (entity, format, compression), or the whole-object reason it cannot be routed.

The first key segment names the entity (`lake.layout.entity_of_key`); the extension names the
format, optionally `.gz`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lake.contract import ENTITIES, Entity
from lake.layout import entity_of_key
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


@dataclass(frozen=True)
class Unrouted:
    """A key the ingest cannot read: `entity` when its first segment names one (format unknown)."""

    entity: Entity | None
    reason: str  # whole-object reason: unknown_entity or unknown_format

    def rejection(self) -> ObjectRejected:
        return ObjectRejected(self.reason)


def resolve(key: str) -> Route | Unrouted:
    """Route a (URL-decoded) object key, or say why it cannot be routed (the key is read once)."""
    name = entity_of_key(key)
    if name is None:
        return Unrouted(None, "unknown_entity")
    lowered = key.lower()
    gz = lowered.endswith(".gz")
    if gz:
        lowered = lowered[:-3]
    for ext, fmt in _EXTENSIONS.items():
        if lowered.endswith(ext) and len(lowered.rsplit("/", 1)[-1]) > len(ext):
            return Route(ENTITIES[name], fmt, gz)
    return Unrouted(ENTITIES[name], "unknown_format")


def route(key: str) -> Route:
    """Route a key; raises ObjectRejected for unknown entity or format."""
    routed = resolve(key)
    if isinstance(routed, Unrouted):
        raise routed.rejection()
    return routed
