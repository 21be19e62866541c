"""Synthesis quality per epsilon: ours (AIM, MST) against smartnoise-synth used as its README shows.

Two tables: the pre-discretised Adult used by the AIM and MST papers (`../shared/data/adult-pgm`,
its domain file taken as public metadata) and our 20,000-row sample customer table. For each
epsilon and synthesizer it reports, measured in the same run:

* the mean total-variation distance of every 1-way and 2-way marginal (on the public codes),
* train-on-synthetic / test-on-real accuracy of a gradient-boosted classifier, next to
  train-on-real (Adult's target is `income>50K`; the customer table's is `segment`),
* training time (wall and process CPU: the CPU figure holds on a shared machine) and sampling time.

Ours trains on codes over the declared domain (fully DP). The baseline is smartnoise-synth's
`Synthesizer.create(name, epsilon=...)` then `fit(table, ...)` on the raw table, with its own
preprocessing and the same total epsilon: it learns category sets from the data for free,
so it is not end-to-end DP. Our AIM focuses its workload on the target, as it does in a release
whose quality gate names one; the baseline's AIM keeps the library's all-pairs workload. AIM is slow: by default it runs on the customer table at epsilon 1
only, and MST runs at every epsilon on Adult and at 1 on the customer table (see
`configurations`); `--full` (or `run(full=True)`) runs both at every epsilon on both tables.
`aim_target` measures the one figure issue #4 sets a target for, AIM at epsilon 1 on Adult,
as the mean of several fits.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

import bench
from synthpriv import synthesizers
from synthpriv.domain import TableCodec
from synthpriv.sample_data import generate_customers
from synthpriv.spec import ColumnType, load_spec

ROOT = Path(__file__).resolve().parent.parent
ADULT = ROOT.parent / "shared" / "data" / "adult-pgm"
SPEC = ROOT / "releases" / "demo_customers.yaml"
DELTA = 1e-9
SPLIT_SEED = 0  # the train/test split is benchmark bookkeeping, not a privacy mechanism


class Table:
    """A benchmark table as integer codes over a public domain, split into train and test."""

    def __init__(self, name: str, codes: pd.DataFrame, sizes: list[int], target: str,
                 baseline_input: pd.DataFrame, to_codes: Callable[[pd.DataFrame], pd.DataFrame],
                 ordinal: frozenset[str] = frozenset(), ordered_codes: list[int] | None = None) -> None:
        test = np.random.default_rng(SPLIT_SEED).random(len(codes)) < 0.2
        self.name, self.sizes, self.target = name, sizes, target
        self.ordinal = ordinal  # columns whose codes are ordered bins of a number or date
        # per column, how many leading codes are those bins (what `Synthesizer.fit` takes as `ordered`)
        self.ordered_codes = ordered_codes or [k if c in ordinal else 0 for c, k in zip(codes.columns, sizes)]
        self.train, self.test = codes[~test].reset_index(drop=True), codes[test].reset_index(drop=True)
        self.baseline_train = baseline_input[~test].reset_index(drop=True)
        self.to_codes = to_codes  # maps the baseline's decoded output onto the same public codes


#: Adult's attributes that are numbers in the UCI data; adult-pgm holds them as ordered bins.
ADULT_NUMERIC = frozenset({"age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"})


def adult() -> Table:
    domain = json.loads((ADULT / "adult-domain.json").read_text())
    codes = pd.read_csv(ADULT / "adult.csv")[list(domain)]
    return Table("adult", codes, list(domain.values()), "income>50K", codes,
                 lambda out: out[list(domain)].astype(np.int64).clip(0, np.array(list(domain.values())) - 1),
                 ADULT_NUMERIC)


def customers() -> Table:
    spec = load_spec(SPEC)
    columns = spec.modelled_columns
    codec = TableCodec.from_columns(columns)
    real = generate_customers(spec.source.rows or 20_000)[[c.name for c in columns]]
    codes, _ = codec.encode(real)
    raw = real.copy()
    for c in columns:
        if c.type is ColumnType.DATE:
            raw[c.name] = (pd.to_datetime(raw[c.name]) - pd.Timestamp("1970-01-01")).dt.days.astype(float)
        elif c.type in (ColumnType.INTEGER, ColumnType.FLOAT):
            raw[c.name] = pd.to_numeric(raw[c.name]).astype(float)

    def to_codes(out: pd.DataFrame) -> pd.DataFrame:
        out = out.copy()
        for c in columns:
            if c.type is ColumnType.DATE:
                out[c.name] = pd.to_datetime(pd.to_numeric(out[c.name], errors="coerce"), unit="D", errors="coerce")
        return codec.encode(out[[c.name for c in columns]])[0]

    ordinal = frozenset(c.name for c in columns if c.type in (ColumnType.INTEGER, ColumnType.FLOAT, ColumnType.DATE))
    return Table("customers", codes, codec.cardinalities, "segment", raw, to_codes, ordinal, codec.ordered_codes)


def marginal_tvd(real: pd.DataFrame, synth: pd.DataFrame, sizes: list[int], way: int) -> float:
    """Mean total-variation distance over every `way`-column marginal of two coded tables."""
    errors = []
    for combo in itertools.combinations(range(len(sizes)), way):
        dims = [sizes[i] for i in combo]
        cells = int(np.prod(dims))
        flat = [np.ravel_multi_index(tuple(t.iloc[:, i].to_numpy() for i in combo), dims) for t in (real, synth)]
        p, q = (np.bincount(f, minlength=cells) / len(f) for f in flat)
        errors.append(0.5 * np.abs(p - q).sum())
    return float(np.mean(errors))


def accuracy(train: pd.DataFrame, test: pd.DataFrame, target: str, ordinal: frozenset[str] = frozenset()) -> float:
    """Accuracy on `test` of a gradient-boosted classifier trained on `train`.

    As in the quality gate's TSTR (`synthpriv.fidelity.tstr`), binned numbers stay ordered
    and only categories are declared categorical: treating 85 age bins as unordered
    categories lets the trees split on noise in sparse bins, which costs the synthetic
    side more than the real one. Codes of 255 or more are numeric to the trees regardless.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    features = [c for c in train.columns if c != target]
    y = train[target].to_numpy()
    if len(np.unique(y)) < 2:
        return float((test[target].to_numpy() == y[0]).mean())
    categorical = [c not in ordinal and train[c].max() < 255 and test[c].max() < 255 for c in features]
    model = HistGradientBoostingClassifier(categorical_features=np.array(categorical), random_state=0)
    with threadpool_limits(limits=1):
        model.fit(train[features].to_numpy(), y)
        return float(model.score(test[features].to_numpy(), test[target].to_numpy()))


