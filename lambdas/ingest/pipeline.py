"""One source object end to end: route -> claim -> read -> validate -> pseudonymize -> load.

Ordering, and why nothing partial survives a failure:
1. The key is routed once (`routing.resolve`); `ledger.claim` counts the attempt (own short
   transaction).
2. One transaction holds the key's advisory lock, loads the rows through the entity's loader
   (`loading.Loader`: RDS staging + upsert, or lake Parquet) and writes the final ledger row from
   the outcome built of the loader's `LoadResult` and the rows' tally (`ValidRows`); a
   whole-object rejection rolls back to a savepoint and records itself. An older version of a
   lake key than the one already in the lake is recorded `superseded` before a byte is read.
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
from typing import Any

import psycopg
import pyarrow as pa

from lake.contract import SKIPPED, Entity, Landing, LedgerStatus
from lambdas.ingest import lake_writer, ledger, phi_screen, rds_loader, reader, routing, source
from lambdas.ingest.config import IngestConfig, Limits
from lambdas.ingest.errors import ObjectRejected, content_rejection
from lambdas.ingest.facility_scope import FacilityScope, scope_for
from lambdas.ingest.ledger import Counts
from lambdas.ingest.loading import Loader, LoadResult
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
    """What happened to one object version: the ledger row's values (and the handler's log line)."""

    key: str
    entity: str | None
    status: str  # a ledger status (`lake.contract.LedgerStatus`), or "skipped" for a replay
    counts: Counts = field(default_factory=Counts)
    error: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    detail: str | None = None
    unknown_columns: set[str] = field(default_factory=set)
    unpark_rejected: int = 0
    files_added: tuple[str, ...] = ()  # processed-bucket keys this attempt created


def note_unknown(found: set[str], names: set[str]) -> None:
    """Add column names the contract lacks, bounded in number and length (names, never values)."""
    for name in sorted(names):
        if len(found) >= MAX_UNKNOWN_COLUMNS:
            return
        found.add(name if len(name) <= MAX_NAME_CHARS else name[: MAX_NAME_CHARS - 1] + "…")


class ValidRows:
    """Valid, pseudonymized rows of one object, in batches, and the tally of what was read.

    Iterate once (`batches`); rejects go to the sink as they come. Afterwards (or after a
    rejection part-way) `rows_in`, `rows_rejected`, `reasons` and `unknown_columns` hold what
    was read: the one place that counts input rows.
    """

    def __init__(self, route: routing.Route, hmac_key: bytes, limits: Limits | None = None) -> None:
        self.route, self.hmac_key, self.limits = route, hmac_key, limits or Limits()
        self.rows_in = self.rows_rejected = 0
        self.reasons: dict[str, int] = {}
        self.unknown_columns: set[str] = set()

    def batches(self, chunks: Iterator[bytes], sink: RejectSink,
                scope: FacilityScope | None = None) -> Iterator[pa.Table]:
        """Batches of decompressed bytes; with a `scope` (a producer's object) rows of other
        facilities are refused. Raises ObjectRejected("empty_object") when no row was read."""
        entity = self.route.entity
        seen = SeenKeys()
        for raw in prefetch(reader.read(chunks, entity, self.route.format, max_line=self.limits.max_line_bytes)):
            if raw.unknown:
                note_unknown(self.unknown_columns, raw.unknown)
            self.rows_in += raw.table.num_rows + len(raw.malformed)
            if raw.malformed:
                sink.add_malformed(raw.malformed)
                self._reject({"malformed_row": len(raw.malformed)}, len(raw.malformed))
            if raw.table.num_rows == 0:
                continue
            checked = phi_screen.screen(validate(raw.table, raw.lines, entity, seen), entity)
            if scope is not None:
                scope.refuse(checked)
            stored = pseudonymize(checked.table, entity, self.hmac_key)
            check_stored(checked, stored, entity)
            rejected = checked.rejected
            if rejected.any():
                sink.add_rows(checked.raw, stored, checked.lines, checked.reasons, rejected)
                self._reject({r: int(mask.sum()) for r, mask in checked.reasons.items()}, int(rejected.sum()))
                stored = stored.filter(pa.array(~rejected))
            yield stored
        if self.rows_in == 0:
            raise ObjectRejected("empty_object")

    def _reject(self, by_reason: dict[str, int], rows: int) -> None:
        self.rows_rejected += rows
        for reason, n in by_reason.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n

    def outcome(self, key: str, result: LoadResult) -> Outcome:
        """The object's outcome once `result` holds what the loader wrote."""
        counts = Counts(rows_in=self.rows_in, rows_loaded=result.loaded, rows_parked=result.parked,
                        rows_rejected=self.rows_rejected)
        return Outcome(key, self.route.entity.name, counts.status, counts, reasons=dict(self.reasons),
                       unknown_columns=set(self.unknown_columns), unpark_rejected=result.unpark_rejected,
                       files_added=result.files_added)


def loader_for(deps: Deps, conn: psycopg.Connection, entity: Entity, obj: source.SourceObject) -> Loader:
    """The destination of the entity's rows (`Entity.landing`)."""
    if entity.landing is Landing.RDS:
        return rds_loader.RdsLoader(conn, entity, obj.ref.key, obj.last_modified)
    return lake_writer.LakeLoader(deps.s3, deps.glue, deps.config.processed_bucket, deps.config.glue_database,
                                  conn, entity, obj.ref.key, obj.checksum, obj.last_modified)


def _load(deps: Deps, conn: psycopg.Connection, obj: source.SourceObject, route: routing.Route,
          rows: ValidRows) -> Outcome:
    """Read, validate and load the object; quarantine its rejected rows. Returns its outcome."""
    limits = deps.config.limits
    source.check_size(obj, limits.max_object_bytes)
    scope = scope_for(conn, obj.ref.key, route.entity)
    sink = RejectSink(obj.ref.key, route.entity, limits.max_quarantine_bytes)
    try:
        chunks = source.decompressed_chunks(source.raw_chunks(deps.s3, obj.ref), route.gzip,
                                            limits.max_object_bytes)
        result = loader_for(deps, conn, route.entity, obj).load(rows.batches(chunks, sink, scope))
        try:
            sink.upload(deps.s3, deps.config.quarantine_bucket)
        except BaseException:
            lake_writer.delete_quietly(deps.s3, deps.config.processed_bucket, list(result.files_added))
            raise
        return rows.outcome(obj.ref.key, result)
    finally:
        sink.close()
        if scope is not None:
            scope.close()


def _reject_object(deps: Deps, obj: source.SourceObject, entity: Entity | None, rejection: ObjectRejected,
                   unknown_columns: set[str]) -> Outcome:
    """Quarantine the object as one unit; its outcome is `rejected` with the whole-object reason."""
    sink = RejectSink(obj.ref.key, entity)
    try:
        sink.add_object(rejection.reason, rejection.detail)
        sink.upload(deps.s3, deps.config.quarantine_bucket)
    finally:
        sink.close()
    return Outcome(obj.ref.key, entity.name if entity else None, LedgerStatus.REJECTED, Counts(),
                   error=rejection.reason, reasons={rejection.reason: 1}, detail=rejection.detail,
                   unknown_columns=unknown_columns)


def _settle(deps: Deps, conn: psycopg.Connection, obj: source.SourceObject,
            routed: routing.Route | routing.Unrouted) -> Outcome:
    """The outcome of a claimed, unfinished object version (inside the key's lock)."""
    if isinstance(routed, routing.Unrouted):
        return _reject_object(deps, obj, routed.entity, routed.rejection(), set())
    if routed.entity.landing is Landing.LAKE and lake_writer.superseded(conn, obj.ref.key, obj.last_modified,
                                                                         obj.checksum):
        return Outcome(obj.ref.key, routed.entity.name, LedgerStatus.SUPERSEDED)  # nothing read
    rows = ValidRows(routed, deps.hmac_key, deps.config.limits)
    loaded: Outcome | None = None
    try:
        with conn.transaction():
            loaded = _load(deps, conn, obj, routed, rows)
    except Exception as exc:
        if loaded is not None:  # the savepoint did not release: its files must go too
            lake_writer.delete_quietly(deps.s3, deps.config.processed_bucket, list(loaded.files_added))
        rejection = content_rejection(exc)
        if rejection is None:
            raise
        return _reject_object(deps, obj, routed.entity, rejection, rows.unknown_columns)
    return loaded


def process_object(deps: Deps, conn: psycopg.Connection, ref: source.ObjectRef, receive_count: int = 1,
                   reconnect: Callable[[], psycopg.Connection] | None = None) -> Outcome:
    """Ingest one object version: loaded, partial, rejected or superseded, whatever its bytes hold.

    Raises only on infrastructure failures, after recording the attempt `failed` (on a
    connection from `reconnect` when this one broke), so the message is retried.
    `receive_count` is SQS's receive count of the message (the ledger's attempts follow it).
    """
    routed = routing.resolve(ref.key)
    name = routed.entity.name if routed.entity else None
    obj = source.describe(deps.s3, ref, deps.config.limits.max_object_bytes)
    if not ledger.claim(conn, obj, name, receive_count):
        return Outcome(ref.key, name, SKIPPED)
    outcome: Outcome | None = None
    try:
        with conn.transaction():
            ledger.lock(conn, ref.key)
            if ledger.finished(conn, obj):
                ledger.mark_replay(conn, obj)
                return Outcome(ref.key, name, SKIPPED)
            outcome = _settle(deps, conn, obj, routed)
            ledger.finish(conn, obj, LedgerStatus(outcome.status), outcome.counts, error=outcome.error,
                          detail=outcome.detail, unknown_columns=sorted(outcome.unknown_columns))
        return outcome
    except Exception as exc:
        if outcome is not None:  # loaded, but the ledger row did not commit
            lake_writer.delete_quietly(deps.s3, deps.config.processed_bucket, list(outcome.files_added))
        _record_failure(conn, reconnect, obj, type(exc).__name__)
        raise


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
