"""One source object end to end: identity -> claim -> read -> validate -> pseudonymize -> load.

Ordering, and why nothing partial survives a failure:
1. `ledger.claim` counts the attempt (own short transaction).
2. One transaction holds the key's advisory lock, stages and upserts the rows (RDS) and writes
   the final ledger row; a whole-object rejection rolls back to a savepoint and records itself.
3. Lake files (telemetry Parquet) and the quarantine file are uploaded *before* that commit,
   under deterministic names: if the commit fails the retry overwrites them; files this attempt
   added are deleted on the way out. The ledger commit is the point of truth: a finished ledger
   row implies its files are complete, and a replay is skipped only after that.
4. Whatever goes wrong inside the load is classified once (`errors.content_rejection`): content
   errors end the object `rejected` with a whole-object reason (never retried); only
   infrastructure errors propagate, after the attempt is recorded `failed`, so SQS retries.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import pyarrow as pa

from lake.contract import ENTITIES, Entity, Landing
from lambdas.ingest import lake_writer, ledger, phi_screen, rds_loader, reader, routing, source
from lambdas.ingest.config import IngestConfig, Limits
from lambdas.ingest.errors import ObjectRejected, content_rejection
from lambdas.ingest.facility_scope import FacilityScope, scope_for
from lambdas.ingest.ledger import Counts
from lambdas.ingest.prefetch import prefetch
from lambdas.ingest.pseudonymize import pseudonymize
from lambdas.ingest.quarantine import RejectSink
from lambdas.ingest.seen_keys import SeenKeys
from lambdas.ingest.validate import check_stored, validate

MAX_UNKNOWN_COLUMNS = 100  # names kept per object
MAX_NAME_CHARS = 128  # a longer name is cut, with "…"


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
    detail: str | None = None
    unknown_columns: set[str] = field(default_factory=set)
    unpark_rejected: int = 0


def note_unknown(found: set[str], names: set[str]) -> None:
    """Add column names the contract lacks, bounded in number and length (names, never values)."""
    for name in sorted(names):
        if len(found) >= MAX_UNKNOWN_COLUMNS:
            return
        found.add(name if len(name) <= MAX_NAME_CHARS else name[: MAX_NAME_CHARS - 1] + "…")


def valid_rows(chunks: Iterator[bytes], route: routing.Route, hmac_key: bytes, sink: RejectSink,
               counts: Counts, reasons: dict[str, int], limits: Limits | None = None,
               unknown: set[str] | None = None, scope: FacilityScope | None = None) -> Iterator[pa.Table]:
    """Valid, pseudonymized rows of decompressed bytes, in batches; rejects go to the sink as they come.

    Names of columns the contract lacks are added to `unknown`; with a `scope` (a producer's
    object) rows of other facilities are refused.
    """
    entity = route.entity
    seen = SeenKeys()
    max_line = (limits or Limits()).max_line_bytes
    for raw in prefetch(reader.read(chunks, entity, route.format, max_line=max_line)):
        if raw.unknown and unknown is not None:
            note_unknown(unknown, raw.unknown)
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
        check_stored(checked, stored, entity)
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
             batches: Iterator[pa.Table], counts: Counts) -> rds_loader.LoadResult:
    """Stage every batch through one COPY, then park/upsert/unpark (inside the caller's transaction)."""
    with rds_loader.staging(conn, entity, src_key, src_modified) as stager:
        for table in batches:
            stager.write(table)
    result = rds_loader.load_staged(conn, entity, src_key)
    counts.rows_loaded, counts.rows_parked = result.loaded, result.parked
    return result


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
    limits = deps.config.limits
    source.check_size(obj, limits.max_object_bytes)
    counts = outcome.counts
    scope = scope_for(conn, obj.ref.key, route.entity)
    sink = RejectSink(obj.ref.key, route.entity, limits.max_quarantine_bytes)
    try:
        chunks = source.decompressed_chunks(source.raw_chunks(deps.s3, obj.ref), route.gzip,
                                            limits.max_object_bytes)
        batches = valid_rows(chunks, route, deps.hmac_key, sink, counts, outcome.reasons, limits,
                             outcome.unknown_columns, scope)
        if route.entity.landing is Landing.RDS:
            result = load_rds(conn, route.entity, obj.ref.key, obj.last_modified, batches, counts)
            outcome.unpark_rejected = result.unpark_rejected
        else:
            outcome.error = _load_lake(deps, conn, route.entity, obj, batches, counts, uploaded)
        sink.upload(deps.s3, deps.config.quarantine_bucket)
    finally:
        sink.close()
        if scope is not None:
            scope.close()


def _reject_object(deps: Deps, conn: psycopg.Connection, obj: source.SourceObject, entity: Entity | None,
                   rejection: ObjectRejected, outcome: Outcome) -> None:
    sink = RejectSink(obj.ref.key, entity)
    try:
        sink.add_object(rejection.reason, rejection.detail)
        sink.upload(deps.s3, deps.config.quarantine_bucket)
    finally:
        sink.close()
    outcome.counts, outcome.status, outcome.reasons = Counts(), "rejected", {rejection.reason: 1}
    outcome.error, outcome.detail, outcome.unpark_rejected = rejection.reason, rejection.detail, 0
    ledger.finish(conn, obj, outcome.counts, error=rejection.reason, status="rejected", detail=rejection.detail,
                  unknown_columns=sorted(outcome.unknown_columns))


def process_object(deps: Deps, conn: psycopg.Connection, ref: source.ObjectRef, receive_count: int = 1,
                   reconnect: Callable[[], psycopg.Connection] | None = None) -> Outcome:
    """Ingest one object version: loaded, partial or rejected, whatever its bytes hold.

    Raises only on infrastructure failures, after recording the attempt `failed` (on a
    connection from `reconnect` when this one broke), so the message is retried.
    `receive_count` is SQS's receive count of the message (the ledger's attempts follow it).
    """
    name = routing.entity_name(ref.key)
    outcome = Outcome(ref.key, name, "skipped")
    obj = source.describe(deps.s3, ref, deps.config.limits.max_object_bytes)
    if not ledger.claim(conn, obj, name, receive_count):
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
            except Exception as exc:
                rejection = content_rejection(exc)
                if rejection is None:
                    raise
                _delete_quietly(deps, uploaded)
                uploaded.clear()
                entity = ENTITIES.get(name) if name else None
                _reject_object(deps, conn, obj, entity, rejection, outcome)
                return outcome
            outcome.status = outcome.counts.status
            ledger.finish(conn, obj, outcome.counts, error=outcome.error,
                          unknown_columns=sorted(outcome.unknown_columns))
        return outcome
    except Exception as exc:
        _delete_quietly(deps, uploaded)
        _record_failure(conn, reconnect, obj, type(exc).__name__)
        raise


def _delete_quietly(deps: Deps, keys: list[str]) -> None:
    with contextlib.suppress(Exception):  # the retry overwrites or deletes them anyway
        lake_writer.delete_objects(deps.s3, deps.config.processed_bucket, keys)


def _record_failure(conn: psycopg.Connection, reconnect: Callable[[], psycopg.Connection] | None,
                    obj: source.SourceObject, error: str) -> None:
    """Best effort: mark the attempt failed, on a fresh connection when this one broke (when the
    database is still away, the next attempt that reaches it counts this one through SQS's
    receive count)."""
    try:
        if conn.closed or conn.broken:
            if reconnect is None:
                return
            conn = reconnect()
        ledger.fail(conn, obj, error)
    except psycopg.Error:
        pass



