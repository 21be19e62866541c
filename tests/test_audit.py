"""The empirical-epsilon audit exposes a non-private synthesizer and does not accuse MST at epsilon 1."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthpriv import audit
from synthpriv.cli import main
from synthpriv.spec import load_spec
from tests.conftest import DEMO_SPEC

SPEC = load_spec(DEMO_SPEC)
SMALL = ["sex", "diagnosis", "segment"]


class Copier:
    """A deliberately non-private synthesizer: it publishes its training rows."""

    name = "copier"

    def fit(self, codes: pd.DataFrame, cardinalities: list[int], ordered: list[int] | None = None) -> None:
        self.codes = codes.copy()

    def sample(self, rows: int) -> pd.DataFrame:
        return self.codes


def test_the_worst_case_record_is_the_only_holder_of_each_of_its_codes():
    game = audit.neighbouring_datasets(SPEC, rows=300, columns=SMALL)
    assert list(game.base.columns) == SMALL and len(game.base) == 300
    for name, code, size in zip(SMALL, game.canary, game.cardinalities):
        assert 0 <= code < size and not (game.base[name] == code).any()
        assert game.base[name].nunique() > 1
    assert game.statistic(game.dataset(with_canary=True)) == 1 and game.statistic(game.base) == 0
    with pytest.raises(ValueError, match="not released"):
        audit.neighbouring_datasets(SPEC, columns=["ssn"])


def test_clopper_pearson_upper_bounds_match_the_closed_form():
    assert audit.clopper_pearson_upper(0, 10, 0.05) == pytest.approx(1 - 0.05 ** (1 / 10))
    assert audit.clopper_pearson_upper(10, 10, 0.05) == 1.0
    assert 0.5 < audit.clopper_pearson_upper(5, 10, 0.05) < 0.9


def test_the_bound_is_zero_when_the_outputs_cannot_be_told_apart_and_the_ceiling_when_they_always_can():
    same = np.zeros(40, int)
    bound, ceiling, *_ = audit.epsilon_lower_bound(same, same, 1e-9)
    assert bound == 0.0 and ceiling > 1
    bound, ceiling, threshold, fpr, fnr = audit.epsilon_lower_bound(np.zeros(40, int), np.ones(40, int), 1e-9)
    assert bound == pytest.approx(ceiling) and threshold == 1 and fpr == fnr == 0.0
    more_runs = audit.epsilon_lower_bound(np.zeros(400, int), np.ones(400, int), 1e-9)[0]
    assert more_runs > bound + 1


def test_a_synthesizer_that_returns_its_training_rows_is_far_above_its_claim():
    result = audit.audit(SPEC, 200, rows=100, columns=SMALL, make=Copier)
    assert result.synthesizer == "copier" and result.claimed_epsilon == 1.0
    assert result.epsilon_lower_bound > 3.5 and result.refutes
    assert (result.false_positive_rate, result.false_negative_rate) == (0.0, 0.0)
    assert result.to_dict()["refutes"] is True


def test_the_command_line_rejects_bad_arguments_without_training(home, capsys):
    assert main(["audit", str(DEMO_SPEC), "--runs", "0"]) == 2
    assert main(["audit", str(DEMO_SPEC), "--columns", "ssn"]) == 2
    assert "not released" in capsys.readouterr().err
    assert not (home / "ledger.sqlite").exists()


def test_the_help_states_the_defaults_the_audit_uses(capsys):
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"(default {audit.DEFAULT_RUNS};" in out and f"(default {audit.DEFAULT_ROWS})" in out


@pytest.mark.slow
def test_mst_at_epsilon_1_stays_within_its_claim_in_a_game_that_could_have_shown_more(home, capsys):
    """20 fits on each dataset (about a minute on an idle machine): enough that a perfect
    distinguisher would have shown an epsilon above 1, so a bound not above 1 is evidence."""
    code = main(["audit", str(DEMO_SPEC), "--runs", "20", "--rows", "200", "--columns", ",".join(SMALL), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["synthesizer"] == "mst" and result["claimed_epsilon"] == 1.0
    assert result["ceiling"] > 1.0 >= result["epsilon_lower_bound"]
    assert code == 0 and result["refutes"] is False
    assert not (home / "ledger.sqlite").exists()  # the audit never spends a dataset's budget
