"""OpenDP's own end-to-end DP contingency table (`dp.mbi`), run as a benchmark reference.

This script runs in the separate `.venv-opendp-mbi` (see `bench/opendp_mbi_env.sh`): OpenDP
0.14.2's `dp.mbi` needs mbi 1.0.0 and polars 1.32.0, while our environment needs mbi 1.1 for
smartnoise-synth, so it imports only opendp, polars, numpy, pandas and pyarrow, never synthpriv.

It reads integer-coded training rows from a parquet file and a JSON domain
`{column: cardinality}`, releases `dp.mbi.make_contingency_table` (AIM or MST) over a Polars
LazyFrame of those rows (in memory: OpenDP's Polars build deserialises CSV scans and
in-memory frames, not parquet scans) with every column's keys declared as public metadata
(so no budget goes to key discovery and nothing about the keys is learnt from the data),
samples rows from it and writes them to a parquet file. One JSON line on stdout carries the timings and the privacy
loss OpenDP itself reports for the whole measurement. Rows never go to stdout or stderr.

Privacy: the table runs under zero-concentrated DP at the largest rho that OpenDP's
zCDP-to-(epsilon, delta) conversion maps to at most the requested epsilon at the requested
delta (the conversion our own MST and AIM use), and the measurement actually invoked is that
conversion applied to the table, so its declared (epsilon, delta) is checked before any data
is read. The privacy unit is one added or removed row. Only the "contrib" feature is needed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy
import opendp.prelude as dp
import polars as pl

dp.enable_features("contrib")

PRIVACY_UNIT = 1  # symmetric distance: one row added or removed
PACKAGES = ("opendp", "mbi", "jax", "polars", "numpy", "pandas")

# mbi 1.0.0's sampler warns on every column about a pandas 3 change the pinned pandas 2 does
# not have; silenced so that stderr keeps only what explains a failure.
warnings.filterwarnings("ignore", category=FutureWarning, module="mbi")


def rho_for(epsilon: float, delta: float) -> float:
    """The largest zCDP rho that OpenDP converts to at most (epsilon, delta)-DP."""

    def epsilon_at(rho: float) -> float:
        proxy = dp.m.make_gaussian(dp.atom_domain(T=int), dp.absolute_distance(T=int), math.sqrt(1 / (2 * rho)))
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(proxy), delta=delta).map(1)[0]

    return dp.binary_search(lambda rho: epsilon_at(rho) <= epsilon, bounds=(1e-9, 1e3), T=float)


def below(x: float) -> float:
    """The next float below `x`."""
    return float(numpy.nextafter(x, -numpy.inf))


def _composed(d_mids: list[float]) -> float:
    """What OpenDP's adaptive composition declares for `d_mids` under zCDP (it rounds sums up)."""
    m = dp.c.make_adaptive_composition(dp.vector_domain(dp.atom_domain(T=int)), dp.symmetric_distance(),
                                       dp.zero_concentrated_divergence(), d_in=1, d_mids=d_mids)
    return m.map(1)


def mst_rho(rho: float, columns: int, max_steps: int = 100_000) -> float:
    """The largest rho at most `rho` at which OpenDP 0.14.2's MST does not refuse its own selection step.

    MST (`opendp/extras/mbi/_mst`) splits its selection budget `d` into `columns - 1` equal
    parts `prior(d / k)`, but their composition, summed with upward rounding, can exceed `d`
    by a few ulps; the release then stops with "insufficient budget for query" (opendp/opendp
    issue 2789). Whether it does depends only on rho and the column count, not on the data,
    so the rho is lowered by a few ulps here, before the data is read, until the same
    arithmetic (the one-way split of `make_contingency_table`, MST's default 0.9 measure
    split) passes. A lower rho only spends less.
    """
    for _ in range(max_steps):
        multiway = below(below(rho - rho * 0.5))
        select = below(below(multiway - multiway * 0.9))
        parts = columns - 1
        if parts < 1 or _composed([below(select / parts)] * parts) <= select:
            return rho
        rho = below(rho)
    raise RuntimeError("no rho below the requested one passes OpenDP MST's budget split")


