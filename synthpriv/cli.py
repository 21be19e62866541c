"""The `synthpriv` command line.

Exit codes are an interface: 0 published, 2 bad input or spec, 3 blocked by a gate, the
PII policy, the approval rule or the budget, 1 anything else. On a terminal, progress
goes to stderr; `--json` prints exactly one JSON object on stdout. Unexpected errors are
reported by type only (their messages may quote data); the trace goes to the run's
private workspace.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console
from rich.table import Table

from synthpriv.errors import InputError, SynthprivError
from synthpriv.settings import Settings

DEMO_SPEC = Path(__file__).with_name("specs") / "demo_customers.yaml"


def _emit(args: argparse.Namespace, obj: dict) -> None:
    print(json.dumps(obj, indent=None if args.json else 2, default=str))


class _Progress:
    """One line per stage with its duration; a live spinner on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.console = Console(stderr=True)
        self.enabled = enabled
        self.status = None
        self.current: tuple[str, float] | None = None

    def stage(self, _name: str, label: str) -> None:
        self._finish_current()
        self.current = (label, time.monotonic())
        if self.enabled and self.console.is_terminal:
            if self.status is None:
                self.status = self.console.status(label)
                self.status.start()
            self.status.update(f"{label}...")

    def _finish_current(self, ok: bool = True) -> None:
        if self.current and self.enabled:
            label, started = self.current
            mark = "[green]ok[/]" if ok else "[red]stopped[/]"
            self.console.print(f"  {mark} {label} ({time.monotonic() - started:.1f}s)", highlight=False)
        self.current = None

    def close(self, ok: bool) -> None:
        self._finish_current(ok)
        if self.status is not None:
            self.status.stop()


def cmd_release(args: argparse.Namespace, spec_path: str | None = None) -> int:
    from synthpriv.pipeline import new_run_id, run_release

    settings = Settings.from_env()
    spec_path = spec_path or args.spec
    run_id = args.run_id or new_run_id()
    progress = _Progress(enabled=not args.json)
    try:
        outcome = run_release(spec_path, settings, source=args.source, approver=args.approver,
                              run_id=run_id, on_stage=progress.stage)
    except SynthprivError as exc:
        progress.close(ok=False)
        workspace = getattr(exc, "workspace", None)
        result = {"status": "blocked" if exc.exit_code == 3 else "error", "exit_code": exc.exit_code,
                  "run_id": run_id, "reason": str(exc), "workspace": workspace}
        _report_failure(args, result)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
        progress.close(ok=False)
        folder = Path(getattr(exc, "workspace", None) or settings.workspace_root)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        trace = folder / f"{run_id}.trace.txt"
        trace.write_text(traceback.format_exc())
        trace.chmod(0o600)
        result = {"status": "error", "exit_code": 1, "run_id": run_id,
                  "reason": f"internal error ({type(exc).__name__}); trace in {trace}"}
        _report_failure(args, result)
        return 1
    progress.close(ok=True)
    pub = outcome.published
    result = {"status": "published", "exit_code": 0, "run_id": outcome.run_id, **pub}
    if args.json:
        _emit(args, result)
    else:
        console = Console()
        console.print(f"[bold green]published[/] {pub['dataset']} {pub['version']} "
                      f"(epsilon {pub['epsilon']:g}, delta {pub['delta']:g})", highlight=False)
        console.print(f"  store:    {pub['uri']}", highlight=False)
        console.print(f"  data:     {Path(pub['uri']) / 'data.parquet'}", highlight=False)
        console.print(f"  report:   {Path(pub['uri']) / 'report.html'}", highlight=False)
        console.print(f"  manifest: {Path(pub['uri']) / 'manifest.json'}", highlight=False)
        console.print(f"  budget:   synthpriv budget {pub['dataset']}", highlight=False)
    return 0


