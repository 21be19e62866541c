"""OpenDP's own end-to-end DP route (`dp.mbi`, AIM and MST) as a reference next to ours (issue #4).

OpenDP 0.14.2 releases a contingency table over a Polars LazyFrame with `dp.mbi` and samples
rows from it. It needs mbi 1.0.0 and polars 1.32.0, which cannot share our environment (we
need mbi 1.1 for smartnoise-synth), so it runs in `.venv-opendp-mbi`, set up by
`bench/opendp_mbi_env.sh`, through `bench/opendp_mbi_worker.py` in a subprocess.

Each (table, algorithm, epsilon) is measured on the same tables, train/test split and metrics
as `bench/synthesis.py` (1-way and 2-way marginal TVD on the test rows, train-on-synthetic
accuracy), at the same (epsilon, delta). Every column's codes are declared to OpenDP as public
keys, so it is end-to-end DP like ours. OpenDP adds a null key to every column for values
outside the declared set; the rows it samples there lie outside the declared domain and are
dropped before measuring, their share reported as `null_row_share`. A run that fails or
passes its time limit is reported as `{"error": ...}`, not raised.

`marginals_measured` counts the cliques each fit measured. OpenDP 0.14.2's AIM penalises a
candidate by the noise of its *selection* step, scaled by the workload weights, instead of
the noise of the measurement that follows (opendp/opendp PR 2906, not released): on these
tables every penalty exceeds any possible error, so it measures one-way marginals only and
its figures reflect that, not AIM as published.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

import bench
from bench.synthesis import DELTA, Table, accuracy, adult, customers, marginal_tvd
from synthpriv import accounting

ROOT = Path(__file__).resolve().parent.parent
ENV_SCRIPT = ROOT / "bench" / "opendp_mbi_env.sh"
WORKER = ROOT / "bench" / "opendp_mbi_worker.py"
TIMEOUT_SECONDS = 15 * 60  # AIM on Adult may run longer; the time-out is then the result
METHOD = "sample"  # i.i.d. draws, as our MST and AIM sample (mbi's "round" couples sibling columns)
AIM_DEGREE = 2  # AIM's workload: every 2-way marginal, as smartnoise-synth's and ours
TABLES = {"adult": adult, "customers": customers}


def ensure_environment() -> Path:
    """Create or check the separate venv and return its python; raises if it cannot be set up."""
    done = subprocess.run(["bash", str(ENV_SCRIPT)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"bench/opendp_mbi_env.sh failed: {last}")
    return Path(done.stdout.strip().splitlines()[-1])


def worker_command(python: Path, workdir: Path, algorithm: str, epsilon: float, delta: float,
                   rows: int) -> list[str]:
    """The worker's command line over the inputs `write_inputs` put in `workdir`."""
    return [str(python), str(WORKER), "--train", str(workdir / "train.parquet"),
            "--domain", str(workdir / "domain.json"), "--algorithm", algorithm,
            "--epsilon", repr(epsilon), "--delta", repr(delta), "--rows", str(rows),
            "--output", str(workdir / f"{algorithm}-{epsilon}.parquet"),
            "--method", METHOD, "--aim-degree", str(AIM_DEGREE)]


def write_inputs(table: Table, workdir: Path) -> None:
    """The training codes and the declared domain {column: cardinality}, as the worker reads them."""
    table.train.to_parquet(workdir / "train.parquet", index=False)
    domain = dict(zip(table.train.columns, table.sizes))
    (workdir / "domain.json").write_text(json.dumps({str(k): int(v) for k, v in domain.items()}))


def failure_reason(stderr: str) -> str:
    """The exception type that ended the worker, never its message (it could quote data)."""
    for line in reversed(stderr.strip().splitlines()):
        found = re.match(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit))\b", line)
        if found:
            return found.group(1).rsplit(".", 1)[-1]
    return "worker failed without a traceback"