def _ours(table: Table, name: str, epsilon: float) -> tuple[pd.DataFrame, float, float, float]:
    """As a release whose quality gate names the table's target: AIM focuses its workload there."""
    model = synthesizers.create(name, epsilon, DELTA, {"focus": table.target} if name == "aim" else None)
    started, cpu = time.perf_counter(), time.process_time()
    model.fit(table.train, table.sizes, table.ordered_codes)
    fitted, fit_cpu = time.perf_counter(), time.process_time() - cpu
    out = model.sample(len(table.train))
    return out, fitted - started, fit_cpu, time.perf_counter() - fitted


def _smartnoise(table: Table, name: str, epsilon: float) -> tuple[pd.DataFrame, float, float, float]:
    """smartnoise-synth's README path: create by name, fit on the raw table, its own preprocessing."""
    from snsynth import Synthesizer

    data = table.baseline_train
    categorical = [c for c in data.columns if not pd.api.types.is_float_dtype(data[c])]
    continuous = [c for c in data.columns if c not in categorical]
    synth = Synthesizer.create(name, epsilon=epsilon, delta=DELTA)
    started, cpu = time.perf_counter(), time.process_time()
    synth.fit(data, categorical_columns=categorical, continuous_columns=continuous,
              preprocessor_eps=0.1 * epsilon if continuous else 0.0, nullable=bool(continuous))
    fitted, fit_cpu = time.perf_counter(), time.process_time() - cpu
    out = synth.sample(len(data))
    return (table.to_codes(pd.DataFrame(out, columns=data.columns)), fitted - started, fit_cpu,
            time.perf_counter() - fitted)


def _measure(table: Table, synth: pd.DataFrame, fit_s: float, fit_cpu_s: float, sample_s: float) -> dict:
    return {
        "tvd_1way": round(marginal_tvd(table.test, synth, table.sizes, 1), 4),
        "tvd_2way": round(marginal_tvd(table.test, synth, table.sizes, 2), 4),
        "tstr_accuracy": round(accuracy(synth, table.test, table.target, table.ordinal), 4),
        "fit_seconds": round(fit_s, 1),
        "fit_cpu_seconds": round(fit_cpu_s, 1),  # robust to other load on a shared machine
        "sample_seconds": round(sample_s, 1),
    }


def configurations(table: str, epsilons: tuple[float, ...], full: bool) -> list[tuple[str, float]]:
    """What runs where. `full`: MST and AIM at every epsilon on every table.

    The default stays within about ten minutes on 2 cores: MST at every epsilon on Adult
    (about 75 s of CPU per fit here, the baseline about 45 s), and MST and AIM at epsilon 1
    (or the nearest asked for) on the customer table. AIM on Adult took more than 4.7 CPU
    minutes per fit here, so it runs only with `full`.
    """
    if full:
        return [(name, e) for name in ("mst", "aim") for e in epsilons]
    if table == "adult":
        return [("mst", e) for e in epsilons]
    one = min(epsilons, key=lambda e: abs(e - 1.0))
    return [("mst", one), ("aim", one)]


