"""The data contract: the one definition of every entity the lake accepts.

Everything else reads this module: the generators produce data that satisfies it, the ingest
validators enforce it, the RDS DDL tests compare the migrations with it, the Glue/Athena table
definitions take their columns from it and the README's data-model table is rendered from it.
Change a rule here and every consumer follows (or a test fails).

Example:
    >>> from lake.contract import ENTITIES
    >>> ENTITIES["surgical_robots"].primary_key
    'robot_id'
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field


class DType(enum.StrEnum):
    """Logical column types; each maps to Arrow, PostgreSQL and Glue types below."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATE = "date"
    TIMESTAMP = "timestamp"  # ISO 8601; naive values are UTC; stored as UTC, millisecond precision


class Privacy(enum.StrEnum):
    """Privacy class of a column (HIPAA Safe Harbor thinking).

    Generalizing the quasi-identifiers does NOT make the stored rows de-identified: procedure
    timestamps (dates directly related to the patient), the facility and the keyed pseudonym
    (derived from the MRN, so not a permitted re-identification code under 45 CFR 164.514(c))
    stay. Every store downstream of ingest (RDS, processed Parquet, quarantine, Redshift) holds
    PHI, a limited data set at best (45 CFR 164.514(e)), and is protected as PHI (README
    "What the stack enforces", ADR 0001).
    """

    NONE = "none"
    DIRECT_IDENTIFIER = "direct_identifier"  # names, MRNs: never stored as sent
    QUASI_IDENTIFIER = "quasi_identifier"  # birth date, ZIP: generalized before storage
    PSEUDONYMIZED_KEY = "pseudonymized_key"  # keyed HMAC of a direct identifier


class Pseudonym(enum.StrEnum):
    """What ingest does to a PHI column before anything leaves the function."""

    HMAC = "hmac"  # -> <stored_name>: hex HMAC-SHA256 with a key from Secrets Manager
    DROP = "drop"  # -> not stored at all
    AGE = "age"  # -> patient_age_at_procedure (NULL at 90+) + patient_age_90_plus; no birth year
    ZIP3 = "zip3"  # -> first three digits; "000" for the restricted prefixes (RESTRICTED_ZIP3)


# HIPAA Safe Harbor, 45 CFR 164.514(b)(2)(i)(B): the initial three digits of a ZIP code may stay
# only where all ZIP codes sharing them hold more than 20,000 people; the others become "000".
# These are the 17 prefixes HHS lists (2000 Census ZCTAs) in "Guidance Regarding Methods for
# De-identification of Protected Health Information", section 3.4 "When can ZIP codes be included
# in de-identified information?" (hhs.gov/hipaa/for-professionals/special-topics/de-identification;
# also 67 FR 53182, 53233-53234). HHS warns the list follows the census: update it with a new one.
RESTRICTED_ZIP3: frozenset[str] = frozenset({
    "036", "059", "063", "102", "203", "556", "692", "790", "821",
    "823", "830", "831", "878", "879", "884", "890", "893",
})
GENERALIZED_ZIP3 = "000"
# Safe Harbor 45 CFR 164.514(b)(2)(i)(C): ages over 89 (and date elements indicative of them)
# are aggregated into one category, 90 or older.
AGE_90_PLUS = 90
# The stored columns of an AGE pseudonym (`Entity.pseudonym_outputs`).
AGE_COLUMN = "patient_age_at_procedure"
AGE_90_PLUS_COLUMN = "patient_age_90_plus"


class Landing(enum.StrEnum):
    RDS = "rds"
    LAKE = "lake"


class LedgerStatus(enum.StrEnum):
    """`etl.ingest_ledger.status` of one object version (key + content checksum).

    The CHECK on the column (sql/rds) lists exactly these (tests/sql/test_rds_migrations.py).
    """

    PROCESSING = "processing"  # an attempt is running, or died (the next delivery claims it again)
    LOADED = "loaded"  # every row loaded or parked
    PARTIAL = "partial"  # some rows rejected (quarantined), the others loaded or parked
    REJECTED = "rejected"  # every row rejected, or the whole object (`error` names the reason)
    SUPERSEDED = "superseded"  # a lake object older than the version of its key already in the lake
    FAILED = "failed"  # an infrastructure error; SQS retries the message


