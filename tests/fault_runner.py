"""Run one release in this process, optionally dying with SIGKILL at a chosen point.

Used by test_pipeline_faults.py to leave the ledger and store exactly as a crashed run
would: no cleanup handler, no finally block runs.
    python -m tests.fault_runner SPEC RUN_ID MODE
MODE: none | kill_before_train | kill_in_fit | kill_before_gates | forbid_fit
"""

from __future__ import annotations

import os
import signal
import sys

from synthpriv import stages, synthesizers
from synthpriv.errors import SynthprivError
from synthpriv.pipeline import run_release
from synthpriv.settings import Settings


def _die(*_a, **_k) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _no_fit(*_a, **_k) -> None:
    raise AssertionError("the model was fitted a second time")


def main(spec: str, run_id: str, mode: str) -> int:
    if mode == "kill_before_train":
        stages.train = _die
    elif mode == "kill_in_fit":
        synthesizers.Synthesizer.fit = _die
    elif mode == "kill_before_gates":
        stages.check_privacy = _die
    elif mode == "forbid_fit":
        synthesizers.Synthesizer.fit = _no_fit
    try:
        run_release(spec, Settings.from_env(), run_id=run_id)
    except SynthprivError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