def run(epsilons: tuple[float, ...] = (0.3, 1.0, 3.0), full: bool = False,
        tables: tuple[str, ...] = ("adult", "customers")) -> dict:
    """Measure every configuration on every table; returns a JSON-able dict."""
    results: dict = {**bench.stamp(), "delta": DELTA, "epsilons": list(epsilons), "full": full, "tables": {}}
    for table in (adult() if t == "adult" else customers() for t in tables):
        # no synthesizer can be expected to beat the real training rows themselves
        real_floor = {f"tvd_{w}way": round(marginal_tvd(table.test, table.train, table.sizes, w), 4) for w in (1, 2)}
        entry = {"rows_train": len(table.train), "rows_test": len(table.test), "target": table.target,
                 "train_on_real_accuracy": round(accuracy(table.train, table.test, table.target, table.ordinal), 4),
                 "sampling_floor": real_floor, "runs": []}
        for name, eps in configurations(table.name, tuple(epsilons), full):
            row = {"synthesizer": name, "epsilon": eps}
            for who, fn in (("synthpriv", _ours), ("smartnoise_readme", _smartnoise)):
                try:
                    row[who] = _measure(table, *fn(table, name, eps))
                except Exception as exc:  # noqa: BLE001 - a failed baseline is a result, not a crash
                    row[who] = {"error": type(exc).__name__}
            entry["runs"].append(row)
            print(json.dumps({"table": table.name, **row}), flush=True)
        results["tables"][table.name] = entry
    return results


def _aim_on_adult(who: str, epsilon: float) -> dict:
    """One fit of AIM on Adult, measured; a top-level function so a worker process can run it."""
    table = adult()
    try:
        return _measure(table, *(_ours if who == "synthpriv" else _smartnoise)(table, "aim", epsilon))
    except Exception as exc:  # noqa: BLE001 - a failed baseline is a result, not a crash
        return {"error": type(exc).__name__}


def aim_target(repeats: int = 10, epsilon: float = 1.0, workers: int = 2) -> dict:
    """Issue #4's target: AIM at `epsilon` on Adult within 1.5 accuracy points of train-on-real.

    One fit's TSTR moves by about half a point between runs (fresh DP noise, a fresh sample),
    as much as the effects being measured, so the figure is the mean of `repeats` fits, each
    reported, with the mean's standard error, next to one fit of smartnoise-synth's AIM used
    as its README shows. Workers are spawned, not forked: JAX is multithreaded once imported.
    """
    table = adult()
    jobs = ["smartnoise_readme"] + ["synthpriv"] * repeats  # the slowest first
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        measured = list(pool.map(_aim_on_adult, jobs, [epsilon] * len(jobs)))
    baseline, runs = measured[0], measured[1:]
    real = accuracy(table.train, table.test, table.target, table.ordinal)
    ok = [r["tstr_accuracy"] for r in runs if "error" not in r]
    mean = float(np.mean(ok)) if ok else float("nan")
    spread = float(np.std(ok, ddof=1) / np.sqrt(len(ok))) if len(ok) > 1 else float("nan")
    result = {**bench.stamp(), "table": table.name, "epsilon": epsilon, "delta": DELTA,
              "train_on_real_accuracy": round(real, 4),
              "runs": runs, "smartnoise_readme": baseline, "mean_tstr_accuracy": round(mean, 4),
              "gap_points": round(100 * (real - mean), 2), "standard_error_points": round(100 * spread, 2),
              "target_gap_points": 1.5}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="MST and AIM at every epsilon on every table (slow)")
    parser.add_argument("--tables", default="adult,customers")
    parser.add_argument("--aim-target", action="store_true", help="AIM at epsilon 1 on Adult only (issue #4's target)")
    parser.add_argument("--record", action="store_true",
                        help="put the section into bench.json (full.json with --full) and regenerate BENCHMARKS.md")
    args = parser.parse_args()
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    if args.aim_target:
        key, section = "aim_target", aim_target()
    else:
        key, section = "synthesis", run(full=args.full, tables=tuple(args.tables.split(",")))
    if args.record:
        from bench import report

        report.record(bench.RESULTS, "full.json" if args.full else "bench.json", key, section)
    else:
        (bench.RESULTS / f"{key}.json").write_text(json.dumps(section, indent=2))


if __name__ == "__main__":
    main()