# Statuses of an object version that is done: a delivery of it again is a replay (skipped).
FINISHED_STATUSES: tuple[LedgerStatus, ...] = (
    LedgerStatus.LOADED, LedgerStatus.PARTIAL, LedgerStatus.REJECTED, LedgerStatus.SUPERSEDED,
)
# What the ingest (and `lake run`'s report) says of an object version that had already finished.
SKIPPED = "skipped"


@dataclass(frozen=True)
class Column:
    name: str
    dtype: DType
    description: str
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None  # full-match regular expression for strings
    privacy: Privacy = Privacy.NONE
    pseudonym: Pseudonym | None = None
    stored_name: str | None = None  # name after pseudonymization, when it changes

    @property
    def is_phi(self) -> bool:
        return self.privacy in (Privacy.DIRECT_IDENTIFIER, Privacy.QUASI_IDENTIFIER)

    @property
    def is_free_text(self) -> bool:
        """Text no pattern or enum constrains: screened for PHI in the wrong column (`phi_in_free_text`)."""
        return self.dtype is DType.STRING and self.pattern is None and self.enum is None and self.pseudonym is None


@dataclass(frozen=True)
class ForeignKey:
    column: str
    parent: str  # entity name
    parent_column: str
    parks: bool  # True: a row whose parent is missing waits for it; False: it loads (orphan)


@dataclass(frozen=True)
class RowCheck:
    """A rule across columns of one row: `left >= right` when both are present."""

    name: str
    left: str
    right: str
    reason: str = "inconsistent"


@dataclass(frozen=True)
class Entity:
    name: str
    description: str
    landing: Landing
    columns: tuple[Column, ...]
    primary_key: str
    foreign_keys: tuple[ForeignKey, ...] = ()
    row_checks: tuple[RowCheck, ...] = ()
    partition_keys: tuple[str, ...] = ()  # lake entities: hive partitions under processed/
    # Lake entities: the timestamp column whose UTC day is the `date` partition value.
    partition_date_from: str | None = None
    # Entities with an AGE pseudonym: the required timestamp the age is computed at (stated, not
    # inferred from column order: moving a column must not change a stored age).
    age_reference: str | None = None

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if not c.nullable)

    @property
    def parking_parents(self) -> tuple[ForeignKey, ...]:
        return tuple(fk for fk in self.foreign_keys if fk.parks)

    def stored_columns(self) -> tuple[Column, ...]:
        """Columns as stored downstream (RDS, Parquet, quarantine), after pseudonymization."""
        return tuple(out for col in self.columns for out in self.pseudonym_outputs(col))

    def pseudonym_outputs(self, col: Column) -> tuple[Column, ...]:
        """The stored columns one input column becomes, in order: itself when it is not PHI,
        nothing when dropped, one or two derived columns otherwise (`Pseudonym`)."""
        if col.pseudonym is None:
            return (col,)
        if col.pseudonym is Pseudonym.HMAC:
            return (_derived_string(
                col, f"{col.name}_key", f"HMAC-SHA256 (hex) of {col.name} with the secret pseudonymization key",
                pattern=r"[0-9a-f]{64}", privacy=Privacy.PSEUDONYMIZED_KEY,
            ),)
        if col.pseudonym is Pseudonym.AGE:
            # Age at the row's own reference time, never a birth year: a stored value cannot
            # "age past 89" as years go by, and no row of a patient reveals a year of birth
            # that another row of the same patient_key hides behind the 90+ flag (ADR 0001).
            at = self.age_reference
            return (
                Column(
                    AGE_COLUMN,
                    DType.INT,
                    f"Age in completed years at {at}; NULL when 90 or older",
                    nullable=True,
                    min=0,
                    max=AGE_90_PLUS - 1,
                    privacy=Privacy.QUASI_IDENTIFIER,
                ),
                Column(
                    AGE_90_PLUS_COLUMN,
                    DType.BOOL,
                    f"True when the patient was 90 or older at {at} (Safe Harbor grouping)",
                    nullable=col.nullable,
                    privacy=Privacy.QUASI_IDENTIFIER,
                ),
            )
        if col.pseudonym is Pseudonym.ZIP3:
            return (_derived_string(
                col, f"{col.name}3", f"First three digits of {col.name}; {GENERALIZED_ZIP3} for the restricted prefixes",
                pattern=r"[0-9]{3}", privacy=Privacy.QUASI_IDENTIFIER,
            ),)
        return ()  # Pseudonym.DROP: nothing stored

    @property
    def stored_column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.stored_columns())


