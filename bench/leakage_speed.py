"""Time the exact nearest-neighbour search behind the leakage metrics against plain brute force.

Two independent demo tables of `rows` rows each (released columns only), k = 2 as `nndr`
needs; encoding is timed apart from the search. The baseline is a straightforward tiled
numpy Gower search, timed on `baseline_rows` query rows and scaled linearly (its cost is
exactly linear in query rows). `python -m bench.leakage_speed` runs it alone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from synthpriv.gates.leakage import _NULL, Encoded, encode, nearest_distances
from synthpriv.sample_data import generate_customers
from synthpriv.spec import load_spec

SPEC = Path(__file__).resolve().parent.parent / "synthpriv" / "specs" / "demo_customers.yaml"


def brute_force(query: Encoded, reference: Encoded, block: int = 256) -> np.ndarray:
    """Nearest Gower distance per query row, every pair computed."""
    out = np.empty(len(query), np.float32)
    for start in range(0, len(query), block):
        qn, qc = query.numeric[:, start:start + block, None], query.codes[:, start:start + block, None]
        d = np.zeros((qn.shape[1], len(reference)), np.float32)
        for x, col in zip(qn, reference.numeric):
            diff = np.abs(x - col)
            if (x == _NULL).any() or (col == _NULL).any():
                np.minimum(diff, 1, out=diff)
            d += diff
        for c, col in zip(qc, reference.codes):
            d += c != col
        out[start:start + block] = d.min(axis=1)
    return out / len(query.columns)


def measure(rows: int = 100_000, baseline_rows: int = 2_000) -> dict:
    spec = load_spec(SPEC)
    released = [c.name for c in spec.modelled_columns]
    query, reference = (generate_customers(rows, seed=s)[released] for s in (1, 2))
    started = time.perf_counter()
    q, r = encode(query, spec), encode(reference, spec)
    encoded = time.perf_counter()
    ours = nearest_distances(q, r, k=2)
    searched = time.perf_counter()
    head = q.take(np.arange(baseline_rows))
    base = brute_force(head, r)
    brute = (time.perf_counter() - searched) * rows / baseline_rows
    assert np.allclose(base, ours[:baseline_rows, 0], atol=1e-5), "the two searches disagree"
    return {"rows": rows, "seconds_encode": round(encoded - started, 3),
            "seconds_nearest": round(searched - encoded, 3), "seconds_brute_force": round(brute, 2),
            "ratio": round((searched - encoded) / brute, 4)}


if __name__ == "__main__":
    print(json.dumps(measure()))
