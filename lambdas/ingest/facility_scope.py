"""Producers bound to facilities: the rows a producer's upload may not write.

An object under `<entity>/facility=<F>/` was uploaded by the producer that owns facility F (in
AWS only that producer's role may write there: infra/raw_access.py). Its rows are refused,
reason `foreign_facility`, when they belong or would attach to another facility, judged in
the load's own transaction against what the database holds
(docs/adr/0007-producers-bound-to-facilities.md):

- the row's own facility column (robots, procedures) is not F;
- its primary key is already stored for another facility: newer-wins would otherwise overwrite
  another facility's row (outcomes belong to their procedure's facility, maintenance logs to
  their robot's);
- it is already parked, waiting for its parent, from another facility's object;
- a parent it names (robot, procedure) belongs to another facility.
Rows of trusted `<entity>/<file>` keys (local mode, `lake run`, the raw operator) are not
scoped. sql/rds/060_producer_facility_guard.sql enforces the same in the database for what the
check cannot see (a concurrent load fails and is retried, then refused here; a parked row's
parent arriving later from another facility leaves it parked).

The lookups run on a second, autocommit connection to the same database (opened on the first
producer batch, closed with the scope): the load's own connection is inside its COPY while the
batches are validated, and committed rows of other facilities are what the check is about.

Example:
    >>> scope = scope_for(conn, "surgical_robots/facility=FAC-001/r.csv", ENTITIES["surgical_robots"])
    >>> scope.refuse(checked)  # adds checked.reasons["foreign_facility"] where a row is refused
    >>> scope.close()
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from lake.contract import ENTITIES, Entity, ForeignKey, Landing
from lake.producers import FACILITY_SEGMENT, ProducerKeyError, facility_of_key
from lambdas.ingest.errors import ObjectRejected
from lambdas.ingest.validate import Validated

REASON = "foreign_facility"
OBJECT_REASON = "bad_facility_prefix"
FACILITY = "facility_id"


def scope_for(conn: psycopg.Connection, key: str, entity: Entity) -> FacilityScope | None:
    """The scope of a producer's object; None for a trusted `<entity>/<file>` key.

    Raises ObjectRejected(`bad_facility_prefix`) for a `facility=` segment naming no facility.
    """
    try:
        facility = facility_of_key(key)
    except ProducerKeyError:
        raise ObjectRejected(OBJECT_REASON) from None
    if facility is None:
        return None
    info = conn.info
    return FacilityScope(lambda: psycopg.connect(info.dsn, password=info.password, autocommit=True),
                         entity, facility)


class FacilityScope:
    """Refuses, batch by batch, the rows of one producer object that another facility owns."""

    def __init__(self, connect: Callable[[], psycopg.Connection], entity: Entity, facility: str) -> None:
        self._connect = connect
        self._conn: psycopg.Connection | None = None
        self.entity = entity
        self.facility = facility

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def refuse(self, checked: Validated) -> None:
        """Add `foreign_facility` to the reasons of the batch's refused rows (if any)."""
        mask = self.foreign(checked.table)
        if mask.any():
            checked.reasons[REASON] = mask

    def foreign(self, table: pa.Table) -> np.ndarray:
        """Mask of the rows (typed, validated values) that belong to another facility."""
        entity, mask = self.entity, np.zeros(table.num_rows, dtype=bool)
        if FACILITY in entity.column_names:
            mask |= _mask(pc.not_equal(table.column(FACILITY), self.facility))
        if entity.landing is Landing.RDS:
            key = table.column(entity.primary_key)
            mask |= self._in(key, _stored_elsewhere(entity))
            mask |= self._in(key, _PARKED_ELSEWHERE, entity.name)
        for fk in _owned_parents(entity):
            mask |= self._in(table.column(fk.column), _parent_elsewhere(fk))
        return mask

    def _in(self, column: pa.ChunkedArray, query: sql.SQL | sql.Composed, *params: str) -> np.ndarray:
        """Rows whose value is among the ids `query` returns for this batch's distinct values."""
        ids = [v for v in pc.unique(column).to_pylist() if v is not None]
        if not ids:
            return np.zeros(len(column), dtype=bool)
        if self._conn is None:
            self._conn = self._connect()
        found = [r[0] for r in self._conn.execute(query, (*params, ids, self.facility)).fetchall()]
        return _mask(pc.is_in(column, value_set=pa.array(found, pa.string()))) if found else \
            np.zeros(len(column), dtype=bool)


def _mask(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _owned_parents(entity: Entity) -> tuple[ForeignKey, ...]:
    """Foreign keys to an entity that carries its facility (robots, procedures)."""
    return tuple(fk for fk in entity.foreign_keys if FACILITY in ENTITIES[fk.parent].column_names)


def _parent_elsewhere(fk: ForeignKey) -> sql.Composed:
    """Parent ids (of the given ones) stored for another facility."""
    return sql.SQL("SELECT p.{pk} FROM {parent} p WHERE p.{pk} = ANY(%s) AND p.{f} <> %s").format(
        pk=sql.Identifier(fk.parent_column), parent=sql.Identifier(fk.parent), f=sql.Identifier(FACILITY))


def _stored_elsewhere(entity: Entity) -> sql.Composed:
    """Primary keys (of the given ones) stored for another facility: the row's own facility, or
    its parking parent's for entities without one (outcomes, maintenance logs)."""
    pk = sql.Identifier(entity.primary_key)
    if FACILITY in entity.column_names:
        return sql.SQL("SELECT t.{pk} FROM {t} t WHERE t.{pk} = ANY(%s) AND t.{f} <> %s").format(
            pk=pk, t=sql.Identifier(entity.name), f=sql.Identifier(FACILITY))
    (fk,) = entity.parking_parents
    return sql.SQL(
        "SELECT t.{pk} FROM {t} t JOIN {parent} p ON p.{ppk} = t.{fk} WHERE t.{pk} = ANY(%s) AND p.{f} <> %s"
    ).format(pk=pk, t=sql.Identifier(entity.name), parent=sql.Identifier(fk.parent),
             ppk=sql.Identifier(fk.parent_column), fk=sql.Identifier(fk.column), f=sql.Identifier(FACILITY))


# Rows parked by another producer's object (a trusted object's parked row has no facility yet).
_PARKED_ELSEWHERE = sql.SQL(
    "SELECT row_key FROM etl.parked_rows WHERE entity = %s AND row_key = ANY(%s)"
    f" AND substring(src_key from '^[^/]+/{FACILITY_SEGMENT}([^/]+)/') <> %s"
)