def _derived_string(source: Column, default_name: str, description: str, *, pattern: str,
                    privacy: Privacy) -> Column:
    """The one string column a PHI column becomes (named `stored_name` when the contract sets it)."""
    return Column(source.stored_name or default_name, DType.STRING, description,
                  nullable=source.nullable, pattern=pattern, privacy=privacy)


def _ts(name: str, description: str, nullable: bool = False) -> Column:
    return Column(name, DType.TIMESTAMP, description, nullable=nullable)


FACILITY_ID = r"FAC-[0-9]{3}"
ROBOT_ID = r"ROBOT-[0-9]{4}"
PROCEDURE_ID = r"PROC-[0-9]{6}"

SURGICAL_ROBOTS = Entity(
    name="surgical_robots",
    description="One surgical robot installed at a facility.",
    landing=Landing.RDS,
    primary_key="robot_id",
    columns=(
        Column("robot_id", DType.STRING, "Robot identifier", pattern=ROBOT_ID),
        Column("serial_number", DType.STRING, "Manufacturer serial number", pattern=r"[A-Z0-9-]{6,32}"),
        Column("model", DType.STRING, "Robot model name"),
        Column("manufacturer", DType.STRING, "Manufacturer name"),
        Column("facility_id", DType.STRING, "Facility (hospital) identifier", pattern=FACILITY_ID),
        Column("facility_name", DType.STRING, "Facility name"),
        Column("install_date", DType.DATE, "Date the robot was installed"),
        Column("firmware_version", DType.STRING, "Firmware version", pattern=r"[0-9]+\.[0-9]+\.[0-9]+"),
        Column("status", DType.STRING, "Lifecycle status", enum=("active", "maintenance", "retired")),
    ),
)

SURGICAL_PROCEDURES = Entity(
    name="surgical_procedures",
    description="One surgical operation performed with a robot. Carries PHI, also once stored.",
    landing=Landing.RDS,
    primary_key="procedure_id",
    foreign_keys=(ForeignKey("robot_id", "surgical_robots", "robot_id", parks=True),),
    row_checks=(
        RowCheck("end_after_start", "actual_end", "actual_start"),
    ),
    age_reference="scheduled_start",
    columns=(
        Column("procedure_id", DType.STRING, "Procedure identifier", pattern=PROCEDURE_ID),
        Column("robot_id", DType.STRING, "Robot used", pattern=ROBOT_ID),
        Column("facility_id", DType.STRING, "Facility where it took place", pattern=FACILITY_ID),
        Column("surgeon_id", DType.STRING, "Surgeon identifier (staff, not PHI)", pattern=r"SURG-[0-9]{4}"),
        Column(
            "patient_id", DType.STRING, "Medical record number (MRN)", pattern=r"MRN[0-9]{8}",
            privacy=Privacy.DIRECT_IDENTIFIER, pseudonym=Pseudonym.HMAC, stored_name="patient_key",
        ),
        Column(
            "patient_name", DType.STRING, "Patient full name", nullable=True,
            privacy=Privacy.DIRECT_IDENTIFIER, pseudonym=Pseudonym.DROP,
        ),
        Column(
            "patient_birth_date", DType.DATE, "Patient date of birth",
            privacy=Privacy.QUASI_IDENTIFIER, pseudonym=Pseudonym.AGE,
        ),
        Column(
            "patient_zip", DType.STRING, "Patient 5-digit ZIP code", nullable=True, pattern=r"[0-9]{5}",
            privacy=Privacy.QUASI_IDENTIFIER, pseudonym=Pseudonym.ZIP3, stored_name="patient_zip3",
        ),
        Column("procedure_type", DType.STRING, "Procedure type, e.g. prostatectomy"),
        Column("procedure_category", DType.STRING, "Specialty, e.g. urology"),
        Column("complexity", DType.STRING, "Planned complexity", enum=("low", "medium", "high")),
        Column("is_emergency", DType.BOOL, "Unplanned emergency case"),
        _ts("scheduled_start", "Scheduled start"),
        _ts("actual_start", "Actual start (incision)", nullable=True),
        _ts("actual_end", "Actual end (closure)", nullable=True),
        Column("status", DType.STRING, "Outcome of the booking", enum=("completed", "cancelled", "converted")),
    ),
)

