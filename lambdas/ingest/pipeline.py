"""One source object end to end: identity -> claim -> read -> validate -> pseudonymize -> load.

Ordering, and why nothing partial survives a failure:
1. `ledger.claim` counts the attempt (own short transaction).
2. One transaction holds the key's advisory lock, stages and upserts the rows (RDS) and writes
   the final ledger row; a whole-object rejection rolls back to a savepoint and records itself.
3. Lake files (telemetry Parquet) and the quarantine file are uploaded *before* that commit,
   under deterministic names: if the commit fails the retry overwrites them; files this attempt
   added are deleted on the way out. The ledger commit is the point of truth: a finished ledger
   row implies its files are complete, and a replay is skipped only after that.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import pyarrow as pa

from lake.contract import ENTITIES, Entity, Landing
from lambdas.ingest import lake_writer, ledger, phi_screen, rds_loader, reader, routing, source
from lambdas.ingest.config import IngestConfig
from lambdas.ingest.errors import ObjectRejected
from lambdas.ingest.facility_scope import FacilityScope, scope_for
from lambdas.ingest.ledger import Counts
from lambdas.ingest.prefetch import prefetch
from lambdas.ingest.pseudonymize import pseudonymize
from lambdas.ingest.quarantine import RejectSink
from lambdas.ingest.seen_keys import SeenKeys
from lambdas.ingest.validate import validate


def _prefer_jemalloc() -> None:
    """Arrow's jemalloc pool instead of its default mimalloc: on this workload (many large
    buffers freed on the flush threads) telemetry ingest ran 10-15 % faster with ~50 MB less peak
    RSS, same files, same run. An explicit ARROW_DEFAULT_MEMORY_POOL, or a pyarrow built
    without jemalloc, keeps the default."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


_prefer_jemalloc()


@dataclass
class Deps:
    """What a run needs from the outside world (real clients in Lambda, moto in tests)."""

    config: IngestConfig
    s3: Any
    glue: Any
    hmac_key: bytes


@dataclass
class Outcome:
    key: str
    entity: str | None
    status: str  # a ledger status, or "skipped" for a replay
    counts: Counts = field(default_factory=Counts)
    error: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)


def valid_rows(chunks: Iterator[bytes], route: routing.Route, hmac_key: bytes, sink: RejectSink,
               counts: Counts, reasons: dict[str, int], scope: FacilityScope | None = None) -> Iterator[pa.Table]:
    """Valid, pseudonymized rows of decompressed bytes, in batches; rejects go to the sink as they come."""
    entity = route.entity
    seen = SeenKeys()
    for raw in prefetch(reader.read(chunks, entity, route.format)):
        counts.rows_in += raw.table.num_rows + len(raw.malformed)
        if raw.malformed:
            sink.add_malformed(raw.malformed)
            counts.rows_rejected += len(raw.malformed)
            reasons["malformed_row"] = reasons.get("malformed_row", 0) + len(raw.malformed)
        if raw.table.num_rows == 0:
            continue
        checked = phi_screen.screen(validate(raw.table, raw.lines, entity, seen), entity)
        if scope is not None:  # a producer's object: rows of other facilities are refused
            scope.refuse(checked)
        stored = pseudonymize(checked.table, entity, hmac_key)
        rejected = checked.rejected
        if rejected.any():
            sink.add_rows(checked.raw, stored, checked.lines, checked.reasons, rejected)
            counts.rows_rejected += int(rejected.sum())
            for reason, mask in checked.reasons.items():
                reasons[reason] = reasons.get(reason, 0) + int(mask.sum())
            stored = stored.filter(pa.array(~rejected))
        yield stored
    if counts.rows_in == 0:
        raise ObjectRejected("empty_object")


def load_rds(conn: psycopg.Connection, entity: Entity, src_key: str, src_modified: datetime,
             batches: Iterator[pa.Table], counts: Counts) -> None:
    """Stage every batch through one COPY, then park/upsert/unpark (inside the caller's transaction)."""
    with rds_loader.staging(conn, entity, src_key, src_modified) as stager:
        for table in batches:
            stager.write(table)
    result = rds_loader.load_staged(conn, entity)
    counts.rows_loaded, counts.rows_parked = result.loaded, result.parked


