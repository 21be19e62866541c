"""Stage timings and peak memory of a whole release at several table sizes.

Each size runs in a fresh Python process (`python -m bench.sizes ROWS`), so one size's
peak memory never leaks into the next one's figure. Inside it, a sampling thread reads
the process's resident set every 20 ms and keeps the maximum per stage: `ru_maxrss`
alone would only give the whole run's peak, and the point is to know which stage
needs the memory.

The release is the bundled demo spec with the source and synthesis sizes replaced, on
the embedded defaults (folder store, SQLite ledger) in a temporary home.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

import bench
from synthpriv.pipeline import run_release
from synthpriv.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "synthpriv" / "specs" / "demo_customers.yaml"
_POLL_SECONDS = 0.02
#: `make bench` sizes, and the sizes `make bench-full` adds.
QUICK_SIZES = (10_000, 100_000)
FULL_SIZES = (1_000_000, 10_000_000)


class _StagePeaks:
    """Peak resident memory per stage, sampled from a background thread."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._stage = "start"
        self.peaks_mib: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _sample(self) -> None:
        rss = self._process.memory_info().rss / 2**20
        self.peaks_mib[self._stage] = max(self.peaks_mib.get(self._stage, 0.0), rss)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(_POLL_SECONDS)

    def enter(self, stage: str) -> None:
        """Start attributing memory to `stage`; sampled at once, so a stage shorter than the poll still has a figure."""
        self._stage = stage
        self._sample()

    def __enter__(self) -> _StagePeaks:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _spec_for(rows: int, home: Path) -> Path:
    spec = yaml.safe_load(SPEC.read_text())
    spec["source"]["rows"] = rows
    spec["synthesis"]["rows"] = rows
    spec["privacy"]["budget"]["epsilon"] = 1000.0
    # Ten million rows drawn honestly at epsilon 1 repeat a few training rows by chance (the
    # 2026-12-01 run: under 5 in 10M, every distance and attack check passing); the demo's
    # "no copy at all" would block that release before it reaches approve and publish.
    spec["gates"]["privacy"]["max_exact_match_rate"] = 1e-6
    path = home / f"bench_{rows}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def measure(rows: int) -> dict:
    """One whole release of `rows` rows in this process: seconds and peak MiB per stage."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        spec_path = _spec_for(rows, home)
        marks: list[tuple[str, float]] = []
        with _StagePeaks() as peaks:
            started = time.perf_counter()

            def on_stage(name: str, _label: str) -> None:
                marks.append((name, time.perf_counter()))
                peaks.enter(name)

            run_release(str(spec_path), Settings.from_env(home), on_stage=on_stage)
            total = time.perf_counter() - started
    ends = [t for _, t in marks[1:]] + [started + total]
    return {
        **bench.stamp(),
        "rows": rows,
        "seconds_total": round(total, 2),
        "seconds_by_stage": {name: round(end - t, 3) for (name, t), end in zip(marks, ends)},
        "peak_mib_by_stage": {name: round(peaks.peaks_mib.get(name, 0.0), 1) for name, _ in marks},
        "peak_mib": round(max(peaks.peaks_mib.values()), 1),
    }


def measure_in_subprocess(rows: int, timeout_s: float = 4 * 3600) -> dict:
    """Run `measure(rows)` in a fresh interpreter so its peak memory is its own."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.sizes", str(rows)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False,
    )
    if done.returncode != 0:
        return {"rows": rows, "error": f"exit {done.returncode}", "stderr_tail": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(results: list[dict]) -> str:
    """A table per size: seconds and peak MiB per stage."""
    ok = [r for r in results if "error" not in r]
    if not ok:
        return "\n".join(f"- {r['rows']:,} rows: failed ({r['error']})" for r in results)
    stages = list(ok[0]["seconds_by_stage"])
    head = "| stage | " + " | ".join(f"{r['rows']:,} rows: s / peak MiB" for r in ok) + " |"
    rule = "| --- |" + " --- |" * len(ok)
    body = [f"| {s} | " + " | ".join(f"{r['seconds_by_stage'][s]} / {r['peak_mib_by_stage'][s]:,.0f}" for r in ok) + " |"
            for s in stages]
    total = "| **whole release** | " + " | ".join(f"**{r['seconds_total']}** / {r['peak_mib']:,.0f}" for r in ok) + " |"
    failed = [f"\n{r['rows']:,} rows failed: {r['error']}" for r in results if "error" in r]
    return "\n".join([head, rule, *body, total, *failed])


def main() -> None:
    """`python -m bench.sizes ROWS` measures in this process and prints the figures (what
    `measure_in_subprocess` runs); `--record FILE ROWS...` re-measures those sizes, each in a
    fresh process, into bench/results/FILE, replacing earlier figures of the same sizes."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("rows", type=int, nargs="+")
    parser.add_argument("--record", metavar="FILE", help="bench.json or full.json")
    args = parser.parse_args()
    if not args.record:
        print(json.dumps(measure(args.rows[0])))
        return
    from bench import report

    fresh = [measure_in_subprocess(n) for n in args.rows]
    report.record_entries(bench.RESULTS, args.record, "sizes", fresh, lambda e: e["rows"])


if __name__ == "__main__":
    main()
