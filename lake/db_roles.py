"""The PostgreSQL roles of the lake: who may do what in the database (least privilege).

One definition for the CDK app (a Secrets Manager secret per role), the deploy-time migration
function and local mode (which create the roles, `lambdas/migrate/roles.py`), the grants in
`sql/rds/051_role_grants.sql` and the tests. The master user only creates these roles; nothing
connects as it at run time.

Timeouts (role defaults, `ALTER ROLE ... SET`; PostgreSQL 16 "Client Connection Defaults"):
- `statement_timeout` ends a runaway statement on the server before the client gives up: below
  the ingest Lambda's 300 s timeout and the migration function's 5 minutes.
- `lock_timeout` bounds every lock wait, advisory locks included: the ingest's wait for the
  parking lock (rds_loader) and a migration's wait behind running loads (DDL must fail and be
  retried rather than queue up every loader behind it).
- `idle_in_transaction_session_timeout` frees the locks of a session whose client died or froze
  mid-transaction (a Lambda killed at its timeout), at most this long after it stopped talking.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DbRole:
    name: str
    purpose: str
    settings: dict[str, str] = field(default_factory=dict)


INGEST = DbRole(
    "lake_ingest",
    "the ingest Lambda, through RDS Proxy: DML on the entity and etl tables, temp staging tables",
    {"statement_timeout": "240s", "lock_timeout": "120s", "idle_in_transaction_session_timeout": "300s"},
)
MIGRATOR = DbRole(
    "lake_migrator",
    "the deploy-time migrations: owns the schema (DDL), grants to the other roles",
    {"statement_timeout": "270s", "lock_timeout": "30s", "idle_in_transaction_session_timeout": "60s"},
)
READER = DbRole(
    "lake_reader",
    "Redshift federated queries: SELECT on the entity and etl tables, nothing else",
    {"statement_timeout": "300s", "lock_timeout": "10s", "idle_in_transaction_session_timeout": "60s",
     "default_transaction_read_only": "on"},
)
# The query API (api/, issue 15): read-only, through RDS Proxy, with a statement timeout below
# API Gateway's 29 s integration timeout so a slow query ends on the server, not only at the edge.
API = DbRole(
    "lake_api",
    "the query API Lambda and `lake serve`: SELECT on the entity tables and the ledger, read-only sessions",
    {"statement_timeout": "25s", "lock_timeout": "5s", "idle_in_transaction_session_timeout": "30s",
     "default_transaction_read_only": "on"},
)
# The alerts function (lambdas/alerts, issue 17), through RDS Proxy: reads the robots and
# procedures (facility of a robot, procedure windows), records and publishes alert episodes.
ALERTS = DbRole(
    "lake_alerts",
    "the alerts Lambda: SELECT on robots and procedures, INSERT/UPDATE on alert_episodes",
    {"statement_timeout": "240s", "lock_timeout": "30s", "idle_in_transaction_session_timeout": "300s"},
)
ROLES: tuple[DbRole, ...] = (INGEST, MIGRATOR, READER, API, ALERTS)
