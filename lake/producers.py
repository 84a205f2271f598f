"""Raw-bucket key layout of producers: which facility an object was uploaded for.

Two layouts share the raw bucket (docs/adr/0007-producers-bound-to-facilities.md):

- `<entity>/<file>`: the platform's own trusted uploads (local mode, `lake run`, the raw
  operator role in AWS). Rows of any facility are accepted.
- `<entity>/facility=<FAC-nnn>/<file>`: a producer's upload. In AWS only the role of the
  producer that owns the facility may write there (IAM + the raw key's encryption context);
  the ingest refuses rows that belong to another facility (`foreign_facility`).

The first key segment stays the entity, so routing is unchanged. Pure data: no CDK, no boto3.

Example:
    >>> producer_prefix("surgical_robots", "FAC-001")
    'surgical_robots/facility=FAC-001/'
    >>> facility_of_key("surgical_robots/facility=FAC-001/robots.csv")
    'FAC-001'
    >>> facility_of_key("surgical_robots/robots.csv") is None
    True
"""

from __future__ import annotations

import re

from lake.contract import FACILITY_ID

FACILITY_SEGMENT = "facility="
_FACILITY = re.compile(rf"^{FACILITY_ID}$")


class ProducerKeyError(ValueError):
    """A key claims a producer layout (`<entity>/facility=.../`) but names no valid facility."""


def is_facility_id(value: str) -> bool:
    """True for a facility id of the contract (`FAC-nnn`)."""
    return bool(_FACILITY.match(value))


def producer_prefix(entity: str, facility: str) -> str:
    """The key prefix under which a producer of `facility` uploads `entity` files."""
    if not is_facility_id(facility):
        raise ProducerKeyError(f"not a facility id: {facility!r} (expected {FACILITY_ID})")
    return f"{entity}/{FACILITY_SEGMENT}{facility}/"


def facility_of_key(key: str) -> str | None:
    """The facility a producer key was uploaded for; None for a trusted `<entity>/<file>` key.

    Raises ProducerKeyError when the second of three or more segments starts with `facility=`
    but names no valid facility (`surgical_robots/facility=/x.csv`, `.../facility=fac-1/x.csv`).
    """
    parts = key.split("/", 2)
    if len(parts) < 3 or not parts[1].startswith(FACILITY_SEGMENT):
        return None
    facility = parts[1].removeprefix(FACILITY_SEGMENT)
    if not is_facility_id(facility):
        raise ProducerKeyError(f"the {FACILITY_SEGMENT} segment names no facility id ({FACILITY_ID})")
    return facility
