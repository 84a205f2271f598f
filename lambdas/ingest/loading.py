"""The one interface both destinations implement: valid batches in, what was written out.

`rds_loader.RdsLoader` stages, upserts, parks and unparks inside the caller's transaction;
`lake_writer.LakeLoader` writes partitioned Parquet, uploads it, registers the partitions and
records the files. The pipeline builds the object's outcome from the returned `LoadResult`;
a loader that raises has cleaned up what it wrote (the caller's transaction rolls back the rest).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa


@dataclass(frozen=True)
class LoadResult:
    """What one load wrote. `files_added`: processed-bucket keys this load created (not overwrote),
    to delete if the transaction that records them fails."""

    loaded: int
    parked: int = 0
    unparked: int = 0
    unpark_rejected: int = 0
    files: tuple[str, ...] = ()
    files_added: tuple[str, ...] = ()


class Loader(Protocol):
    def load(self, batches: Iterator[pa.Table]) -> LoadResult:
        """Consume every batch (valid, pseudonymized rows) and write them; raises on failure."""
        ...
