"""PHI -> pseudonyms, applied to every parsed row before anything is written anywhere.

`patient_id` -> `patient_key` = hex HMAC-SHA256 with a secret key (never a plain hash, which a
dictionary of MRNs would reverse); `patient_name` dropped; birth date -> birth year, NULL with
`patient_age_90_plus` = true when the patient was over 89 at the entity's reference time
(its first required timestamp, `scheduled_start`); ZIP -> its first three digits.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake.contract import Column, DType, Entity, Pseudonym, arrow_type


class _HmacSha256:
    """HMAC-SHA256 with the key's inner and outer pad states hashed once (RFC 2104, section 4):
    each value then costs two `copy()`s instead of a new HMAC object, 2.2x faster per value.
    Same digests as `hmac.new(key, msg, sha256)` (tested)."""

    def __init__(self, key: bytes) -> None:
        block = hashlib.sha256().block_size
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hexdigest(self, msg: bytes) -> str:
        inner = self._inner.copy()
        inner.update(msg)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def hmac_hex(key: bytes, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """HMAC-SHA256 (hex) of each value, computed once per distinct value."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    mac = _HmacSha256(key)
    digests = [None if v is None else mac.hexdigest(v.encode("utf-8")) for v in encoded.dictionary.to_pylist()]
    return pa.array(digests, pa.string()).take(encoded.indices)


def _reference_time(entity: Entity) -> str:
    return next(c.name for c in entity.columns if c.dtype is DType.TIMESTAMP and not c.nullable)


def _age_over_89(birth: pa.Array, at: pa.Array) -> np.ndarray:
    years = pc.subtract(pc.year(at), pc.year(birth))
    before_birthday = pc.or_(
        pc.less(pc.month(at), pc.month(birth)),
        pc.and_(pc.equal(pc.month(at), pc.month(birth)), pc.less(pc.day(at), pc.day(birth))),
    )
    age = pc.subtract(years, pc.cast(before_birthday, pa.int64()))
    return np.asarray(pc.fill_null(pc.greater(age, 89), False).to_numpy(zero_copy_only=False), dtype=bool)


def pseudonymize(table: pa.Table, entity: Entity, key: bytes) -> pa.Table:
    """Typed entity columns -> the entity's stored columns (`Entity.stored_columns()`)."""
    if not any(c.pseudonym for c in entity.columns):
        return table.select([c.name for c in entity.stored_columns()])
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    for col in entity.columns:
        values = table.column(col.name)
        if col.pseudonym is None:
            out[col.name] = values
        elif col.pseudonym is Pseudonym.HMAC:
            out[col.stored_name or f"{col.name}_key"] = hmac_hex(key, values)
        elif col.pseudonym is Pseudonym.BIRTH_YEAR:
            old = _age_over_89(values, table.column(_reference_time(entity)))
            year = pc.cast(pc.year(values), pa.int32())
            out["patient_birth_year"] = pc.if_else(pa.array(old), pa.scalar(None, pa.int32()), year)
            out["patient_age_90_plus"] = pa.array(old)
        elif col.pseudonym is Pseudonym.ZIP3:
            ok = pc.fill_null(pc.match_substring_regex(values, f"^(?:{col.pattern})$"), False) \
                if col.pattern else pc.is_valid(values)
            zip3 = pc.utf8_slice_codeunits(values, 0, 3)
            out[col.stored_name or f"{col.name}3"] = pc.if_else(ok, zip3, pa.scalar(None, pa.string()))
    stored = entity.stored_columns()
    return pa.table({c.name: out[c.name] for c in stored}, schema=stored_schema(stored))


def stored_schema(columns: tuple[Column, ...]) -> pa.Schema:
    """Arrow schema of stored columns, all nullable (rejected rows travel through it too)."""
    return pa.schema([(c.name, arrow_type(c.dtype)) for c in columns])
