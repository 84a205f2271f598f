"""Reference data the generators draw from: facilities, robot models, procedure types, failures.

Kept apart from the generating code so realism can be reviewed (and extended) in one place.
Facilities send timestamps in their own style: most as UTC with `Z`, some with their local
offset, one as naive values (which the contract reads as UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lake.contract import ENTITIES, Entity


@dataclass(frozen=True)
class Facility:
    facility_id: str
    name: str
    utc_offset_hours: int  # fixed local offset (no DST), used for business hours
    ts_style: str  # "Z" | "offset" | "naive": how the facility's systems write timestamps


@dataclass(frozen=True)
class RobotModel:
    manufacturer: str
    model: str
    serial_prefix: str
    firmware_major: int
    orthopedic: bool  # orthopedic/spine systems do orthopedic cases only, the others soft tissue
    weight: float  # share of the installed base


@dataclass(frozen=True)
class ProcedureType:
    name: str
    category: str
    complexity_weights: tuple[float, float, float]  # low, medium, high
    minutes: float  # median skin-to-skin duration at medium complexity
    blood_loss_ml: float  # median estimated blood loss at medium complexity
    stay_days: float  # median length of stay without complications


FACILITIES: tuple[Facility, ...] = (
    Facility("FAC-001", "Northshore University Hospital", -6, "Z"),
    Facility("FAC-002", "Bayview Medical Center", -8, "Z"),
    Facility("FAC-003", "St. Catherine's Hospital, Boston", -5, "offset"),
    Facility("FAC-004", "Lakeside Regional Medical Center", -5, "Z"),
    Facility("FAC-005", "Mercy General Hospital Houston", -6, "naive"),
    Facility("FAC-006", "Cedar Valley Health", -7, "Z"),
    Facility("FAC-007", "Harborview Surgical Institute", -8, "Z"),
    Facility("FAC-008", "Riverside Medical Center", -5, "Z"),
    Facility("FAC-009", "Meilahti University Hospital, Helsinki", 2, "offset"),
    Facility("FAC-010", "Hôpital Saint-Antoine, Paris", 1, "Z"),
)

ROBOT_MODELS: tuple[RobotModel, ...] = (
    RobotModel("Intuitive Surgical", "da Vinci Xi", "SK", 11, False, 0.34),
    RobotModel("Intuitive Surgical", "da Vinci X", "SX", 10, False, 0.12),
    RobotModel("Intuitive Surgical", "da Vinci SP", "SP", 4, False, 0.06),
    RobotModel("Intuitive Surgical", "da Vinci 5", "DV5", 1, False, 0.06),
    RobotModel("Medtronic", "Hugo RAS", "HUGO", 2, False, 0.08),
    RobotModel("CMR Surgical", "Versius", "CMR", 3, False, 0.07),
    RobotModel("Asensus Surgical", "Senhance", "SNH", 5, False, 0.04),
    RobotModel("Stryker", "Mako SmartRobotics", "MAKO", 4, True, 0.12),
    RobotModel("Zimmer Biomet", "ROSA Knee", "ROSA", 1, True, 0.06),
    RobotModel("Globus Medical", "ExcelsiusGPS", "EGPS", 2, True, 0.05),
)

ORTHOPEDIC = "orthopedics"

_L, _M, _H = (0.6, 0.3, 0.1), (0.25, 0.5, 0.25), (0.05, 0.35, 0.6)

PROCEDURE_TYPES: tuple[ProcedureType, ...] = (
    ProcedureType("radical prostatectomy", "urology", _H, 180, 250, 1.5),
    ProcedureType("partial nephrectomy", "urology", _H, 190, 200, 2.0),
    ProcedureType("pyeloplasty", "urology", _M, 150, 50, 1.5),
    ProcedureType("radical cystectomy", "urology", _H, 300, 500, 6.0),
    ProcedureType("ureteral reimplantation", "urology", _M, 160, 50, 2.0),
    ProcedureType("hysterectomy", "gynecology", _M, 120, 100, 1.0),
    ProcedureType("myomectomy", "gynecology", _M, 150, 250, 1.0),
    ProcedureType("sacrocolpopexy", "gynecology", _M, 160, 80, 1.0),
    ProcedureType("endometriosis excision", "gynecology", _M, 140, 60, 1.0),
    ProcedureType("ovarian cystectomy", "gynecology", _L, 90, 30, 0.5),
    ProcedureType("cholecystectomy", "general surgery", _L, 70, 20, 0.5),
    ProcedureType("inguinal hernia repair", "general surgery", _L, 80, 15, 0.3),
    ProcedureType("ventral hernia repair", "general surgery", _M, 120, 40, 1.5),
    ProcedureType("Nissen fundoplication", "general surgery", _M, 130, 40, 1.5),
    ProcedureType("appendectomy", "general surgery", _L, 60, 15, 1.0),
    ProcedureType("low anterior resection", "colorectal", _H, 240, 200, 5.0),
    ProcedureType("right hemicolectomy", "colorectal", _M, 180, 120, 4.0),
    ProcedureType("sigmoid colectomy", "colorectal", _M, 190, 130, 4.0),
    ProcedureType("ventral mesh rectopexy", "colorectal", _M, 150, 50, 2.0),
    ProcedureType("pulmonary lobectomy", "thoracic", _H, 200, 150, 3.5),
    ProcedureType("thymectomy", "thoracic", _M, 150, 80, 2.5),
    ProcedureType("esophagectomy", "thoracic", _H, 360, 300, 9.0),
    ProcedureType("mediastinal mass resection", "thoracic", _M, 160, 100, 2.5),
    ProcedureType("sleeve gastrectomy", "bariatric", _M, 110, 50, 1.5),
    ProcedureType("Roux-en-Y gastric bypass", "bariatric", _H, 170, 80, 2.0),
    ProcedureType("mitral valve repair", "cardiac", _H, 240, 400, 5.0),
    ProcedureType("coronary artery bypass", "cardiac", _H, 300, 500, 6.0),
    ProcedureType("transoral robotic surgery", "head and neck", _M, 150, 100, 3.0),
    ProcedureType("thyroidectomy", "head and neck", _M, 120, 40, 1.0),
    ProcedureType("pancreaticoduodenectomy", "hepatobiliary", _H, 420, 600, 10.0),
    ProcedureType("distal pancreatectomy", "hepatobiliary", _H, 240, 300, 6.0),
    ProcedureType("liver resection", "hepatobiliary", _H, 260, 450, 6.0),
    ProcedureType("total knee arthroplasty", ORTHOPEDIC, _M, 100, 200, 2.0),
    ProcedureType("total hip arthroplasty", ORTHOPEDIC, _M, 110, 300, 2.0),
    ProcedureType("unicompartmental knee arthroplasty", ORTHOPEDIC, _L, 90, 120, 1.0),
    ProcedureType("lumbar spinal fusion", ORTHOPEDIC, _H, 240, 500, 4.0),
)

# Enum values of the contract, each list in the generator's own order (its weights and indexes
# follow it). `enum_mismatches` compares them with the contract; importing this module fails
# while they differ, so a value added to the contract cannot go ungenerated unnoticed.
GENERATED_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("surgical_robots", "status"): ("active", "maintenance", "retired"),
    ("surgical_procedures", "complexity"): ("low", "medium", "high"),
    ("surgical_procedures", "status"): ("completed", "cancelled", "converted"),
    ("procedure_outcomes", "complication_severity"): ("none", "minor", "major", "critical"),
    ("robot_maintenance_logs", "maintenance_type"): ("scheduled", "calibration", "unscheduled", "emergency"),
}


def enum_mismatches(entities: Mapping[str, Entity], generated: Mapping[tuple[str, str], tuple[str, ...]]) -> list[str]:
    """Enum columns of the contract whose values the generator does not produce exactly."""
    found = []
    for entity in entities.values():
        for col in entity.columns:
            made = set(generated.get((entity.name, col.name), ()))
            if col.enum is not None and made != set(col.enum):
                found.append(f"{entity.name}.{col.name}: contract {sorted(col.enum)}, generator {sorted(made)}")
    return found


if _mismatches := enum_mismatches(ENTITIES, GENERATED_ENUMS):
    raise ImportError("the generator's enum values differ from lake/contract.py: " + "; ".join(_mismatches))

ROBOT_STATUSES = GENERATED_ENUMS["surgical_robots", "status"]
COMPLEXITIES = GENERATED_ENUMS["surgical_procedures", "complexity"]
PROCEDURE_STATUSES = GENERATED_ENUMS["surgical_procedures", "status"]
SEVERITIES = GENERATED_ENUMS["procedure_outcomes", "complication_severity"]
MAINTENANCE_TYPES = GENERATED_ENUMS["robot_maintenance_logs", "maintenance_type"]

# Failure modes behind unscheduled/emergency maintenance, with the parts usually replaced.
FAILURE_MODES: tuple[tuple[str, str | None], ...] = (
    ("arm motor overheating", "arm motor;thermal sensor"),
    ("instrument drive unit fault", "instrument drive unit"),
    ("joint encoder drift", "joint encoder"),
    ("control network latency", "fiber-optic cable;network switch"),
    ("vision system failure", "endoscope camera head"),
    ("power supply fault", "power supply unit"),
    ("software watchdog reset", None),
)

SCHEDULED_PARTS: tuple[str | None, ...] = (
    None,
    "sterile adapter",
    "cooling fan filter",
    "instrument drive unit;sterile adapter",
    "battery backup",
)

# Controller error codes: background noise, and the codes that grow before a failure.
BACKGROUND_ERRORS: tuple[str, ...] = ("E001", "E014", "E027", "E103")
DRIFT_ERRORS: tuple[str, ...] = ("E201", "E202", "E305", "E311", "E417")