PROCEDURE_OUTCOMES = Entity(
    name="procedure_outcomes",
    description="The clinical outcome of one procedure.",
    landing=Landing.RDS,
    primary_key="outcome_id",
    foreign_keys=(ForeignKey("procedure_id", "surgical_procedures", "procedure_id", parks=True),),
    columns=(
        Column("outcome_id", DType.STRING, "Outcome identifier", pattern=r"OUT-[0-9]{6}"),
        Column("procedure_id", DType.STRING, "Procedure this outcome belongs to", pattern=PROCEDURE_ID),
        Column("success", DType.BOOL, "Procedure met its clinical goal"),
        Column("complication_occurred", DType.BOOL, "Any complication"),
        Column(
            "complication_severity", DType.STRING, "Worst complication",
            enum=("none", "minor", "major", "critical"),
        ),
        Column("blood_loss_ml", DType.FLOAT, "Estimated blood loss", min=0, max=10000),
        Column("length_of_stay_days", DType.FLOAT, "Hospital length of stay", min=0, max=365),
        Column("readmitted_30d", DType.BOOL, "Readmitted within 30 days"),
        Column("conversion_to_open", DType.BOOL, "Converted to open surgery"),
        _ts("recorded_at", "When the outcome was recorded"),
    ),
)

ROBOT_MAINTENANCE_LOGS = Entity(
    name="robot_maintenance_logs",
    description="One service event on a robot.",
    landing=Landing.RDS,
    primary_key="maintenance_id",
    foreign_keys=(ForeignKey("robot_id", "surgical_robots", "robot_id", parks=True),),
    row_checks=(RowCheck("completed_after_started", "completed_at", "started_at"),),
    columns=(
        Column("maintenance_id", DType.STRING, "Maintenance event identifier", pattern=r"MAINT-[0-9]{6}"),
        Column("robot_id", DType.STRING, "Robot serviced", pattern=ROBOT_ID),
        Column(
            "maintenance_type", DType.STRING, "Kind of service",
            enum=("scheduled", "unscheduled", "emergency", "calibration"),
        ),
        _ts("started_at", "Service start"),
        _ts("completed_at", "Service end", nullable=True),
        Column("technician_id", DType.STRING, "Technician identifier", pattern=r"TECH-[0-9]{4}"),
        Column("downtime_hours", DType.FLOAT, "Hours the robot was unavailable", min=0, max=2000),
        Column("parts_replaced", DType.STRING, "Semicolon-separated part names", nullable=True),
        Column("cost_usd", DType.FLOAT, "Cost of the event", min=0, max=1_000_000),
        Column("failure_mode", DType.STRING, "Failure that caused the event, if any", nullable=True),
    ),
)

