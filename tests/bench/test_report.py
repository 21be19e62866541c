"""BENCHMARKS.md is generated from result files: a quick run must not erase a full run's figures."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench import report, sizes


def _size(rows: int, seconds: float) -> dict:
    stages = {"load": 0.5, "train": seconds}
    return {"rows": rows, "seconds_total": seconds + 0.5, "seconds_by_stage": stages,
            "peak_mib_by_stage": {"load": 300.0, "train": 2048.0}, "peak_mib": 2048.0}


def test_full_run_figures_survive_a_later_quick_run(tmp_path: Path) -> None:
    meta = {"date": "2026-11-23", "machine": "x86_64, 2 cores"}
    (tmp_path / "full.json").write_text(json.dumps({**meta, "sizes": [_size(1_000_000, 600.0)]}))
    text = report.render(tmp_path)
    assert "1,000,000 rows" in text and "600.0 / 2,048" in text
    assert "Not measured yet (`make bench-full`): 10,000,000 rows." in text


def test_a_failed_size_is_reported_not_dropped() -> None:
    text = sizes.markdown([_size(10_000, 20.0), {"rows": 10_000_000, "error": "exit -9"}])
    assert "10,000 rows" in text and "10,000,000 rows failed: exit -9" in text


def test_stage_peaks_are_attributed_to_the_stage_that_allocates() -> None:
    with sizes._StagePeaks() as peaks:
        peaks.enter("small")
        time.sleep(0.1)
        peaks.enter("big")
        block = b"\x01" * (300 * 2**20)
        time.sleep(0.2)
        del block
    assert peaks.peaks_mib["big"] > peaks.peaks_mib["small"] + 200


def test_synthesis_figures_are_rendered_side_by_side_with_the_baseline(tmp_path: Path) -> None:
    run = {"synthpriv": {"tvd_1way": 0.02, "tvd_2way": 0.07, "tstr_accuracy": 0.8, "fit_cpu_seconds": 70.0},
           "smartnoise_readme": {"error": "ValueError"}, "synthesizer": "mst", "epsilon": 1.0}
    table = {"rows_train": 39_067, "target": "income>50K", "train_on_real_accuracy": 0.87,
             "sampling_floor": {"tvd_1way": 0.01, "tvd_2way": 0.03}, "runs": [run]}
    meta = {"date": "2026-11-23", "machine": "x86_64, 2 cores"}
    (tmp_path / "full.json").write_text(json.dumps({**meta, "synthesis": {"full": True, "tables": {"adult": table}}}))
    text = report.render(tmp_path)
    assert "| mst | 1.0 | 0.07 / ValueError |" in text and "39,067 training rows" in text
