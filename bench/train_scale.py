"""Training time and peak memory by table size: streamed marginals against the library's in-memory path.

The table is 15 coded columns: Adult's 14 (`../shared/data/adult-pgm`, drawn with
replacement up to the size asked for) and an age band that follows age with some noise,
written to parquet in batches, as the train stage writes its codes. Each measurement runs
in a fresh Python process (`python -m bench.train_scale WHO NAME ROWS PATH`), so its
peak resident memory (the kernel's high-water mark, imports included) is its own:

* `synthpriv`: `Synthesizer.fit` on `pl.scan_parquet(path)`, the train stage's path: MST
  and AIM read the rows only as marginal counts from Polars' streaming engine.
* `smartnoise_in_memory`: the same mechanism through smartnoise-synth's own `fit` on the
  table loaded as a numpy array (declared codes, no inference), the path a user of the
  library takes. It is run only up to `BASELINE_MAX_ROWS`: the library turns every row
  into a Python tuple, which at 10M rows would not fit this machine.

Sampling the same number of rows, in batches of a million as the sample stage does, is
timed too.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import bench

ROOT = Path(__file__).resolve().parent.parent
ADULT = ROOT.parent / "shared" / "data" / "adult-pgm"
#: AIM, the default, is measured at 10M rows (issue #4's "under 4 GiB" size, about 15 minutes, no
#: baseline); its 100k and 1M fits go with the full plan, where the library's in-memory AIM they are
#: compared with takes 23 CPU minutes at 100k and more than the half-hour limit at 1M.
QUICK = {"mst": (100_000, 1_000_000, 10_000_000), "aim": (10_000_000,)}
LADDER = (10_000, 100_000, 1_000_000, 10_000_000)
#: MWEM and the GANs hold the rows and take minutes at 10,000 rows already (see BENCHMARKS.md): each
#: climbs the ladder until one size runs out of time or memory (see `run`).
FULL = {"aim": LADDER[1:3], "mwem": LADDER, "dpctgan": LADDER, "patectgan": LADDER}
#: The synthesizers that read the data only as marginal counts, and so can stream.
MARGINAL = frozenset({"mst", "aim"})
#: PATECTGAN refuses to run until its data-dependent accounting is accepted (docs/synthesis.md).
OPTIONS: dict[str, dict[str, object]] = {"patectgan": {"accept_data_dependent_accounting": True}}
BASELINE_MAX_ROWS = 1_000_000
#: A fit is stopped after half an hour: the library's in-memory AIM at 100k rows needs about
#: 1,400 CPU s, and MWEM does not finish 10k rows in that time.
TIMEOUT_S = 1800.0
EPSILON, DELTA = 1.0, 1e-9
_BATCH = 1_000_000  # rows of the benchmark table written to parquet at a time
_AGE_BANDS = 9


def sizes() -> list[int]:
    """The 15 columns' cardinalities: Adult's declared domain plus the age band."""
    domain = json.loads((ADULT / "adult-domain.json").read_text())
    return [*domain.values(), _AGE_BANDS]


def ordered() -> list[int]:
    """Per column, its ordered codes (what `Synthesizer.fit` takes): Adult's numeric attributes'
    bins and the age band, as a release declaring them numbers would give AIM."""
    from bench.synthesis import ADULT_NUMERIC

    domain = json.loads((ADULT / "adult-domain.json").read_text())
    return [k if name in ADULT_NUMERIC else 0 for name, k in domain.items()] + [_AGE_BANDS]


def write_table(rows: int, path: Path, seed: int = 0) -> None:
    """`rows` rows drawn with replacement from Adult, plus the age band, as uint8 parquet in batches."""
    import pandas as pd

    domain = json.loads((ADULT / "adult-domain.json").read_text())
    adult = pd.read_csv(ADULT / "adult.csv")[list(domain)].to_numpy(dtype=np.uint8)
    names = [*domain, "age-band"]
    schema = pa.schema([(n, pa.uint8()) for n in names])
    rng = np.random.default_rng(seed)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, _BATCH):
            n = min(_BATCH, rows - start)
            block = adult[rng.integers(len(adult), size=n)]
            band = np.minimum(block[:, 0] // 10 + (rng.random(n) < 0.1), _AGE_BANDS - 1).astype(np.uint8)
            arrays = [pa.array(block[:, i]) for i in range(block.shape[1])] + [pa.array(band)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


def _fit_ours(name: str, path: Path) -> object:
    import polars as pl

    from synthpriv import synthesizers

    model = synthesizers.create(name, EPSILON, DELTA, OPTIONS.get(name))
    model.fit(pl.scan_parquet(path), sizes(), ordered())
    return model


def _fit_library(name: str, path: Path) -> None:
    from snsynth.aim import AIMSynthesizer
    from snsynth.mst import MSTSynthesizer
    from snsynth.transform.table import TableTransformer

    from synthpriv.synthesizers import DeclaredCodes

    codes = pq.read_table(path).to_pandas().to_numpy(dtype=np.int64)
    model = {"mst": MSTSynthesizer, "aim": AIMSynthesizer}[name](epsilon=EPSILON, delta=DELTA)
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(codes, transformer=TableTransformer([DeclaredCodes(k) for k in sizes()]), preprocessor_eps=0.0)


def measure(who: str, name: str, rows: int, path: Path) -> dict:
    """Fit (and, for ours, sample `rows` rows in batches) in this process; seconds and peak MiB.

    Ours reads the high-water mark twice, when the fit returns and after sampling, because the
    scale target is about training; sampling adds the sampler's tables and one batch at a time."""
    started, cpu = time.perf_counter(), time.process_time()
    result: dict = {"who": who, "synthesizer": name, "rows": rows}
    if who == "synthpriv":
        model = _fit_ours(name, path)
        result["fit_seconds"] = round(time.perf_counter() - started, 1)
        result["fit_cpu_seconds"] = round(time.process_time() - cpu, 1)
        result["fit_peak_mib"] = peak_mib()
        sampled = time.perf_counter()
        drawn = sum(len(batch) for batch in model.sample_batches(rows))
        result["sample_seconds"] = round(time.perf_counter() - sampled, 1)
        assert drawn == rows
    else:
        _fit_library(name, path)
        result["fit_seconds"] = round(time.perf_counter() - started, 1)
        result["fit_cpu_seconds"] = round(time.process_time() - cpu, 1)
    result["peak_mib"] = peak_mib()
    return result


