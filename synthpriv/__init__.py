"""synthpriv: release differentially private synthetic versions of sensitive tables."""

from __future__ import annotations

import pandas as pd

__version__ = "0.1.0"


def read(dataset: str, version: str = "latest") -> pd.DataFrame:
    """A published release as a DataFrame, after checking it against its manifest's hashes.

    Reads the store named by SYNTHPRIV_STORE (a folder, or s3://bucket/prefix).
    """
    from synthpriv.settings import Settings
    from synthpriv.store import open_store

    return open_store(Settings.from_env().store).read(dataset, version)
