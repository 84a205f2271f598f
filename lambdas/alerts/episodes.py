"""Alert episodes in RDS (`alert_episodes`, sql/rds/070): de-duplication and the outbox.

A candidate (an episode as one rollup run saw it) becomes a new alert only when no stored
episode of the same kind, robot and metric overlaps it in time; otherwise it is merged into
that episode (bounds widened, peak kept), which is how a re-run, an overlapping recompute or an
episode that grows across runs alerts nothing twice (the job hands over each episode with the
hours before the dates it recomputed, so a continued episode overlaps what was recorded of it).
Each candidate is decided in its own transaction under an advisory lock on (kind, robot,
metric), so concurrent callers serialize per episode; the unique episode key backs it up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from lake.alerts import Candidate, alert_id, event_detail

_FIND = """
SELECT alert_id FROM alert_episodes
WHERE kind = %(kind)s AND robot_id = %(robot_id)s AND metric = %(metric)s
  AND first_hour <= %(last_hour)s AND last_hour >= %(first_hour)s
ORDER BY first_hour
LIMIT 1
"""
_MERGE = """
UPDATE alert_episodes SET
    first_hour = LEAST(first_hour, %(first_hour)s),
    last_hour = GREATEST(last_hour, %(last_hour)s),
    anomalous_hours = GREATEST(anomalous_hours, %(anomalous_hours)s),
    peak_z = CASE WHEN abs(%(peak_z)s) > abs(peak_z) THEN %(peak_z)s ELSE peak_z END,
    updated_at = now()
WHERE alert_id = %(alert_id)s
"""
_INSERT = """
INSERT INTO alert_episodes (alert_id, kind, robot_id, facility_id, metric, first_hour, last_hour,
                            anomalous_hours, peak_z, detected_at)
VALUES (%(alert_id)s, %(kind)s, %(robot_id)s,
        (SELECT facility_id FROM surgical_robots WHERE robot_id = %(robot_id)s),
        %(metric)s, %(first_hour)s, %(last_hour)s, %(anomalous_hours)s, %(peak_z)s, %(now)s)
ON CONFLICT ON CONSTRAINT alert_episodes_episode_key DO NOTHING
RETURNING alert_id
"""
_OUTBOX = """
SELECT alert_id, kind, robot_id, facility_id, metric, first_hour, last_hour, anomalous_hours, peak_z, detected_at
FROM alert_episodes WHERE published_at IS NULL
ORDER BY detected_at, first_hour, alert_id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""


@dataclass(frozen=True)
class Recorded:
    """What `record` did: ids of the new episodes, and how many candidates merged into old ones."""

    new: tuple[str, ...]
    merged: int


def record(conn: psycopg.Connection, candidates: Iterable[Candidate], now: datetime) -> Recorded:
    """Store candidates as new episodes or merge them into the stored ones (see the module doc)."""
    new: list[str] = []
    merged = 0
    for c in sorted(candidates, key=lambda c: (c.kind, c.robot_id, c.metric, c.first_hour)):
        params: dict[str, Any] = {**_params(c), "now": now}
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                         (f"alert_episodes|{c.kind}|{c.robot_id}|{c.metric}",))
            found = conn.execute(_FIND, params).fetchone()
            if found:
                conn.execute(_MERGE, {**params, "alert_id": found[0]})
                merged += 1
                continue
            inserted = conn.execute(_INSERT, {**params, "alert_id": alert_id(c.kind, c.robot_id, c.metric,
                                                                              c.first_hour)}).fetchone()
            if inserted:
                new.append(inserted[0])
            else:
                merged += 1  # the same key was recorded concurrently
    return Recorded(tuple(new), merged)


def _params(c: Candidate) -> dict[str, Any]:
    return {"kind": c.kind, "robot_id": c.robot_id, "metric": c.metric, "first_hour": c.first_hour,
            "last_hour": c.last_hour, "anomalous_hours": c.anomalous_hours, "peak_z": c.peak_z}


def unpublished(conn: psycopg.Connection, limit: int = 500) -> list[dict[str, Any]]:
    """Event details of the oldest episodes not yet on the bus, locked until the caller's transaction ends."""
    rows = conn.execute(_OUTBOX, {"limit": limit}).fetchall()
    out = []
    for alert, kind, robot, facility, metric, first, last, hours, peak, detected in rows:
        candidate = Candidate(kind, robot, metric, first, last, hours, peak)
        out.append(event_detail(candidate, alert, facility, detected))
    return out


def mark_published(conn: psycopg.Connection, alert_ids: Iterable[str], at: datetime) -> None:
    conn.execute("UPDATE alert_episodes SET published_at = %s WHERE alert_id = ANY(%s)", (at, list(alert_ids)))