PROCEDURE_TELEMETRY = Entity(
    name="procedure_telemetry",
    description="One sensor sample from one robot arm during a procedure.",
    landing=Landing.LAKE,
    primary_key="telemetry_id",
    foreign_keys=(
        ForeignKey("procedure_id", "surgical_procedures", "procedure_id", parks=False),
        ForeignKey("robot_id", "surgical_robots", "robot_id", parks=False),
    ),
    partition_keys=("date", "robot_id"),
    partition_date_from="timestamp",
    columns=(
        Column(
            "telemetry_id", DType.STRING, "Sample identifier (UUID)",
            pattern=r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        ),
        Column("procedure_id", DType.STRING, "Procedure in progress", pattern=PROCEDURE_ID),
        Column("robot_id", DType.STRING, "Robot sampled", pattern=ROBOT_ID),
        _ts("timestamp", "Sample time (UTC, milliseconds)"),
        Column("arm_id", DType.INT, "Robot arm (1-4)", min=1, max=4),
        Column("joint_angle_deg", DType.FLOAT, "Joint angle", min=-180, max=180),
        Column("force_newtons", DType.FLOAT, "Force at the instrument tip", min=0, max=500),
        Column("torque_nm", DType.FLOAT, "Joint torque", min=-200, max=200),
        Column("motor_temp_c", DType.FLOAT, "Motor temperature", min=-20, max=150),
        Column("latency_ms", DType.FLOAT, "Control-loop latency", min=0, max=10000),
        Column("error_code", DType.STRING, "Controller error code", nullable=True, pattern=r"E[0-9]{3}"),
    ),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        SURGICAL_ROBOTS,
        SURGICAL_PROCEDURES,
        PROCEDURE_OUTCOMES,
        ROBOT_MAINTENANCE_LOGS,
        PROCEDURE_TELEMETRY,
    )
}


def load_order(entities: Iterable[Entity]) -> tuple[str, ...]:
    """RDS entity names, every parent (by foreign key) before its children; ties keep the
    contract's order. Raises ValueError on a cycle."""
    rds = {e.name: e for e in entities if e.landing is Landing.RDS}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"foreign keys form a cycle through {name}")
        visiting.add(name)
        for fk in rds[name].foreign_keys:
            if fk.parent in rds and fk.parent != name:
                visit(fk.parent)
        visiting.discard(name)
        order.append(name)

    for name in rds:
        visit(name)
    return tuple(order)


# Parents before children: the order in which transactional entities (and parked rows) load.
LOAD_ORDER: tuple[str, ...] = load_order(ENTITIES.values())

# Lineage columns ingest adds to every stored transactional row ("newer object wins").
LINEAGE_COLUMNS: tuple[Column, ...] = (
    Column("src_key", DType.STRING, "S3 key of the source object the row came from"),
    _ts("src_modified", "S3 LastModified of that object (newer wins, then key)"),
    _ts("loaded_at", "When the row was last written"),
)

# --- rejection reasons (quarantine `reasons`) and the generator's defect kinds ---------------

REASONS: dict[str, str] = {
    "malformed_row": (
        "a JSON record that is not an object or does not parse, a CSV row with the wrong field count, "
        "or a line (JSON record) longer than the configured line limit"
    ),
    "missing_required": "a required field is absent or empty",
    "bad_type": "a value that does not parse as the column's type (e.g. an integer beyond 64 bits)",
    "bad_timestamp": "a timestamp or date that is not ISO 8601, or outside years 1-9999 once in UTC",
    "out_of_range": (
        "a number outside the column's range (stored columns included, e.g. the age at procedure), "
        "outside a 32-bit integer, or not finite"
    ),
    "bad_enum": "a value outside the column's allowed set",
    "bad_pattern": "a string that does not match the column's pattern",
    "bad_character": "text holding U+0000 (NUL), which PostgreSQL, Athena and Redshift cannot store",
    "inconsistent": "a row rule failed, e.g. an end before its start",
    "duplicate_key": "the primary key already appeared earlier in the same object",
    "phi_in_free_text": "an MRN, SSN or date-of-birth shape in a non-PHI text column (the value is not copied)",
    "foreign_facility": "a producer's row that belongs to, or names a robot/procedure of, another facility",
    "database_rule": "a parked row the table refused when its parent arrived, for a rule no other reason names",
}