def _report_failure(args: argparse.Namespace, result: dict) -> None:
    if args.json:
        _emit(args, result)
        return
    console = Console(stderr=True)
    console.print(f"[bold red]{result['status']}[/] (exit {result['exit_code']}): {result['reason']}", highlight=False)
    if result.get("workspace"):
        console.print(f"  private workspace kept for diagnosis: {result['workspace']}", highlight=False)


def cmd_demo(args: argparse.Namespace) -> int:
    return cmd_release(args, str(DEMO_SPEC))


def cmd_scan(args: argparse.Namespace) -> int:
    from synthpriv.load import read_table
    from synthpriv.scan import scan_table

    try:
        table = read_table(args.table)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verdicts = scan_table(table, args.sample_size)
    if args.json:
        print(json.dumps({"columns": [v.to_dict() for v in verdicts]}))
        return 0
    t = Table(title=f"PII scan of {args.table}")
    for col in ("column", "entity", "role", "score"):
        t.add_column(col)
    for v in verdicts:
        t.add_row(v.name, v.entity or "-", v.role, f"{v.score:.2f}")
    Console().print(t)
    return 0


def cmd_budget(args: argparse.Namespace) -> int:
    from synthpriv.ledger import Ledger

    settings = Settings.from_env()
    summary = Ledger(settings.ledger_url).summary(args.dataset)
    if args.json:
        print(json.dumps(summary))
        return 0
    console = Console()
    cap = summary["cap"]
    if cap is None:
        console.print(f"[bold]{args.dataset}[/]: no release has reserved budget yet", highlight=False)
        return 0
    window = f"the last {cap['renewal_days']} days" if cap["renewal_days"] else "all time (no renewal period)"
    console.print(f"[bold]{args.dataset}[/]: cap epsilon {cap['epsilon']:g}, delta {cap['delta']:g} over {window}, "
                  f"{cap['composition']} composition", highlight=False)
    console.print(f"  spent {summary['spent']:g}, reserved {summary['reserved']:g}, "
                  f"remaining {summary['remaining']:g}", highlight=False)
    zcdp = summary["composition"]["zcdp"]
    if zcdp:
        console.print(f"  zCDP total: rho {zcdp['rho']:.5g} = epsilon {zcdp['epsilon']:.4g} at delta {zcdp['delta']:.3g} "
                      f"(basic composition: epsilon {summary['composition']['basic']['epsilon']:g})", highlight=False)
    t = Table()
    for col in ("run", "epsilon", "delta", "rho", "state", "mechanism", "created", "counts"):
        t.add_column(col)
    for e in summary["entries"]:
        t.add_row(e["run_id"], f"{e['epsilon']:g}", f"{e['delta']:g}", f"{e['rho']:.4g}" if e["rho"] else "-",
                  e["state"], e["mechanism"], e["created_at"][:19], "yes" if e["in_window"] else "no")
    console.print(t)
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    from synthpriv.store import open_store

    location = Settings.from_env().store
    store = open_store(location)
    entries = []
    for dataset in store.datasets():
        for version in store.versions(dataset):
            m = store.manifest(dataset, version)
            gates = [g for rs in m["gates"].values() for g in rs]
            entries.append({"dataset": dataset, "version": version, "latest": version == store.latest(dataset),
                            "epsilon": m["epsilon"], "delta": m["delta"], "rows": m["rows"],
                            "gates_passed": all(g["passed"] for g in gates), "readers": m["readers"],
                            "approved_by": m["approved_by"]})
    if args.json:
        print(json.dumps({"releases": entries}))
        return 0
    t = Table(title=f"Published in {location}")
    for col in ("dataset", "version", "epsilon", "delta", "rows", "gates", "readers"):
        t.add_column(col)
    for e in entries:
        t.add_row(e["dataset"], e["version"] + (" (latest)" if e["latest"] else ""), f"{e['epsilon']:g}",
                  f"{e['delta']:g}", str(e["rows"]), "passed" if e["gates_passed"] else "FAILED", ", ".join(e["readers"]))
    Console().print(t)
    return 0