def measure(table: Table, synth: pd.DataFrame, stats: dict) -> dict:
    """Fidelity, utility and cost of one run, shaped as `bench/synthesis.py` reports ours."""
    inside = synth.dropna().astype("int64").reset_index(drop=True)
    if inside.empty:
        return {"error": "every sampled row fell outside the declared domain"}
    return {
        "tvd_1way": round(marginal_tvd(table.test, inside, table.sizes, 1), 4),
        "tvd_2way": round(marginal_tvd(table.test, inside, table.sizes, 2), 4),
        "tstr_accuracy": round(accuracy(inside, table.test, table.target, table.ordinal), 4),
        "fit_seconds": round(stats["fit_seconds"], 1),
        "fit_cpu_seconds": round(stats["fit_cpu_seconds"], 1),
        "sample_seconds": round(stats["sample_seconds"], 1),
        "null_row_share": round(1 - len(inside) / len(synth), 4),
        "epsilon_declared": stats["epsilon_declared"],
        "rho": stats["rho"],
        "marginals_measured": stats["marginals_measured"],
    }


def run_one(table: Table, python: Path, workdir: Path, algorithm: str, epsilon: float,
            timeout: float = TIMEOUT_SECONDS) -> tuple[dict, dict]:
    """One worker run on inputs already in `workdir`: (the measured row, the versions it ran with)."""
    command = worker_command(python, workdir, algorithm, epsilon, DELTA, len(table.train))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}, {}
    if done.returncode != 0:
        return {"error": failure_reason(done.stderr)}, {}
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    synth = pd.read_parquet(command[command.index("--output") + 1])[list(table.train.columns)]
    return measure(table, synth, stats), stats["versions"]


def run(epsilons: tuple[float, ...] = (0.3, 1.0, 3.0), algorithms: tuple[str, ...] = ("mst", "aim"),
        tables: tuple[str, ...] = ("adult",), timeout: float = TIMEOUT_SECONDS) -> dict:
    """Run OpenDP's dp.mbi for every (table, algorithm, epsilon); returns a JSON-able dict."""
    results: dict = {"delta": DELTA, "epsilons": list(epsilons), "algorithms": list(algorithms),
                     "method": METHOD, "aim_degree": AIM_DEGREE, "timeout_seconds": timeout,
                     "rho_synthpriv": {str(e): accounting.rho_for(e, DELTA) for e in epsilons},
                     "versions": {}, "tables": {}}
    python: Path | None = None
    try:
        python = ensure_environment()
    except RuntimeError as exc:
        setup_failure = str(exc)
    for name in tables:
        table = TABLES[name]()
        entry = {"rows_train": len(table.train), "rows_test": len(table.test), "target": table.target,
                 "train_on_real_accuracy": round(accuracy(table.train, table.test, table.target, table.ordinal), 4),
                 "sampling_floor": {f"tvd_{w}way": round(marginal_tvd(table.test, table.train, table.sizes, w), 4)
                                    for w in (1, 2)},
                 "runs": []}
        with tempfile.TemporaryDirectory(prefix="opendp-mbi-") as tmp:
            workdir = Path(tmp)
            write_inputs(table, workdir)
            for algorithm in algorithms:
                for epsilon in epsilons:
                    if python is None:
                        measured = {"error": setup_failure}
                    else:
                        measured, versions = run_one(table, python, workdir, algorithm, epsilon, timeout)
                        results["versions"] = results["versions"] or versions
                    row = {"synthesizer": algorithm, "epsilon": epsilon, "opendp_mbi": measured}
                    entry["runs"].append(row)
                    print(json.dumps({"table": name, **row}), flush=True)
        results["tables"][name] = entry
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="MST and AIM at epsilon 1 on Adult only")
    parser.add_argument("--tables", default="adult", help="comma-separated: adult,customers")
    args = parser.parse_args()
    if args.quick:
        results = run(epsilons=(1.0,), tables=("adult",))
    else:
        results = run(tables=tuple(args.tables.split(",")))
    results["quick"] = args.quick
    results["date"] = dt.date.today().isoformat()
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    (bench.RESULTS / "opendp_mbi.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