# Whole-object reasons (the object is quarantined as one unit and recorded in the ledger).
OBJECT_REASONS: dict[str, str] = {
    "unknown_entity": "the first key segment is not an entity of the contract",
    "unknown_format": "the extension is not .csv/.json/.ndjson/.jsonl (optionally .gz)",
    "empty_object": "the object has no bytes or no data rows",
    "not_utf8": "the content does not decode as UTF-8 (after gunzip)",
    "missing_columns": "a CSV header lacks required columns of the entity (names match case-insensitively)",
    "bad_facility_prefix": "the key's facility= segment names no facility id (<entity>/facility=FAC-nnn/...)",
    "duplicate_columns": "two CSV header cells name the same column once trimmed and lower-cased",
    "bad_compression": "a .gz object that is not gzip, or whose stream is corrupt or truncated",
    "too_large": "the object (or its decompressed content) exceeds the configured size limit",
    "database_rule": "the database refused a row the contract accepted (a contract gap; never retried)",
    "unreadable": "the content raised an error no other reason names (never retried; the class is recorded)",
}

# Defect kinds the generator injects -> the outcome ingest must give that row.
# "parked": a transactional child whose parent never arrives; "loaded": a telemetry orphan
# (loads, surfaced by analytics.v_orphan_telemetry); anything else is the rejection reason.
DEFECT_OUTCOMES: dict[str, str] = {
    "malformed_row": "malformed_row",
    "missing_required": "missing_required",
    "bad_type": "bad_type",
    "bad_timestamp": "bad_timestamp",
    "out_of_range": "out_of_range",
    "bad_enum": "bad_enum",
    "bad_character": "bad_character",
    "inconsistent": "inconsistent",
    "duplicate_key": "duplicate_key",
    "orphan_fk": "parked",  # telemetry: "loaded"
}

# Generator metadata files live at the top of an output folder and start with "_", the
# Hadoop/Spark convention for "not data": `lake run` does not upload them.
GROUND_TRUTH_FILE = "_ground_truth.ndjson"
MANIFEST_FILE = "_manifest.json"

# Line numbers everywhere (ground truth, quarantine) are 1-based physical lines of the
# decompressed file; in a CSV the header is line 1, so the first data row is line 2.


# --- derived tables in the lake (written by the Glue rollup job) ------------------------------

@dataclass(frozen=True)
class LakeTable:
    """A Parquet table under the processed bucket, registered in the Glue catalog."""

    name: str
    description: str
    columns: tuple[Column, ...]
    partition_keys: tuple[str, ...] = ("date",)
    extra: dict[str, str] = field(default_factory=dict)


def _metric_columns(metric: str, unit: str) -> tuple[Column, ...]:
    # NULL only on a gap row with nothing to fill from (sample_gap, not is_imputed); stddev also
    # when the hour holds one sample.
    return tuple(
        Column(f"{metric}_{stat}", DType.FLOAT, f"{stat} of {metric} ({unit})", nullable=True)
        for stat in ("min", "avg", "max", "stddev")
    )


# Telemetry metrics the hourly rollup summarizes (min/avg/max/stddev each), with their units.
ROLLUP_METRICS: dict[str, str] = {
    "force_newtons": "N",
    "torque_nm": "N m",
    "motor_temp_c": "deg C",
    "latency_ms": "ms",
}

TELEMETRY_HOURLY = LakeTable(
    name="telemetry_hourly",
    description="Per robot, arm and UTC hour: sample count and statistics of each metric.",
    columns=(
        Column("robot_id", DType.STRING, "Robot", pattern=ROBOT_ID),
        Column("arm_id", DType.INT, "Robot arm", min=1, max=4),
        _ts("hour", "Start of the UTC hour"),
        Column("sample_count", DType.INT, "Distinct samples in the hour (forward-filled when is_imputed)"),
        *(c for metric, unit in ROLLUP_METRICS.items() for c in _metric_columns(metric, unit)),
        Column("latency_ms_p95", DType.FLOAT, "95th percentile latency (ms)", nullable=True),
        Column("error_count", DType.INT, "Samples with an error code (forward-filled when is_imputed)"),
        Column("sample_gap", DType.BOOL, "Inside a procedure, samples missing or far below the arm's usual rate"),
        Column("is_imputed", DType.BOOL, "No sample arrived: the values are filled for charts, never measurements"),
    ),
)

