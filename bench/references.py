"""Quality references a user would otherwise reach for, on the same table in the same run.

* SDV's Gaussian copula (`sdv` 2.x): the usual non-private baseline. It learns bounds and
  category sets from the data and offers no privacy guarantee, so it shows what the DP
  promise costs in fidelity, not a competitor on privacy.
* Train on real, test on real: the ceiling for train-on-synthetic/test-on-real accuracy.

SDV gets the column types from the spec, not its detector, so both sides read the same
columns the same way.
"""

from __future__ import annotations

import time

import pandas as pd

from synthpriv.spec import ColumnType, ReleaseSpec

_SDTYPES = {
    ColumnType.INTEGER: {"sdtype": "numerical"},
    ColumnType.FLOAT: {"sdtype": "numerical"},
    ColumnType.DATE: {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"},
    ColumnType.CATEGORICAL: {"sdtype": "categorical"},
    ColumnType.BOOLEAN: {"sdtype": "boolean"},
}


def sdv_gaussian_copula(real: pd.DataFrame, spec: ReleaseSpec, rows: int) -> tuple[pd.DataFrame, float]:
    """Fit SDV's Gaussian copula on the released columns and draw `rows` rows; return them and the seconds."""
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    columns = {c.name: _SDTYPES[c.type] for c in spec.modelled_columns}
    metadata = Metadata.load_from_dict({"tables": {"table": {"columns": columns}}})
    started = time.perf_counter()
    synthesizer = GaussianCopulaSynthesizer(metadata)
    synthesizer.fit({"table": real[list(columns)]})
    out = synthesizer.sample(rows)
    return (out["table"] if isinstance(out, dict) else out), time.perf_counter() - started
