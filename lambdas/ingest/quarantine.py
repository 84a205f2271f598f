"""Rejected rows -> `<entity>/<source key>.rejects.ndjson` in the quarantine bucket.

One line per rejected row: `{"source_key", "line", "reasons", "row"}`. `row` holds the stored
(post-pseudonymization) columns: PHI-derived ones from the pseudonymized table, the others as
received so an operator sees the offending value. A line that could not be parsed at all is
recorded by key, line and reason only (`row` null): its bytes may hold PHI in any shape. The
file is spooled to disk past a few MB, so memory stays bounded, and at most `max_bytes` go
to disk (/tmp is shared with the Parquet files): past that, rejects are only counted, and a
last line `{"source_key", "line": null, "reasons": [...], "row": null, "omitted_rows": n,
"omitted_reasons": {reason: rows}}` says how many and why. A whole-object marker carries
`"detail"` when there is one.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa

from lake.contract import Entity

_SPOOL_BYTES = 4 << 20


def quarantine_key(entity_name: str, source_key: str) -> str:
    return f"{entity_name}/{source_key}.rejects.ndjson"


class RejectSink:
    """Collects reject lines for one source object; `upload` writes them (replays overwrite)."""

    def __init__(self, source_key: str, entity: Entity | None, max_bytes: int = 512 << 20) -> None:
        self.source_key = source_key
        self.entity = entity
        self.count = 0  # every reject, written or only counted
        self.max_bytes = max_bytes
        self.written_bytes = 0
        self.omitted: Counter[str] = Counter()  # reason -> rejects past max_bytes
        self.omitted_rows = 0
        self._file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+b")  # noqa: SIM115 - closed by close()
        self._phi_derived: set[str] = set()
        if entity is not None:
            plain = {c.name for c in entity.columns if c.pseudonym is None}
            self._phi_derived = {c.name for c in entity.stored_columns() if c.name not in plain}

    @property
    def full(self) -> bool:
        return self.written_bytes >= self.max_bytes

    def _write(self, line: int | None, reasons: list[str], row: dict[str, Any] | None, **extra: Any) -> None:
        self.count += 1
        if self.full:
            self._omit(1, reasons)
            return
        record = {"source_key": self.source_key, "line": line, "reasons": reasons, "row": row, **extra}
        data = json.dumps(record, default=str).encode("utf-8") + b"\n"
        self._file.write(data)
        self.written_bytes += len(data)

    def _omit(self, rows: int, reasons: list[str]) -> None:
        self.omitted_rows += rows
        self.omitted.update(reasons)

    def add_malformed(self, lines: list[int]) -> None:
        for line in lines:
            self._write(line, ["malformed_row"], None)

    def add_object(self, reason: str, detail: str | None = None) -> None:
        self._write(None, [reason], None, **({"detail": detail} if detail else {}))

    def add_rows(self, raw: pa.Table, stored: pa.Table, lines: np.ndarray,
                 reasons: dict[str, np.ndarray], rejected: np.ndarray) -> None:
        idx = np.flatnonzero(rejected)
        if len(idx) == 0:
            return
        if self.full:  # count only: no per-row conversion
            self.count += len(idx)
            self.omitted_rows += len(idx)
            self.omitted.update({r: int(m[idx].sum()) for r, m in reasons.items() if m[idx].any()})
            return
        take = pa.array(idx)
        stored_rows = stored.take(take).to_pylist()
        plain = [n for n in stored.column_names if n not in self._phi_derived]
        raw_rows = raw.select(plain).take(take).to_pylist()
        for pos, i in enumerate(idx):
            row = {n: (raw_rows[pos][n] if n in raw_rows[pos] else stored_rows[pos][n])
                   for n in stored.column_names}
            for n in self._phi_derived:
                row[n] = stored_rows[pos][n]
            self._write(int(lines[i]), [r for r, m in reasons.items() if m[i]], row)

    def upload(self, s3: Any, bucket: str) -> str | None:
        """Write the rejects file if there is anything in it; returns its key."""
        if self.count == 0:
            return None
        if self.omitted_rows:
            summary = {"source_key": self.source_key, "line": None, "reasons": sorted(self.omitted),
                       "row": None, "omitted_rows": self.omitted_rows, "omitted_reasons": dict(self.omitted)}
            self._file.write(json.dumps(summary).encode("utf-8") + b"\n")
        self._file.seek(0)
        key = quarantine_key(self.entity.name if self.entity else "_unrouted", self.source_key)
        s3.upload_fileobj(self._file, bucket, key, ExtraArgs={"ContentType": "application/x-ndjson"})
        return key

    def close(self) -> None:
        self._file.close()