TELEMETRY_ANOMALIES = LakeTable(
    name="telemetry_anomalies",
    description="Robot-hours whose metric deviates from that robot's trailing baseline.",
    columns=(
        Column("robot_id", DType.STRING, "Robot", pattern=ROBOT_ID),
        _ts("hour", "Start of the UTC hour"),
        Column("metric", DType.STRING, "Metric that deviates"),
        Column("value", DType.FLOAT, "The hour's value of the metric"),
        Column("baseline_mean", DType.FLOAT, "Mean over the trailing baseline window"),
        Column("baseline_stddev", DType.FLOAT, "Standard deviation over the baseline window"),
        Column("z_score", DType.FLOAT, "(value - baseline_mean) / baseline_stddev"),
    ),
)

LAKE_TABLES: dict[str, LakeTable] = {t.name: t for t in (TELEMETRY_HOURLY, TELEMETRY_ANOMALIES)}

# Hourly rollup columns the anomaly detection compares with each robot's trailing baseline.
ANOMALY_METRICS: tuple[str, ...] = (
    *(f"{metric}_avg" for metric in ROLLUP_METRICS), "latency_ms_p95", "error_count",
)

# The rollup's reference input (not a catalog table): the windows of performed procedures, no
# PHI, exported from RDS by the alerts function before each run under
# `<processed>/_reference/procedure_windows/date=YYYY-MM-DD/`, one partition per UTC date a window
# overlaps (a procedure past midnight is in both), so the job reads RDS facts without RDS access.
REFERENCE_DIR = "_reference"
PROCEDURE_WINDOWS = LakeTable(
    name="procedure_windows",
    description="Performed procedures' [actual_start, actual_end) per robot, by UTC date overlapped.",
    columns=(
        Column("procedure_id", DType.STRING, "Procedure", pattern=PROCEDURE_ID),
        Column("robot_id", DType.STRING, "Robot", pattern=ROBOT_ID),
        _ts("actual_start", "Actual start (incision)"),
        _ts("actual_end", "Actual end (closure)"),
    ),
)


# --- type mappings ---------------------------------------------------------------------------

POSTGRES_TYPES: dict[DType, str] = {
    DType.STRING: "text",
    DType.INT: "integer",
    DType.FLOAT: "double precision",
    DType.BOOL: "boolean",
    DType.DATE: "date",
    DType.TIMESTAMP: "timestamp with time zone",
}

GLUE_TYPES: dict[DType, str] = {
    DType.STRING: "string",
    DType.INT: "int",
    DType.FLOAT: "double",
    DType.BOOL: "boolean",
    DType.DATE: "date",
    DType.TIMESTAMP: "timestamp",
}

# Spark SQL's DDL names for these types are Hive's, as Glue's are (the Glue job's schemas).
SPARK_TYPES: dict[DType, str] = GLUE_TYPES


def arrow_type(dtype: DType):  # -> pyarrow.DataType; imported lazily so the CDK app need not
    import pyarrow as pa

    return {
        DType.STRING: pa.string(),
        DType.INT: pa.int32(),
        DType.FLOAT: pa.float64(),
        DType.BOOL: pa.bool_(),
        DType.DATE: pa.date32(),
        DType.TIMESTAMP: pa.timestamp("ms", tz="UTC"),
    }[dtype]


def arrow_schema(columns: Iterable[Column]):
    """Arrow schema for columns (nullability from the contract)."""
    import pyarrow as pa

    return pa.schema([pa.field(c.name, arrow_type(c.dtype), nullable=c.nullable) for c in columns])


def lake_data_columns(columns: Iterable[Column], partition_keys: Iterable[str]) -> tuple[Column, ...]:
    """Columns stored inside the Parquet files (hive partition keys live in the path)."""
    keys = set(partition_keys)
    return tuple(c for c in columns if c.name not in keys)


def glue_columns(columns: Iterable[Column]) -> list[dict[str, str]]:
    """Glue `Columns` entries for a table definition."""
    return [{"name": c.name, "type": GLUE_TYPES[c.dtype], "comment": c.description} for c in columns]
