"""Synthesizer stand-ins the privacy gates are tested against: noisy copies and an honest generator."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthpriv.sample_data import generate_customers


def jittered(copies: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    """Copies with every number and date moved by about 1% of its range; categories kept."""
    rng = np.random.default_rng(seed)
    out, rows = copies.copy(), len(copies)
    out["income"] = (out["income"] + rng.normal(0, 4_000, rows)).clip(0, 400_000)
    out["credit_score"] = (out["credit_score"] + rng.normal(0, 5, rows)).round().clip(300, 850)
    for col in ("birth_date", "signup_date"):
        days = pd.to_timedelta(rng.normal(0, 40, rows).round(), unit="D")
        out[col] = (pd.to_datetime(out[col]) + days).dt.strftime("%Y-%m-%d")
    return out


def honest(rows: int, released: list[str]) -> pd.DataFrame:
    """A generator that never saw the training rows: fresh rows from the same process."""
    out = generate_customers(rows, seed=11)[released]
    out["income"] = out["income"].clip(0, 400_000)
    return out
