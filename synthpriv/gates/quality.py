"""The quality gate: a Great Expectations 1.x suite on the synthetic table, plus fidelity.

The suite is generated from the spec's public metadata (columns, types, ranges, category
sets, nullability, row count) and can be saved to `expectations/` and edited by hand; a
spec that names a suite file uses that file instead. Validation runs through a validation
definition and a checkpoint, as GE users know it, with the BOOLEAN_ONLY result format so
stored results never copy values. A failed checkpoint blocks the release, and so does any
fidelity metric (`synthpriv.fidelity`) that strays past its bar.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from synthpriv import fidelity
from synthpriv.errors import InputError
from synthpriv.gates import GateResult, errored
from synthpriv.spec import ColumnType, ReleaseSpec

GATE = "quality"
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def released_columns(spec: ReleaseSpec) -> list[str]:
    """Columns the synthetic table carries: the modelled ones, plus identifier columns the
    released spec lists in `pii.allow` (released as fresh tokens or fakes by the PII policy)."""
    return [c.name for c in spec.columns
            if c.modelled or (c.type is ColumnType.IDENTIFIER and c.name in spec.pii.allow)]


def suite_dict(spec: ReleaseSpec) -> dict:
    """The expectation suite implied by the spec's public metadata, as GE's JSON."""
    exp: list[dict] = [
        {"type": "expect_table_columns_to_match_set",
         "kwargs": {"column_set": released_columns(spec), "exact_match": True}},
        {"type": "expect_table_row_count_to_equal", "kwargs": {"value": spec.synthesis.rows}},
    ]
    for c in spec.modelled_columns:
        kw: dict = {"column": c.name}
        if not c.nullable:
            exp.append({"type": "expect_column_values_to_not_be_null", "kwargs": dict(kw)})
        if c.type is ColumnType.CATEGORICAL:
            exp.append({"type": "expect_column_values_to_be_in_set",
                        "kwargs": {**kw, "value_set": [*c.categories, c.other_label]}})
            # a model that never emits a declared category has erased that group from the release;
            # in a long category list a rare value can vanish under honest noise, so only collapse counts
            every = spec.gates.quality.every_category_up_to
            if every and len(c.categories) <= every:
                exp.append({"type": "expect_column_distinct_values_to_contain_set",
                            "kwargs": {**kw, "value_set": list(c.categories)}})
            elif every:
                exp.append({"type": "expect_column_unique_value_count_to_be_between",
                            "kwargs": {**kw, "min_value": math.ceil(len(c.categories) / 2)}})
        elif c.type is ColumnType.BOOLEAN:
            exp.append({"type": "expect_column_values_to_be_in_set", "kwargs": {**kw, "value_set": [True, False]}})
        elif c.type is ColumnType.DATE:  # compared as dates: the table holds datetime.date values
            exp.append({"type": "expect_column_values_to_be_between",
                        "kwargs": {**kw, "min_value": c.bounds[0].isoformat(), "max_value": c.bounds[1].isoformat()}})
        else:
            exp.append({"type": "expect_column_values_to_be_between",
                        "kwargs": {**kw, "min_value": float(c.bounds[0]), "max_value": float(c.bounds[1])}})
    return {"name": f"{spec.name}.synthetic", "expectations": exp, "meta": {"generated_from": "release spec metadata"}}


def load_suite(spec: ReleaseSpec, spec_path: str | Path | None) -> dict:
    """The suite file the spec names (relative to the spec), or the generated one."""
    if spec.gates.quality.suite is None:
        return suite_dict(spec)
    base = Path(spec_path).parent if spec_path else Path.cwd()
    path = base / spec.gates.quality.suite
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"gates.quality.suite: cannot read expectation suite {path}: {exc}") from None


def run(synthetic: pd.DataFrame, spec: ReleaseSpec, suite: dict) -> list[GateResult]:
    """Run the suite through a GE checkpoint; one result per expectation plus the checkpoint's."""
    try:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        gx_suite = ctx.suites.add(gx.ExpectationSuite(**suite))
        asset = ctx.data_sources.add_pandas("synthpriv").add_dataframe_asset(spec.name)
        batch = asset.add_batch_definition_whole_dataframe("synthetic")
        vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{spec.name}-synthetic", data=batch, suite=gx_suite))
        checkpoint = ctx.checkpoints.add(gx.Checkpoint(
            name=f"{spec.name}-release", validation_definitions=[vd], result_format={"result_format": "BOOLEAN_ONLY"}))
        result = checkpoint.run(batch_parameters={"dataframe": synthetic})
    except Exception as exc:  # noqa: BLE001 - an erroring gate is a failed gate
        return [errored(GATE, "great_expectations_checkpoint", exc)]
    results = []
    for validation in result.run_results.values():
        for r in validation.results:
            cfg = r.expectation_config
            column = cfg.kwargs.get("column")
            metric = cfg.type + (f"[{column}]" if column else "")
            raised = isinstance(r.exception_info, dict) and r.exception_info.get("raised_exception")
            results.append(GateResult(GATE, metric, bool(r.success), None, None, "errored" if raised else ("passed" if r.success else "failed")))
    results.append(GateResult(GATE, "great_expectations_checkpoint", bool(result.success), None, None,
                              f"{sum(r.passed for r in results)}/{len(results)} expectations met"))
    return results


def check(synthetic: pd.DataFrame, training: pd.DataFrame, holdout: pd.DataFrame, spec: ReleaseSpec,
          suite: dict) -> list[GateResult]:
    """The whole quality gate: the suite's checkpoint, then every fidelity metric against its bar."""
    return run(synthetic, spec, suite) + fidelity.run(training, holdout, synthetic, spec)
