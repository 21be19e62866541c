"""The benchmark harness: `make bench` and `make bench-full` (see bench/run.py)."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

#: Where every benchmark writes its JSON; BENCHMARKS.md is generated from it, one level up from bench/.
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """The machine line every figure's date goes with."""
    return (f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.python_implementation()} {platform.python_version()}")


def stamp() -> dict[str, str]:
    """When and where a section was measured; a section re-measured alone carries its own."""
    return {"date": dt.date.today().isoformat(), "machine": machine()}