def peak_mib() -> float:
    """This process's peak resident set, from the kernel's high-water mark (`VmHWM`).

    Not `ru_maxrss`: Linux carries it across `execve`, so a child started by a large parent
    (the benchmark runner holds gigabytes by then) would report the parent's peak.
    """
    status = Path("/proc/self/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return round(kib / 1024, 1)


def _in_subprocess(who: str, name: str, rows: int, path: Path, timeout_s: float) -> dict:
    try:
        done = subprocess.run([sys.executable, "-m", "bench.train_scale", who, name, str(rows), str(path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"who": who, "synthesizer": name, "rows": rows, "error": f"timeout after {timeout_s:.0f} s"}
    if done.returncode != 0:
        # SIGKILL is what the kernel's out-of-memory killer sends; nothing else here kills a fit
        why = "killed: out of memory" if done.returncode == -signal.SIGKILL else f"exit {done.returncode}"
        return {"who": who, "synthesizer": name, "rows": rows, "error": why,
                "stderr_tail": done.stderr[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _no_baseline(name: str, rows: int) -> str | None:
    """Why the library's own path is not measured for `name` at `rows`, if it is not."""
    if name not in MARGINAL:
        return "ours is the library's own fit on the declared codes (rows in memory), so there is no separate path"
    if rows > BASELINE_MAX_ROWS:
        return "the in-memory path holds every row as a Python tuple"
    return None


def run(plan: dict[str, tuple[int, ...]] = QUICK, timeout_s: float = TIMEOUT_S) -> list[dict]:
    """Every (synthesizer, size) of `plan`, ours and (up to `BASELINE_MAX_ROWS`) the library's.

    A fit that does not finish (out of time after `timeout_s`, or killed for memory) is recorded
    as such, and the same path is not started at the larger sizes: every synthesizer here needs
    at least as much time and memory on more rows, so those entries say at which size and why it
    stopped instead of spending another `timeout_s` (or the machine's memory) each.
    """
    results: list[dict] = []
    stopped: dict[tuple[str, str], str] = {}  # (who, synthesizer) -> why larger sizes are not run
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sorted({n for ns in plan.values() for n in ns}):
            path = Path(tmp) / f"codes_{rows}.parquet"
            write_table(rows, path)
            for name, wanted in plan.items():
                if rows not in wanted:
                    continue
                for who in ("synthpriv", "smartnoise_in_memory"):
                    why_not = stopped.get((who, name)) or (_no_baseline(name, rows) if who != "synthpriv" else None)
                    if why_not:
                        results.append({"who": who, "synthesizer": name, "rows": rows, "error": f"not run: {why_not}"})
                        continue
                    results.append(_in_subprocess(who, name, rows, path, timeout_s))
                    if "error" in results[-1]:
                        stopped[who, name] = f"stopped at {rows:,} rows ({results[-1]['error']})"
                    print(json.dumps(results[-1]), flush=True)
            path.unlink()
    return results


def main(argv: list[str]) -> None:
    """`WHO NAME ROWS PATH` measures one fit in this process and prints it (what `run` starts);
    `--record FILE NAME ROWS... [--timeout S]` measures NAME at those sizes, ours and the
    library's, into bench/results/FILE, replacing earlier figures of that synthesizer at those sizes."""
    if argv[:1] != ["--record"]:
        who, name, rows, path = argv
        print(json.dumps(measure(who, name, int(rows), Path(path))))
        return
    from bench import report

    args = argv[1:]
    timeout_s = TIMEOUT_S
    if "--timeout" in args:
        at = args.index("--timeout")
        timeout_s = float(args[at + 1])
        del args[at:at + 2]
    file, name, *rows = args
    fresh = [{**bench.stamp(), **r} for r in run({name: tuple(int(n) for n in rows)}, timeout_s)]
    report.record_entries(bench.RESULTS, file, "train_scale", fresh, lambda e: (e["who"], e["synthesizer"], e["rows"]))


if __name__ == "__main__":
    main(sys.argv[1:])