def _load_lake(deps: Deps, conn: psycopg.Connection, entity: Entity, obj: source.SourceObject,
               batches: Iterator[pa.Table], counts: Counts, uploaded: list[str]) -> str | None:
    writer = lake_writer.PartitionedWriter(entity, obj.ref.key, obj.checksum)
    try:
        for table in batches:
            writer.write(table)
            counts.rows_loaded += table.num_rows
        writer.close()
        previous = lake_writer.previous_files(conn, obj.ref.key)
        if lake_writer.superseded(previous, obj.last_modified, obj.checksum):
            return "superseded"
        bucket = deps.config.processed_bucket
        new_keys = writer.keys()
        for values, key in new_keys.items():
            deps.s3.upload_file(writer.partitions[values].path, bucket, key)
            if key not in {p for p, _, _ in previous}:
                uploaded.append(key)
        if new_keys:
            lake_writer.register_partitions(deps.glue, deps.config.glue_database, bucket, entity,
                                            list(new_keys))
        stale = sorted({p for p, _, _ in previous} - set(new_keys.values()))
        lake_writer.delete_objects(deps.s3, bucket, stale)
        lake_writer.record_files(conn, writer, obj.ref.key, obj.checksum, obj.last_modified)
        return None
    finally:
        writer.cleanup()


def _load(deps: Deps, conn: psycopg.Connection, obj: source.SourceObject, uploaded: list[str],
          outcome: Outcome) -> None:
    route = routing.route(obj.ref.key)
    counts = outcome.counts
    scope = scope_for(conn, obj.ref.key, route.entity)
    sink = RejectSink(obj.ref.key, route.entity)
    try:
        chunks = source.decompressed_chunks(source.raw_chunks(deps.s3, obj.ref), route.gzip)
        batches = valid_rows(chunks, route, deps.hmac_key, sink, counts, outcome.reasons, scope)
        if route.entity.landing is Landing.RDS:
            load_rds(conn, route.entity, obj.ref.key, obj.last_modified, batches, counts)
        else:
            outcome.error = _load_lake(deps, conn, route.entity, obj, batches, counts, uploaded)
        sink.upload(deps.s3, deps.config.quarantine_bucket)
    finally:
        sink.close()
        if scope is not None:
            scope.close()


def _reject_object(deps: Deps, conn: psycopg.Connection, obj: source.SourceObject, entity: Entity | None,
                   reason: str, outcome: Outcome) -> None:
    sink = RejectSink(obj.ref.key, entity)
    try:
        sink.add_object(reason)
        sink.upload(deps.s3, deps.config.quarantine_bucket)
    finally:
        sink.close()
    outcome.counts, outcome.status, outcome.error, outcome.reasons = Counts(), "rejected", reason, {reason: 1}
    ledger.finish(conn, obj, outcome.counts, error=reason, status="rejected")


def process_object(deps: Deps, conn: psycopg.Connection, ref: source.ObjectRef) -> Outcome:
    """Ingest one object version; raises on a transient failure (after recording it) so it is retried."""
    name = routing.entity_name(ref.key)
    outcome = Outcome(ref.key, name, "skipped")
    obj = source.describe(deps.s3, ref)
    if not ledger.claim(conn, obj, name):
        return outcome
    uploaded: list[str] = []
    try:
        with conn.transaction():
            ledger.lock(conn, ref.key)
            if ledger.finished(conn, obj):
                ledger.mark_replay(conn, obj)
                return outcome
            try:
                with conn.transaction():
                    _load(deps, conn, obj, uploaded, outcome)
            except ObjectRejected as rejection:
                _delete_quietly(deps, uploaded)
                uploaded.clear()
                entity = ENTITIES.get(name) if name else None
                _reject_object(deps, conn, obj, entity, rejection.reason, outcome)
                return outcome
            outcome.status = outcome.counts.status
            ledger.finish(conn, obj, outcome.counts, error=outcome.error)
        return outcome
    except Exception as exc:
        _delete_quietly(deps, uploaded)
        _fail_quietly(conn, obj, type(exc).__name__)
        raise


def _delete_quietly(deps: Deps, keys: list[str]) -> None:
    with contextlib.suppress(Exception):  # the retry overwrites or deletes them anyway
        lake_writer.delete_objects(deps.s3, deps.config.processed_bucket, keys)


def _fail_quietly(conn: psycopg.Connection, obj: source.SourceObject, error: str) -> None:
    try:
        if not conn.closed:
            ledger.fail(conn, obj, error)
    except psycopg.Error:
        pass