def cmd_expectations(args: argparse.Namespace) -> int:
    from synthpriv.gates.quality import suite_dict
    from synthpriv.spec import load_spec

    print(json.dumps(suite_dict(load_spec(args.spec)), indent=2))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """The empirical-epsilon audit: exit 0 if the bound stays at or below the claimed epsilon, 3 if
    it exceeds it, 2 for a bad spec or arguments. Trains only on datasets it builds itself."""
    from synthpriv import audit
    from synthpriv.spec import load_spec

    runs = audit.DEFAULT_RUNS if args.runs is None else args.runs
    rows = audit.DEFAULT_ROWS if args.rows is None else args.rows
    try:
        spec = load_spec(args.spec)
        columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
        if runs < 1 or rows < 10:
            raise ValueError("--runs must be at least 1 and --rows at least 10")
        audit.neighbouring_datasets(spec, rows, columns)
    except (SynthprivError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    audit.cache_compilations(Settings.from_env().home / "cache" / "jax")
    console = Console(stderr=True)
    show = not args.json and console.is_terminal
    result = audit.audit(spec, runs, rows=rows, columns=columns,
                         on_run=(lambda i: console.print(f"  run {i}/{runs}", highlight=False)) if show else None)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        verdict = "[bold red]exceeds[/]" if result.refutes else "[bold green]within[/]"
        Console().print(
            f"{result.synthesizer}: empirical epsilon >= {result.epsilon_lower_bound:.3f} "
            f"({result.confidence:.0%} confidence, {result.runs} runs per dataset), {verdict} the claimed "
            f"{result.claimed_epsilon:g}; a perfect distinguisher would have shown {result.ceiling:.3f}",
            highlight=False)
    return 3 if result.refutes else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="synthpriv", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def release_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--source", help="read this CSV or Parquet file instead of the spec's source")
        sp.add_argument("--approver", help="the reviewer approving this release (required if the spec says so)")
        sp.add_argument("--run-id", help="reuse a run id: a retry never spends budget twice")
        sp.add_argument("--json", action="store_true", help="print one JSON object instead of the display")

    r = sub.add_parser("release", help="run a whole release of a spec")
    r.add_argument("spec")
    release_args(r)
    r.set_defaults(fn=cmd_release)
    d = sub.add_parser("demo", help="release the bundled sample table on embedded defaults")
    release_args(d)
    d.set_defaults(fn=cmd_demo)
    s = sub.add_parser("scan", help="print the personal data found per column")
    s.add_argument("table")
    s.add_argument("--sample-size", type=int, default=200)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_scan)
    b = sub.add_parser("budget", help="show a dataset's privacy-budget ledger")
    b.add_argument("dataset")
    b.add_argument("--json", action="store_true")
    b.set_defaults(fn=cmd_budget)
    c = sub.add_parser("catalog", help="list what is published")
    c.add_argument("--json", action="store_true")
    c.set_defaults(fn=cmd_catalog)
    a = sub.add_parser("audit", help="lower-bound the synthesizer's real epsilon by a distinguishing game (slow)")
    a.add_argument("spec")
    a.add_argument("--runs", type=int, help="fits per neighbouring dataset (default 50; MST takes a few seconds each)")
    a.add_argument("--rows", type=int, help="records in the dataset the game builds (default 500)")
    a.add_argument("--columns", help="comma-separated released columns to play on (default: all)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(fn=cmd_audit)
    e = sub.add_parser("expectations", help="print the expectation suite generated from a spec")
    e.add_argument("spec")
    e.set_defaults(fn=cmd_expectations)
    return p


#: Libraries that log the text they analyse at DEBUG: held at WARNING whatever our level is.
_CHATTY_LOGGERS = ("presidio-analyzer", "presidio-anonymizer", "great_expectations", "spacy", "jax", "urllib3")


def configure_logging() -> None:
    """Our log level from SYNTHPRIV_LOG_LEVEL (default WARNING), to stderr; never the libraries' data."""
    level = os.environ.get("SYNTHPRIV_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
