"""Who is asking: a principal built from identity-provider groups, the same in AWS and locally.

Groups (Cognito user-pool groups in AWS, token claims locally):
- `facility:FAC-003`: may see facility FAC-003's rows (one group per facility);
- `admin`: every facility, and the ingest ledger;
- `phi:pseudonymized`: patient-level fields (the contract's pseudonymized and generalized
  columns: patient_key, age at procedure, the 90+ flag, ZIP3) leave the API.

Example:
    >>> p = Principal.from_groups("alice", ["facility:FAC-003", "phi:pseudonymized"])
    >>> sorted(p.facilities), p.admin, p.phi
    (['FAC-003'], False, True)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lake.contract import FACILITY_ID

FACILITY_GROUP_PREFIX = "facility:"
ADMIN_GROUP = "admin"
PHI_GROUP = "phi:pseudonymized"
_FACILITY = re.compile(FACILITY_ID)


@dataclass(frozen=True)
class Principal:
    subject: str
    facilities: frozenset[str]
    admin: bool = False
    phi: bool = False

    @classmethod
    def from_groups(cls, subject: str, groups: Iterable[str]) -> Principal:
        """Groups that are not ours (or name a malformed facility) grant nothing."""
        names = {g.strip() for g in groups if g and g.strip()}
        facilities = frozenset(
            g.removeprefix(FACILITY_GROUP_PREFIX) for g in names
            if g.startswith(FACILITY_GROUP_PREFIX) and _FACILITY.fullmatch(g.removeprefix(FACILITY_GROUP_PREFIX))
        )
        return cls(subject, facilities, admin=ADMIN_GROUP in names, phi=PHI_GROUP in names)

    @property
    def groups(self) -> list[str]:
        """The groups that grant exactly this principal's rights (what a local token carries)."""
        out = [f"{FACILITY_GROUP_PREFIX}{f}" for f in sorted(self.facilities)]
        return out + [g for g, on in ((ADMIN_GROUP, self.admin), (PHI_GROUP, self.phi)) if on]

    def visible_facilities(self, requested: Iterable[str] = ()) -> frozenset[str] | None:
        """The facilities a query may read: None = all (an admin without a filter); else a set,
        possibly empty (a facility filter outside the principal's scope sees nothing)."""
        wanted = frozenset(requested)
        if self.admin:
            return wanted or None
        return self.facilities & wanted if wanted else self.facilities


def parse_groups(claim: object) -> list[str]:
    """`cognito:groups` as API Gateway passes it: a list, or a string ("a,b" or "[a b]")."""
    if claim is None:
        return []
    if isinstance(claim, list | tuple):
        return [str(g) for g in claim]
    text = str(claim).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [g for g in re.split(r"[,\s]+", text) if g]
