"""Primary keys already seen in one source object: exact, vectorized, ~32 bytes per key.

A 1 GB telemetry object holds ~3.5 M keys, so neither a Python set (~115 bytes and an object
per key) nor a sort of byte strings per batch will do. Instead:
- within a batch, Arrow's hash table finds repeats (`dictionary_encode` numbers values in order
  of first appearance);
- across batches, only 64-bit hashes of the batch's distinct keys are searched, in sorted runs
  of earlier hashes (numpy sorts uint64 values several times faster than it argsorts anything);
- a hash found there is only a candidate: the keys themselves, kept in arrival order, confirm
  it, so a hash collision never makes a row a duplicate. Clean batches have no candidates and
  never touch the stored keys.
Lower-case UUIDs (telemetry ids) are packed from 36 characters to 16 bytes first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_UUID_DASHES = [8, 13, 18, 23]
_UUID_HEX_SPANS = [(0, 8), (9, 13), (14, 18), (19, 23), (24, 36)]
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _fixed_width(values: pa.Array, width: int) -> np.ndarray:
    """Equal-length strings as one numpy array of fixed-width bytes (no Python objects)."""
    data = pc.binary_join_element_wise(values, "").cast(pa.binary())  # contiguous copy
    return np.frombuffer(data.buffers()[2], dtype=f"S{width}", count=len(values), offset=data.offset * width)


def _encode(values: pa.Array, width: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(form name, row positions, fixed-width keys) for strings of one length."""
    raw = _fixed_width(values, width)
    if width != 36:
        return [(f"s{width}", np.arange(len(raw)), raw)]
    chars = np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(len(raw), 36)
    hex_chars = np.concatenate([chars[:, a:b] for a, b in _UUID_HEX_SPANS], axis=1)
    is_hex = ((hex_chars - ord("0")) < 10) | ((hex_chars - ord("a")) < 6)  # uint8 wraps below
    is_uuid = is_hex.all(axis=1) & (chars[:, _UUID_DASHES] == ord("-")).all(axis=1)
    nibbles = (hex_chars & 15) + 9 * (hex_chars >> 6)  # '0'-'9' -> 0-9, 'a'-'f' -> 10-15
    packed = ((nibbles[:, 0::2] << 4) | nibbles[:, 1::2]).view("S16").ravel()
    uuid_rows, other = np.flatnonzero(is_uuid), np.flatnonzero(~is_uuid)
    if len(other) == 0:  # the usual case: no copy
        return [("uuid", uuid_rows, packed)]
    return [("uuid", uuid_rows, packed[uuid_rows]), ("s36", other, raw[other])]


def hash64(keys: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each fixed-width key (multiply-xor over its 8-byte words)."""
    width = keys.dtype.itemsize
    padded = np.zeros((len(keys), -(-width // 8) * 8), dtype=np.uint8)
    padded[:, :width] = np.frombuffer(keys.tobytes(), dtype=np.uint8).reshape(len(keys), width)
    h = np.zeros(len(keys), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for word in padded.view(np.uint64).T:
            h = (h ^ word) * _MIX
        h ^= h >> np.uint64(29)
    return h


class KeySet:
    """A set of fixed-width keys: sorted runs of hashes to search, the keys to confirm."""

    def __init__(self, width: int, hash_fn: Callable[[np.ndarray], np.ndarray] = hash64) -> None:
        self._hash = hash_fn
        self._runs: list[np.ndarray] = []  # sorted hashes; similar sizes merge (a binary counter)
        self._batches: list[tuple[np.ndarray, np.ndarray]] = []  # (hashes, keys) as they came
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, keys: np.ndarray) -> np.ndarray:
        """Record distinct keys; returns which of them were already present."""
        hashes = self._hash(keys)
        candidates = np.flatnonzero(self._in_runs(hashes))
        found = np.zeros(len(keys), dtype=bool)
        if len(candidates):
            found[candidates] = self._confirm(hashes[candidates], keys[candidates])
        self._append(hashes[~found], keys[~found])
        return found

    def _in_runs(self, hashes: np.ndarray) -> np.ndarray:
        order = np.argsort(hashes)  # sorted needles search a large run cache-friendly
        needles = hashes[order]
        hit = np.zeros(len(hashes), dtype=bool)
        for run in self._runs:
            pos = np.minimum(np.searchsorted(run, needles), len(run) - 1)
            hit[order] |= run[pos] == needles
        return hit

    def _confirm(self, hashes: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Which candidates equal a stored key with the same hash (one pass over the store)."""
        wanted = np.unique(hashes)
        stored: set[bytes] = set()
        for stored_h, stored_k in self._batches:
            pos = np.minimum(np.searchsorted(wanted, stored_h), len(wanted) - 1)
            stored.update(stored_k[wanted[pos] == stored_h].tolist())
        return np.fromiter((k in stored for k in keys.tolist()), dtype=bool, count=len(keys))

    def _append(self, hashes: np.ndarray, keys: np.ndarray) -> None:
        if len(keys) == 0:
            return
        self._batches.append((hashes, keys))
        self._count += len(keys)
        self._runs.append(np.sort(hashes))
        while len(self._runs) > 1 and 2 * len(self._runs[-1]) >= len(self._runs[-2]):
            merged = np.concatenate((self._runs.pop(-2), self._runs.pop()))
            merged.sort()
            self._runs.append(merged)


class SeenKeys:
    """Primary keys already seen in this object (all batches so far)."""

    def __init__(self) -> None:
        self._forms: dict[str, KeySet] = {}

    def first_seen(self, keys: pa.Array) -> np.ndarray:
        """Mask of keys that occurred earlier (in this call or before); records the new ones.

        NULL keys are never duplicates (a missing key is its own reason).
        """
        encoded = pc.dictionary_encode(keys)
        present = np.asarray(pc.is_valid(encoded.indices).to_numpy(zero_copy_only=False), dtype=bool)
        indices = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
        # Row i is its value's first occurrence when its index exceeds every index before it.
        before = np.maximum.accumulate(np.concatenate(([-1], indices[:-1])))
        dup = present & (indices <= before)
        distinct = encoded.dictionary
        if len(distinct) == 0:
            return dup
        earlier = np.zeros(len(distinct), dtype=bool)
        lengths = pc.binary_length(distinct).to_numpy(zero_copy_only=False)
        for width in np.unique(lengths):
            rows = np.flatnonzero(lengths == width)
            for form, sub_rows, fixed in _encode(distinct.take(pa.array(rows)), int(width)):
                if len(sub_rows):
                    key_set = self._forms.setdefault(form, KeySet(fixed.dtype.itemsize))
                    earlier[rows[sub_rows]] = key_set.add(fixed)
        return dup | (present & earlier[np.maximum(indices, 0)])