def algorithm_of(name: str, aim_degree: int) -> dp.mbi.Algorithm:
    """OpenDP's AIM (over every `aim_degree`-way marginal) or MST, otherwise at their defaults."""
    if name == "aim":
        return dp.mbi.AIM(queries=aim_degree)
    if name == "mst":
        return dp.mbi.MST()
    raise ValueError(f"unknown algorithm {name!r}: expected aim or mst")


def make_release(data: pl.LazyFrame, domain: dict[str, int], algorithm: dp.mbi.Algorithm,
                 epsilon: float, delta: float) -> tuple[dp.Measurement, float]:
    """The whole (epsilon, delta)-DP measurement from a LazyFrame to a ContingencyTable, and its rho.

    Keys 0..cardinality-1 of every column are declared, so OpenDP spends nothing on one-way
    key discovery; it still adds a null key per column for values outside the declared set.
    """
    rho = rho_for(epsilon, delta)
    if isinstance(algorithm, dp.mbi.MST):
        rho = mst_rho(rho, len(domain))
    t_plan = dp.t.make_stable_lazyframe(dp.domain_of(data, infer=True), dp.symmetric_distance(),
                                        lazyframe=data, MO="FrameDistance<SymmetricDistance>")
    m_table, _, _ = dp.mbi.make_contingency_table(
        t_plan.output_domain, t_plan.output_metric, dp.zero_concentrated_divergence(),
        d_in=t_plan.map(PRIVACY_UNIT), d_out=rho,
        keys={column: list(range(size)) for column, size in domain.items()},
        algorithm=algorithm)
    release = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(t_plan >> m_table), delta=delta)
    spent_epsilon, spent_delta = release.map(PRIVACY_UNIT)
    if spent_epsilon > epsilon or spent_delta > delta:
        raise RuntimeError(f"OpenDP declares ({spent_epsilon}, {spent_delta}), over the requested ({epsilon}, {delta})")
    return release, rho


def run(train: Path, domain: dict[str, int], algorithm: str, epsilon: float, delta: float,
        rows: int, output: Path, method: str = "sample", aim_degree: int = 2) -> dict:
    """Fit, sample `rows` rows to `output`, and return timings and the declared privacy loss."""
    data = pl.read_parquet(train, columns=list(domain)).lazy()
    started, cpu = time.perf_counter(), time.process_time()
    release, rho = make_release(data, domain, algorithm_of(algorithm, aim_degree), epsilon, delta)
    table = release(data)
    fitted, fit_cpu = time.perf_counter(), time.process_time() - cpu
    synthetic = table.synthesize(rows, method=method)
    sampled = time.perf_counter()
    synthetic.select(list(domain)).write_parquet(output)
    spent_epsilon, spent_delta = release.map(PRIVACY_UNIT)
    widths = [len(clique) for clique in table.marginals]
    return {"algorithm": algorithm, "method": method, "rho": rho,
            "epsilon_declared": spent_epsilon, "delta_declared": spent_delta,
            "fit_seconds": fitted - started, "fit_cpu_seconds": fit_cpu, "sample_seconds": sampled - fitted,
            "marginals_measured": {f"{k}-way": widths.count(k) for k in sorted(set(widths))},
            "rows": synthetic.height, "null_rows": synthetic.height - synthetic.drop_nulls().height,
            "versions": {name: version(name) for name in PACKAGES}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True, help="parquet of integer-coded training rows")
    parser.add_argument("--domain", type=Path, required=True, help="JSON {column: cardinality}")
    parser.add_argument("--algorithm", choices=("aim", "mst"), required=True)
    parser.add_argument("--epsilon", type=float, required=True)
    parser.add_argument("--delta", type=float, required=True)
    parser.add_argument("--rows", type=int, required=True, help="rows to sample")
    parser.add_argument("--output", type=Path, required=True, help="parquet of sampled codes")
    parser.add_argument("--method", choices=("sample", "round"), default="sample",
                        help="mbi's sampler: i.i.d. draws (as ours) or its default rounding")
    parser.add_argument("--aim-degree", type=int, default=2, help="AIM's workload: every k-way marginal")
    args = parser.parse_args(argv)
    domain = {str(k): int(v) for k, v in json.loads(args.domain.read_text()).items()}
    result = run(args.train, domain, args.algorithm, args.epsilon, args.delta, args.rows, args.output,
                 args.method, args.aim_degree)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
