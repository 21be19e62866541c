"""Read-only views of releases for people: the Airflow Releases page and the reviewer's summary.

Both show the same facts (versions, epsilon, gate verdicts, budget) that `synthpriv catalog`
and `synthpriv budget` print, gathered here once so the UI plugin and the approval task do
not each reach into the store and the ledger. Only manifests, gate aggregates and ledger
totals are read, never a row. This module never imports Airflow: the plugin and the DAG
import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from synthpriv.ledger import Ledger, caps
from synthpriv.settings import Settings
from synthpriv.store import open_store


@dataclass(frozen=True)
class GateVerdict:
    """One gate check as a reviewer reads it: aggregates and thresholds, never data values."""

    gate: str
    metric: str
    passed: bool
    value: float | None
    threshold: float | None


@dataclass(frozen=True)
class VersionEntry:
    """One published version, from its manifest."""

    version: str
    latest: bool
    epsilon: float
    delta: float
    rows: int
    synthesizer: str
    approved_by: str
    gates: tuple[GateVerdict, ...]

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)


@dataclass(frozen=True)
class Budget:
    """The ledger's totals for a dataset (`synthpriv budget`); `cap` is None before any reservation."""

    cap: float | None
    spent: float
    reserved: float
    remaining: float | None
    composition: str


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    versions: tuple[VersionEntry, ...]
    budget: Budget | None


def gate_verdicts(gates: dict) -> list[GateVerdict]:
    """Flatten `gates.json` or a manifest's `gates` ({gate: [result, ...]}) into verdicts.

    >>> gate_verdicts({"privacy": [{"gate": "privacy", "metric": "exact_match_rate", "passed": True,
    ...                             "value": 0.0, "threshold": 0.0, "detail": ""}]})
    [GateVerdict(gate='privacy', metric='exact_match_rate', passed=True, value=0.0, threshold=0.0)]
    """
    return [
        GateVerdict(r.get("gate", gate), r["metric"], bool(r["passed"]), r.get("value"), r.get("threshold"))
        for gate, results in sorted(gates.items())
        for r in results
    ]


def _ledger_exists(url: str) -> bool:
    """An embedded SQLite ledger that was never created has nothing to show; opening it would create it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return True
    return Path(parsed.database).is_file()


def _budgets(settings: Settings) -> dict[str, Budget]:
    if not _ledger_exists(settings.ledger_url):
        return {}
    ledger = Ledger(settings.ledger_url)
    try:
        with ledger.engine.connect() as conn:
            datasets = sorted(conn.execute(select(caps.c.dataset)).scalars())
        budgets = {}
        for dataset in datasets:
            s = ledger.summary(dataset)
            cap = s["cap"]
            budgets[dataset] = Budget(cap["epsilon"] if cap else None, s["spent"], s["reserved"], s["remaining"],
                                      cap["composition"] if cap else "basic")
        return budgets
    finally:
        ledger.engine.dispose()


def releases(settings: Settings) -> list[DatasetEntry]:
    """Every dataset that is published or has budget on the ledger, newest version first."""
    store = open_store(settings.store)
    budgets = _budgets(settings)
    published = store.datasets()
    entries = []
    for name in sorted(set(published) | set(budgets)):
        latest = store.latest(name) if name in published else None
        versions = []
        for version in reversed(store.versions(name) if name in published else []):
            m = store.manifest(name, version)
            versions.append(VersionEntry(
                version=version, latest=version == latest, epsilon=m["epsilon"], delta=m["delta"], rows=m["rows"],
                synthesizer=m["synthesizer"]["name"], approved_by=m["approved_by"],
                gates=tuple(gate_verdicts(m["gates"])),
            ))
        entries.append(DatasetEntry(name, tuple(versions), budgets.get(name)))
    return entries


def _cell(value: object) -> str:
    """A Markdown table cell: pipes and line breaks would break the table."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def review_summary(dataset: str, epsilon: float, gates: dict, review_html: str | Path) -> str:
    """What a reviewer is asked to sign off, as Markdown: every gate verdict and where the full review is.

    The approval task shows this in Airflow's Required Actions page. It carries gate
    aggregates and thresholds only; the detailed review (`review.html`) stays in the run's
    private workspace, so the message says where it is instead of copying it.
    """
    verdicts = gate_verdicts(gates)
    failed = [v for v in verdicts if not v.passed]
    lines = [
        f"Release of **{_cell(dataset)}** at epsilon {epsilon:g}: "
        + (f"**{len(failed)} gate check(s) failed**." if failed else f"all {len(verdicts)} gate checks passed."),
        "",
        "| gate | check | value | threshold | verdict |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {_cell(v.gate)} | {_cell(v.metric)} | {_number(v.value)} | {_number(v.threshold)} | "
          f"{'passed' if v.passed else 'FAILED'} |" for v in verdicts),
        "",
        f"The full review (column statistics, plots, the scan's verdicts) is `{_cell(review_html)}` "
        "in the run's private workspace.",
        "",
        "Approve to publish this version; reject to end the run without publishing (the budget it spent stays spent).",
    ]
    return "\n".join(lines)
