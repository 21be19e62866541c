"""The training-by-size benchmark's plan: a path that runs out of time or memory is not started on more rows."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from bench import train_scale


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int]]:
    """Record which fits start; MWEM runs out of time at 100,000 rows, DPCTGAN is killed for memory
    at 1,000,000, the library's AIM runs out of time at any size, everything else finishes."""
    started: list[tuple[str, str, int]] = []

    def fake_fit(who: str, name: str, rows: int, path: Path, timeout_s: float) -> dict:
        started.append((who, name, rows))
        if (name == "mwem" and rows >= 100_000) or who == "smartnoise_in_memory":
            return {"who": who, "synthesizer": name, "rows": rows, "error": f"timeout after {timeout_s:.0f} s"}
        if name == "dpctgan" and rows >= 1_000_000:
            return {"who": who, "synthesizer": name, "rows": rows, "error": "killed: out of memory"}
        return {"who": who, "synthesizer": name, "rows": rows, "fit_cpu_seconds": 1.0}

    monkeypatch.setattr(train_scale, "_in_subprocess", fake_fit)
    monkeypatch.setattr(train_scale, "write_table", lambda rows, path: path.touch())
    return started


def test_a_path_that_does_not_finish_is_not_started_on_larger_tables(fits: list[tuple[str, str, int]]) -> None:
    plan = {"mwem": train_scale.LADDER, "dpctgan": train_scale.LADDER, "patectgan": train_scale.LADDER}
    results = train_scale.run(plan, timeout_s=60)

    assert [rows for who, name, rows in fits if name == "mwem"] == [10_000, 100_000]
    assert [rows for who, name, rows in fits if name == "dpctgan"] == [10_000, 100_000, 1_000_000]
    assert [rows for who, name, rows in fits if name == "patectgan"] == list(train_scale.LADDER)
    said = {(r["synthesizer"], r["rows"]): r.get("error") for r in results if r["who"] == "synthpriv"}
    assert said["mwem", 100_000] == "timeout after 60 s"
    assert said["mwem", 1_000_000] == said["mwem", 10_000_000] == \
        "not run: stopped at 100,000 rows (timeout after 60 s)"
    assert said["dpctgan", 10_000_000] == "not run: stopped at 1,000,000 rows (killed: out of memory)"


def test_the_library_path_stopping_leaves_ours_running(fits: list[tuple[str, str, int]]) -> None:
    train_scale.run({"aim": (100_000, 1_000_000)}, timeout_s=60)

    assert fits == [("synthpriv", "aim", 100_000), ("smartnoise_in_memory", "aim", 100_000),
                    ("synthpriv", "aim", 1_000_000)]


def test_a_fit_killed_by_the_kernel_is_reported_as_out_of_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    killed = subprocess.CompletedProcess(args=[], returncode=-signal.SIGKILL, stdout="", stderr="")
    monkeypatch.setattr(train_scale.subprocess, "run", lambda *args, **kwargs: killed)

    result = train_scale._in_subprocess("synthpriv", "patectgan", 1_000_000, Path("codes.parquet"), 60)

    assert result["error"] == "killed: out of memory"


def test_record_takes_a_time_limit_for_each_fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[dict, float]] = []
    monkeypatch.setattr(train_scale, "run", lambda plan, timeout_s: asked.append((plan, timeout_s)) or [])
    monkeypatch.setattr("bench.RESULTS", tmp_path / "bench" / "results")
    (tmp_path / "bench" / "results").mkdir(parents=True)

    train_scale.main(["--record", "full.json", "dpctgan", "100000", "--timeout", "60", "1000000"])
    train_scale.main(["--record", "full.json", "mst", "100000"])

    assert asked == [({"dpctgan": (100_000, 1_000_000)}, 60.0), ({"mst": (100_000,)}, train_scale.TIMEOUT_S)]
