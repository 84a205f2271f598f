"""The duplicate-key check is exact: hash collisions, UUID packing and many batches."""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa

from lambdas.ingest.seen_keys import KeySet, SeenKeys


def _constant_hash(keys: np.ndarray) -> np.ndarray:
    return np.full(len(keys), 7, dtype=np.uint64)


def test_colliding_hashes_never_make_a_duplicate() -> None:
    # GIVEN a key set whose hash sends every key to the same value
    keys = KeySet(4, hash_fn=_constant_hash)
    # WHEN distinct keys arrive in two batches, one of them repeated
    first = keys.add(np.array([b"aaaa", b"bbbb"], dtype="S4"))
    second = keys.add(np.array([b"bbbb", b"cccc", b"dddd"], dtype="S4"))
    # THEN only the real repeat is found; every collision is confirmed against the stored key
    assert first.tolist() == [False, False]
    assert second.tolist() == [True, False, False]
    assert len(keys) == 4


def test_uuids_packed_and_unpacked_forms_agree_with_a_python_set() -> None:
    # GIVEN 40 batches of ids: lower-case UUIDs (packed), upper-case ones and other strings
    # (kept as text), NULLs, repeats within a batch and across batches
    rng = np.random.default_rng(3)
    uuids = [str(uuid.UUID(int=int(rng.integers(0, 2**62)))) for _ in range(3000)]
    pool: list[str | None] = [*uuids, *(u.upper() for u in uuids[:200]), *(f"id-{i}" for i in range(300)), None]
    seen, expected_seen = SeenKeys(), set()
    for _ in range(40):
        batch = [pool[i] for i in rng.integers(0, len(pool), size=400)]
        # WHEN each batch is checked
        got = seen.first_seen(pa.array(batch, pa.string())).tolist()
        # THEN it flags exactly what a Python set would (NULL is never a duplicate)
        expected = []
        for key in batch:
            expected.append(key is not None and key in expected_seen)
            if key is not None:
                expected_seen.add(key)
        assert got == expected
