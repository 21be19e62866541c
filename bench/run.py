"""`make bench` and `make bench-full`: every figure next to a baseline measured in the same run.

`make bench` (minutes) measures the demo release against smartnoise-synth used as its
README shows, SDV's Gaussian copula and train-on-real as quality references, synthesis
quality per epsilon on Adult and the demo table (bench/synthesis.py), AIM at epsilon 1 on
Adult as the mean of three fits (issue #4's target), PII detection on a
labelled generated corpus and scan speed against presidio-structured (bench/pii.py), the nearest-neighbour
search against brute force, MST training at 100k, 1M and 10M rows against the library's
in-memory fit (bench/train_scale.py), and stage timings at 10k and 100k rows. `make bench-full`
runs every synthesizer at every epsilon on both tables, OpenDP's own dp.mbi on the same tables
(bench/opendp_mbi.py), AIM training at 100k to 10M rows, MWEM and the GANs from 10k rows up
until a size does not finish within `train_scale.TIMEOUT_S` or runs out of memory, and the
1M and 10M row releases. Each writes its own JSON file in
bench/results/; BENCHMARKS.md is regenerated from every result file present, so a quick
run never erases the figures of the last full one.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

import bench
from bench import leakage_speed, opendp_mbi, pii, references, report, sizes, synthesis, train_scale
from synthpriv.fidelity import marginal_error, tstr
from synthpriv.pipeline import run_release
from synthpriv.sample_data import generate_customers
from synthpriv.settings import Settings
from synthpriv.spec import ColumnType, ReleaseSpec, load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "releases" / "demo_customers.yaml"
#: The demo column a consumer would most plausibly predict from the others.
TSTR_TARGET = "segment"


def _ours(workdir: Path) -> dict:
    os.environ["SYNTHPRIV_KEEP_WORKSPACE"] = "1"
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    outcome = run_release(str(SPEC), Settings.from_env(workdir), on_stage=lambda n, _l: marks.append((n, time.perf_counter())))
    total = time.perf_counter() - started
    ends = [t for _, t in marks[1:]] + [started + total]
    stages = {name: round(end - t, 3) for (name, t), end in zip(marks, ends)}
    synthetic = pd.read_parquet(Path(outcome.published["uri"]) / "data.parquet")
    return {"seconds_total": round(total, 2), "seconds_by_stage": stages, "synthetic": synthetic}


def _smartnoise_default(real: pd.DataFrame, spec: ReleaseSpec) -> tuple[pd.DataFrame, float]:
    """smartnoise-synth's convenient path: it infers types and bounds, spending part of epsilon."""
    from snsynth import Synthesizer

    table = real.copy()
    dates = [c.name for c in spec.modelled_columns if c.type is ColumnType.DATE]
    for name in dates:
        table[name] = (pd.to_datetime(table[name]) - pd.Timestamp("1970-01-01")).dt.days.astype(float)
    categorical = [c.name for c in spec.modelled_columns if c.type is ColumnType.CATEGORICAL]
    continuous = [c.name for c in spec.modelled_columns if c.type is not ColumnType.CATEGORICAL]
    for name in continuous:
        table[name] = pd.to_numeric(table[name]).astype(float)
    started = time.perf_counter()
    synth = Synthesizer.create("mst", epsilon=spec.privacy.epsilon)
    synth.fit(table, categorical_columns=categorical, continuous_columns=continuous,
              preprocessor_eps=0.2 * spec.privacy.epsilon, nullable=True)
    out = synth.sample(len(table))
    seconds = time.perf_counter() - started
    for name in dates:
        out[name] = pd.to_datetime(out[name].astype(float), unit="D", errors="coerce").dt.date
    return out, seconds


def _ratio(ours: float, base: float) -> float:
    return round(ours / base, 3) if base else float("nan")


def demo_figures() -> dict:
    """The demo release against its baselines: time, 1-/2-way marginal error, TSTR."""
    spec = load_spec(SPEC)
    real = generate_customers(spec.source.rows or 20_000)[[c.name for c in spec.modelled_columns]]
    test = generate_customers(len(real), seed=8)[real.columns]
    with tempfile.TemporaryDirectory() as tmp:
        ours = _ours(Path(tmp))
    outputs = {"synthpriv": ours["synthetic"]}
    outputs["smartnoise_default"], snsynth_seconds = _smartnoise_default(real, spec)
    outputs["sdv_gaussian_copula"], sdv_seconds = references.sdv_gaussian_copula(real, spec, len(real))
    ours_train = ours["seconds_by_stage"]["train"] + ours["seconds_by_stage"]["sample"]
    figures: dict = {
        "rows": len(real),
        "epsilon": spec.privacy.epsilon,
        "whole_release_seconds": ours["seconds_total"],
        "stage_seconds": ours["seconds_by_stage"],
        "train_and_sample_seconds": {"synthpriv": round(ours_train, 2), "smartnoise_default": round(snsynth_seconds, 2),
                                     "sdv_gaussian_copula": round(sdv_seconds, 2),
                                     "ratio": _ratio(ours_train, snsynth_seconds)},
    }
    for way in (1, 2):
        errors = {name: round(marginal_error(real, out, spec, way), 4) for name, out in outputs.items()}
        figures[f"mean_{way}way_tvd"] = {**errors, "ratio": _ratio(errors["synthpriv"], errors["smartnoise_default"]),
                                         "floor": round(marginal_error(real, test, spec, way), 4)}
    accuracy = {name: tstr(real, test, out, spec, TSTR_TARGET) for name, out in outputs.items()}
    figures["tstr_accuracy"] = {
        **{name: round(a["tstr"], 4) for name, a in accuracy.items()},
        "train_on_real": round(accuracy["synthpriv"]["trtr"], 4),
        "ratio": _ratio(accuracy["synthpriv"]["tstr"], accuracy["smartnoise_default"]["tstr"]),
        "target": TSTR_TARGET,
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="the 1M and 10M row releases only (make bench-full)")
    args = parser.parse_args()
    meta = bench.stamp()
    if args.full:
        results = {**meta, "synthesis": synthesis.run(full=True), "train_scale": train_scale.run(train_scale.FULL),
                   "opendp_mbi": opendp_mbi.run(tables=("adult", "customers")),
                   "sizes": [sizes.measure_in_subprocess(n) for n in sizes.FULL_SIZES]}
        name = "full.json"
    else:
        results = {**meta, "demo": demo_figures(), "nearest_distance_100k": leakage_speed.measure(),
                   "pii": pii.run(), "synthesis": synthesis.run(),
                   "aim_target": synthesis.aim_target(), "train_scale": train_scale.run(train_scale.QUICK),
                   "sizes": [sizes.measure_in_subprocess(n) for n in sizes.QUICK_SIZES]}
        name = "bench.json"
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    (bench.RESULTS / name).write_text(json.dumps(results, indent=2, default=str))
    (ROOT / "BENCHMARKS.md").write_text(report.render(bench.RESULTS))
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
