"""Helpers that write small hand-made lake tables (hive-partitioned Parquet) for view tests.

Rows start from every contract column set to a neutral value, so a test states only the
columns its view reads.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lake.contract import ENTITIES, LAKE_TABLES, DType, arrow_schema, lake_data_columns

UTC = dt.UTC
_NEUTRAL = {DType.STRING: "", DType.INT: 0, DType.FLOAT: 0.0, DType.BOOL: False, DType.TIMESTAMP: None}


def _columns(table: str):
    if table in LAKE_TABLES:
        return LAKE_TABLES[table].columns, LAKE_TABLES[table].partition_keys
    entity = ENTITIES[table]
    return entity.columns, entity.partition_keys


def write_lake(root: Path, table: str, rows: list[dict], name: str = "part-0") -> None:
    """Write `rows` (contract columns + partition keys) under root/table/k=v/.../name.parquet."""
    columns, keys = _columns(table)
    data_columns = lake_data_columns(columns, keys)
    schema = arrow_schema(data_columns)
    groups: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        full = {c.name: None if c.nullable else _NEUTRAL[c.dtype] for c in data_columns} | row
        groups.setdefault(tuple(str(full[k]) for k in keys), []).append(full)
    for values, group in groups.items():
        folder = root / table
        for key, value in zip(keys, values, strict=True):
            folder = folder / f"{key}={value}"
        folder.mkdir(parents=True, exist_ok=True)
        data = [{c.name: r[c.name] for c in data_columns} for r in group]
        pq.write_table(pa.Table.from_pylist(data, schema=schema), folder / f"{name}.parquet")
