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


def test_training_by_size_shows_ours_next_to_the_library_and_says_why_a_size_has_no_baseline(tmp_path: Path) -> None:
    meta = {"date": "2026-11-23", "machine": "x86_64, 2 cores"}
    ours = {"who": "synthpriv", "synthesizer": "mst", "rows": 10_000_000, "fit_seconds": 200.0,
            "fit_cpu_seconds": 150.0, "fit_peak_mib": 2900.0, "sample_seconds": 30.0, "peak_mib": 3100.0}
    base = {"who": "smartnoise_in_memory", "synthesizer": "mst", "rows": 10_000_000, "error": "not run: too big"}
    small = [{**ours, "rows": 100_000, "fit_cpu_seconds": 80.0}, {**base, "rows": 100_000, "fit_cpu_seconds": 100.0,
                                                                  "peak_mib": 3500.0}]
    small[1].pop("error")
    small[0].pop("fit_peak_mib")
    (tmp_path / "bench.json").write_text(json.dumps({**meta, "train_scale": [ours, base, *small]}))
    aim = {**ours, "synthesizer": "aim", "rows": 1_000_000, "date": "2026-12-02"}
    (tmp_path / "full.json").write_text(json.dumps({**meta, "train_scale": [aim]}))
    text = report.render(tmp_path)
    assert "| mst | 100,000 | 200.0 | 80.0 |  | 30.0 | 3,100.0 | 100.0 | 3,500.0 | 0.8 |" in text
    assert "| mst | 10,000,000 | 200.0 | 150.0 | 2,900.0 | 30.0 | 3,100.0 | not run: too big |  |  |" in text
    assert "| aim | 1,000,000 | 200.0 | 150.0 | 2,900.0 |" in text
    assert text.count("## Training by table size") == 1
    assert text.index("Measured 2026-11-23") < text.index("| mst | 100,000") < text.index("Measured 2026-12-02")


def test_opendp_mbi_figures_say_how_much_of_the_algorithm_ran(tmp_path: Path) -> None:
    measured = {"tvd_1way": 0.02, "tvd_2way": 0.09, "tstr_accuracy": 0.76, "fit_cpu_seconds": 80.0,
                "null_row_share": 0.004, "marginals_measured": {"1-way": 14, "2-way": 1}}
    table = {"train_on_real_accuracy": 0.8665, "runs": [
        {"synthesizer": "aim", "epsilon": 1.0, "opendp_mbi": measured},
        {"synthesizer": "mst", "epsilon": 1.0, "opendp_mbi": {"error": "timed out after 900 s"}}]}
    (tmp_path / "opendp_mbi.json").write_text(json.dumps({"date": "2026-11-30", "versions": {"opendp": "0.14.2"},
                                                          "tables": {"adult": table}}))
    text = report.render(tmp_path)
    assert "| adult | aim | 1.0 | 0.09 | 0.02 | 0.76 / 0.8665 | 80.0 | 0.004 | 14 1-way, 1 2-way |" in text
    assert "| adult | mst | 1.0 | timed out after 900 s |" in text and "opendp 0.14.2" in text


def _aim_target(gap: float) -> dict:
    fit = {"tstr_accuracy": 0.85, "tvd_1way": 0.02, "tvd_2way": 0.06, "fit_cpu_seconds": 330.0}
    return {"table": "adult", "epsilon": 1.0, "delta": 1e-9, "train_on_real_accuracy": 0.8677, "runs": [fit, fit],
            "smartnoise_readme": {"error": "MemoryError"}, "mean_tstr_accuracy": 0.85, "gap_points": gap,
            "target_gap_points": 1.5}


def test_the_aim_target_states_every_fit_the_mean_and_whether_the_gap_is_met(tmp_path: Path) -> None:
    meta = {"date": "2026-12-01", "machine": "x86_64, 2 cores"}
    (tmp_path / "bench.json").write_text(json.dumps({**meta, "aim_target": _aim_target(1.77)}))
    text = report.render(tmp_path)
    assert "| synthpriv fit 1 | 0.85 | 0.06 | 0.02 | 330.0 |" in text and "| synthpriv fit 2 |" in text
    assert "| smartnoise-synth README | failed: MemoryError |" in text
    assert "a gap of **1.77 points** (target 1.5: not met)" in text
    (tmp_path / "bench.json").write_text(json.dumps({**meta, "aim_target": {**_aim_target(1.2),
                                                                              "standard_error_points": 0.07}}))
    assert "a gap of **1.2 points**, standard error of the mean 0.07 (target 1.5: met)" in report.render(tmp_path)


def test_a_size_re_measured_alone_keeps_its_own_date_next_to_the_older_ones(tmp_path: Path) -> None:
    results = tmp_path / "bench" / "results"
    results.mkdir(parents=True)
    meta = {"date": "2026-11-23", "machine": "x86_64, 2 cores"}
    (results / "full.json").write_text(json.dumps({**meta, "sizes": [_size(1_000_000, 600.0)]}))
    fresh = {**_size(10_000_000, 900.0), "date": "2026-12-01", "machine": "x86_64, 2 cores"}
    report.record(results, "full.json", "sizes", [_size(1_000_000, 600.0), fresh])
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "Measured 2026-11-23 (x86_64, 2 cores)" in text and "Measured 2026-12-01 (x86_64, 2 cores)" in text
    assert "900.0 / 2,048" in text and "Not measured yet" not in text


def test_a_synthesizer_re_measured_by_size_replaces_only_its_own_figures(tmp_path: Path, monkeypatch) -> None:
    from bench import train_scale

    results = tmp_path / "bench" / "results"
    results.mkdir(parents=True)
    meta = {"date": "2026-11-23", "machine": "x86_64, 2 cores"}
    mst = {"who": "synthpriv", "synthesizer": "mst", "rows": 100_000, "fit_seconds": 20.0,
           "fit_cpu_seconds": 19.0, "sample_seconds": 1.0, "peak_mib": 900.0}
    stale_aim = {**mst, "synthesizer": "aim", "fit_cpu_seconds": 999.0}
    (results / "full.json").write_text(json.dumps({**meta, "train_scale": [mst, stale_aim]}))
    fresh_aim = {**mst, "synthesizer": "aim", "fit_cpu_seconds": 300.0}
    monkeypatch.setattr(train_scale, "run",
                        lambda plan, timeout_s: [fresh_aim] if plan == {"aim": (100_000,)} else [])
    monkeypatch.setattr("bench.RESULTS", results)
    monkeypatch.setattr("bench.stamp", lambda: {"date": "2026-12-02", "machine": "x86_64, 2 cores"})
    train_scale.main(["--record", "full.json", "aim", "100000"])
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "| mst | 100,000 | 20.0 | 19.0 |" in text and "| aim | 100,000 | 20.0 | 300.0 |" in text
    assert "999.0" not in text
    assert text.index("Measured 2026-11-23") < text.index("| mst | 100,000") < text.index("Measured 2026-12-02")
