"""What the PII policy does to each column the scan classified: drop, pseudonymize, fake,
generalize or redact.

The DP guarantee still holds after an action because every action is a function of public
inputs only: a modelled column's action is applied to its *declared* domain (categories,
bounds), which gives the released column's public domain, and the private training copy is
mapped through the same function. The synthesizer therefore still sees values from a
public, spec-declared domain. Identifier columns are never modelled: a release that keeps
one carries fresh tokens or fakes drawn per synthetic row, so no real person's value or
token ever appears (a synthetic row is nobody).

Randomness here (fresh tokens, fakes) comes from the OS. Nothing in this module logs or
raises with a data value; messages name columns, entities and actions only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker
from pydantic import ValidationError

from synthpriv.domain import distinct_text, parse_numeric, to_number
from synthpriv.errors import BlockedError, InputError
from synthpriv.scan import ColumnVerdict, DeclaredRecognizer
from synthpriv.spec import Column, ColumnType, Generalize, GeneralizeLevel, ReleaseSpec

#: Workspace files: column -> applied action (no values), the public metadata of exactly what is
#: released, and the redacted private copy of redacted text columns (never published).
PROTECTION_FILE, RELEASED_SPEC_FILE, REDACTED_FILE = "protection.json", "released_spec.json", "redacted.parquet"

ACTIONS = ("drop", "pseudonymize", "fake", "generalize", "redact")
#: Outcomes of columns no action touched: released as declared, or (identifier, text) never released.
KEEP, WITHHOLD = "keep", "withhold"

KEY_ENV = "SYNTHPRIV_PSEUDONYM_KEY"
#: An HMAC-SHA256 key shorter than this is guessable by brute force over the key space.
MIN_KEY_BYTES = 32
#: Token length in hex characters: 128 bits, so among a billion distinct values the chance of
#: any two sharing a token is about 1.5e-21.
TOKEN_HEX = 32

#: Bands a bare `generalize` cuts a numeric column into.
DEFAULT_BANDS = 10
_ROLE_NEEDS_SCORE = frozenset({"direct_identifier", "quasi_identifier"})
_MAX_DRAWS = 1000


def pseudonym_key(spec: ReleaseSpec, key: str | None) -> bytes | None:
    """The HMAC key when the policy may pseudonymize; refuse a missing or short one before any data is read.

    The key comes from the environment (`Settings.pseudonym_key`), never from a spec or the
    repo, and is never echoed.
    """
    if not spec.pii.needs_pseudonym_key:
        return None
    if not key:
        raise InputError(
            f"pii.actions: the policy pseudonymizes, but {KEY_ENV} is not set; export a secret of at least "
            f"{MIN_KEY_BYTES} bytes (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    raw = key.encode("utf-8")
    if len(raw) < MIN_KEY_BYTES:
        raise InputError(f"pii.actions: {KEY_ENV} is shorter than {MIN_KEY_BYTES} bytes; use a longer random secret")
    return raw


def pseudonymize(value: str, key: bytes) -> str:
    """Keyed HMAC-SHA256 token of a value: the same for the same value and key in every run, so releases join.

    >>> pseudonymize("C-100042", b"k" * 32) == pseudonymize("C-100042", b"k" * 32)
    True
    >>> len(pseudonymize("C-100042", b"k" * 32))
    32
    """
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:TOKEN_HEX]


def fresh_tokens(n: int) -> list[str]:
    """`n` tokens in the pseudonym format from OS randomness: the key of no real value."""
    return [secrets.token_hex(TOKEN_HEX // 2) for _ in range(n)]


def _with_layout(template: str, digits: str) -> str:
    """Put `digits` into the digit positions of `template`, keeping everything else."""
    it = iter(digits)
    return "".join(next(it) if ch.isdigit() else ch for ch in template)


class Fakes:
    """Format-preserving fakes, consistent per original value within one run, seeded from the OS per run.

    An email stays an email, a phone keeps its digit layout, a name is a name, an SSN keeps its
    shape; an entity without a dedicated generator keeps the value's punctuation and replaces each
    letter and digit by a random one of the same class.
    """

    #: Entities a fake can be drawn for without any original value (identifier columns of a release).
    _NEW: Mapping[str, Callable[[Faker], str]] = {
        "PERSON": lambda f: f"{f.first_name()} {f.last_name()}",
        "EMAIL_ADDRESS": lambda f: f"{f.user_name()}@{f.safe_domain_name()}",
        "PHONE_NUMBER": lambda f: f.numerify("(###) ###-####"),
        "US_SSN": lambda f: f.ssn(),
        "CREDIT_CARD": lambda f: f.credit_card_number(),
        "IBAN_CODE": lambda f: f.iban(),
        "IP_ADDRESS": lambda f: f.ipv4(),
        "URL": lambda f: f.url(),
        "STREET_ADDRESS": lambda f: f.street_address(),
        "LOCATION": lambda f: f.city(),
        "US_ZIP_CODE": lambda f: f.zipcode(),
        "DATE_OF_BIRTH": lambda f: f.date_of_birth().isoformat(),
        "DATE_TIME": lambda f: f.date_of_birth().isoformat(),
    }

    def __init__(self, locale: str = "en_US") -> None:
        self._faker = Faker(locale)
        self._faker.seed_instance(secrets.randbits(128))
        self._memo: dict[tuple[str | None, str], str] = {}

    @classmethod
    def can_draw(cls, entity: str | None) -> bool:
        return entity in cls._NEW

    def new(self, entity: str) -> str:
        """A fake of the entity's kind, not derived from any real value."""
        return self._NEW[entity](self._faker)

    def like(self, value: str, entity: str | None) -> str:
        """The fake of `value` in this run: the same input gives the same fake, never the input itself."""
        memo_key = (entity, value)
        if memo_key not in self._memo:
            self._memo[memo_key] = self.draw_like(value, entity)
        return self._memo[memo_key]

    def draw_like(self, value: str, entity: str | None) -> str:
        """A fresh fake shaped like `value` (different from it), without the run's memory."""
        for _ in range(_MAX_DRAWS):
            fake = self._shaped(value, entity)
            if fake != value:
                return fake
        raise BlockedError(f"fake: could not draw a fake different from the original for entity {entity}")

    def _shaped(self, value: str, entity: str | None) -> str:
        f = self._faker
        digits = sum(ch.isdigit() for ch in value)
        if entity == "PERSON":
            return f"{f.first_name()} {f.last_name()}" if len(value.split()) > 1 else f.last_name()
        if entity == "EMAIL_ADDRESS" and "@" in value:
            return f"{f.user_name()}@{f.safe_domain_name()}"
        if entity == "IP_ADDRESS":
            return f.ipv6() if ":" in value else f.ipv4()
        if entity in ("URL", "STREET_ADDRESS", "LOCATION", "IBAN_CODE"):
            return self.new(entity)
        if entity == "US_SSN" and digits == 9:
            return _with_layout(value, f.ssn().replace("-", ""))
        if entity in ("DATE_TIME", "DATE_OF_BIRTH") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return f.date_of_birth().isoformat()
        if entity == "PHONE_NUMBER":
            country = re.match(r"^\+\d+", value)
            head = country.group(0) if country else ""
            rest = value[len(head):]
            return head + _with_layout(rest, f.numerify("#" * sum(ch.isdigit() for ch in rest)))
        return self._per_character(value)

    def _per_character(self, value: str) -> str:
        r = self._faker.random
        out = []
        for ch in value:
            if ch.isdigit():
                out.append(r.choice("0123456789"))
            elif ch.isascii() and ch.isupper():
                out.append(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
            elif ch.isalpha():
                out.append(r.choice("abcdefghijklmnopqrstuvwxyz"))
            else:
                out.append(ch)
        return "".join(out)


def redact(texts: Sequence[str], recognizers: tuple[DeclaredRecognizer, ...] = ()) -> list[str]:
    """Each text with every entity our analyzer (and the spec's recognizers) finds replaced by `<ENTITY>`.

    Replacement is presidio-anonymizer's default operator.

    Duplicates are analyzed once and texts go through spaCy in batches: redaction costs about
    5 ms per distinct text here.
    """
    from presidio_analyzer import BatchAnalyzerEngine
    from presidio_anonymizer import AnonymizerEngine

    from synthpriv.scan import analyzer

    distinct = list(dict.fromkeys(texts))
    found = BatchAnalyzerEngine(analyzer(recognizers)).analyze_iterator(distinct, language="en", batch_size=64)
    anonymizer = AnonymizerEngine()
    redacted = {t: anonymizer.anonymize(text=t, analyzer_results=r).text for t, r in zip(distinct, found)}
    return [redacted[t] for t in texts]


def _bands(column: Column, count: int) -> tuple[np.ndarray, list[str]]:
    """Equal-width bands over the declared bounds: edges and labels (integers: inclusive ranges)."""
    lo, hi = float(column.bounds[0]), float(column.bounds[1])
    if column.type is ColumnType.INTEGER:
        width = int(hi) - int(lo) + 1
        if count > width:
            raise InputError(f"pii.actions: column {column.name} has {width} values, fewer than {count} bands")
        edges = np.unique(np.ceil(np.linspace(lo, hi + 1, count + 1)))
        labels = [f"{int(a)}-{int(b) - 1}" for a, b in zip(edges[:-1], edges[1:])]
        return edges, labels
    edges = np.linspace(lo, hi, count + 1)
    labels = [f"[{a:.6g}, {b:.6g})" for a, b in zip(edges[:-1], edges[1:])]
    labels[-1] = labels[-1][:-1] + "]"
    if len(set(labels)) != len(labels):
        raise InputError(f"pii.actions: column {column.name}'s bounds are too narrow for {count} labelled bands")
    return edges, labels


def _months(lo: dt.date, hi: dt.date) -> list[str]:
    return [f"{y:04d}-{m:02d}" for y in range(lo.year, hi.year + 1) for m in range(1, 13)
            if (lo.year, lo.month) <= (y, m) <= (hi.year, hi.month)]


@dataclass(frozen=True)
class ColumnProtection:
    """The policy's outcome for one declared column.

    `released` is the column's public metadata in the release (None: not released); `mapping`
    maps each declared category to its released category for a categorical column.
    """

    source: Column
    action: str
    entity: str | None = None
    released: Column | None = None
    level: GeneralizeLevel | None = None
    mapping: Mapping[str, str] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def modelled(self) -> bool:
        return self.released is not None and self.released.modelled

    @property
    def replaced(self) -> bool:
        """An identifier column released as fresh tokens or fakes, one per synthetic row."""
        return self.released is not None and not self.released.modelled

    def transform(self, values: pd.Series) -> pd.Series:
        """The private training copy of a modelled column, over the released column's domain.

        Values outside the declared domain are left for the codec to map to `other_label` and
        count, exactly as without an action.
        """
        if self.mapping is not None:
            positions, distinct = distinct_text(values)
            mapped = distinct.map(self.mapping).fillna(distinct).to_numpy(dtype=object)
            # a null's position is -1: it takes the appended None, as in encode_categorical
            return pd.Series(np.append(mapped, None)[positions], index=values.index, dtype=object)
        if self.action != "generalize":
            return values
        col, other = self.source, self.source.other_label
        lo, hi = to_number(col.bounds[0]), to_number(col.bounds[1])
        nums = parse_numeric(values, col.type)
        clipped = np.clip(nums, lo, hi)
        if col.type is ColumnType.DATE:
            days = pd.to_datetime(pd.Series(clipped).round(), unit="D", origin="unix", errors="coerce")
            out = days.dt.strftime("%Y" if self.level == "year" else "%Y-%m").astype(object)
        else:
            edges, labels = _bands(col, int(self.level))
            idx = np.clip(np.searchsorted(edges, np.nan_to_num(clipped, nan=lo), side="right") - 1, 0, len(labels) - 1)
            out = pd.Series(np.array(labels, dtype=object)[idx], dtype=object)
        out.index = values.index
        out[np.isnan(nums)] = other
        return out.where(values.notna(), None)


@dataclass(frozen=True)
class Protection:
    """The policy applied to a spec: every column's outcome and the released spec.

    The released spec is the public metadata of exactly the released columns: modelled ones
    over their transformed domains, and identifier columns released as tokens or fakes (typed
    identifier and listed in `pii.allow`, since they look like identifiers by design; the
    rescan still checks none of their values is a real identifier value).
    """

    columns: tuple[ColumnProtection, ...]
    released_spec: ReleaseSpec
    recognizers: tuple[DeclaredRecognizer, ...] = ()

    def actions(self) -> dict[str, str]:
        """Column -> applied action, for the run summary, `protection.json`, the manifest and the report."""
        return {c.name: c.action for c in self.columns}

    @property
    def redacted(self) -> list[str]:
        """Unmodelled columns redacted for review in the private workspace, never released."""
        return [c.name for c in self.columns if c.action == "redact" and c.released is None]

    def training_copy(self, source: pd.DataFrame) -> pd.DataFrame:
        """The modelled released columns of `source`, each mapped onto its released domain."""
        return pd.DataFrame({c.name: c.transform(source[c.name]) for c in self.columns if c.modelled})

    def redacted_copy(self, source: pd.DataFrame) -> pd.DataFrame:
        """The redacted unmodelled columns, entities replaced by `<ENTITY>`; nulls stay null."""
        out = {}
        for name in self.redacted:
            values = source[name]
            present = values.notna()
            text = values[present].astype(str).tolist()
            column = pd.Series(None, index=values.index, dtype=object)
            column[present] = redact(text, self.recognizers)
            out[name] = column
        return pd.DataFrame(out, index=source.index)


def _matching_action(spec: ReleaseSpec, verdict: ColumnVerdict | None) -> tuple[str, GeneralizeLevel | None] | None:
    """The action on the column's entity if there is one, else on its role.

    An entity or an identifier role counts only at the policy's `min_score`; free text and the
    name-based roles (sensitive, attribute) are matched by their role alone.
    """
    if verdict is None or verdict.name in spec.pii.allow:
        return None
    actions = spec.pii.actions
    sure = verdict.score >= spec.pii.min_score
    chosen = None
    if verdict.entity is not None and sure and verdict.entity in actions:
        chosen = actions[verdict.entity]
    elif verdict.role in actions and (sure or verdict.role not in _ROLE_NEEDS_SCORE):
        chosen = actions[verdict.role]
    if chosen is None:
        return None
    if isinstance(chosen, Generalize):
        return "generalize", chosen.generalize
    return chosen, None


def _default_level(column: Column) -> GeneralizeLevel:
    if column.type is ColumnType.DATE:
        return "year"
    if column.type is ColumnType.CATEGORICAL:
        return "zip3"
    if column.type is ColumnType.INTEGER:
        return min(DEFAULT_BANDS, int(column.bounds[1]) - int(column.bounds[0]) + 1)
    return DEFAULT_BANDS


def _categorical(source: Column, mapping: dict[str, str], action: str, **extra: object) -> ColumnProtection:
    released = list(dict.fromkeys(mapping.values()))
    if source.other_label in released:
        raise InputError(f"pii.actions: {action} of column {source.name} maps a category onto its other_label; "
                         "set a different other_label")
    column = source.model_copy(update={"categories": released})
    return ColumnProtection(source, action, released=column, mapping=mapping, **extra)


def _not_applicable(column: Column, action: str, why: str) -> InputError:
    return InputError(f"pii.actions: column {column.name} resolves to {action}, which does not apply to its "
                      f"type {column.type.value}: {why}")


def _protect_column(column: Column, verdict: ColumnVerdict | None, choice: tuple[str, GeneralizeLevel | None] | None,
                    key: bytes | None, fakes: Fakes, recognizers: tuple[DeclaredRecognizer, ...]) -> ColumnProtection:
    entity = verdict.entity if verdict is not None else None
    if choice is None:
        return ColumnProtection(column, KEEP if column.modelled else WITHHOLD, entity,
                                released=column if column.modelled else None)
    action, level = choice
    kind = column.type
    if action == "pseudonymize" and key is None:
        raise InputError(f"pii.actions: column {column.name} is pseudonymized but no key was given")
    if action == "drop":
        return ColumnProtection(column, action, entity)
    if not column.modelled:
        if action == "redact":
            return ColumnProtection(column, action, entity)
        if kind is ColumnType.TEXT:
            raise _not_applicable(column, action, "free text is dropped or redacted")
        if action == "generalize":
            raise _not_applicable(column, action, "an identifier has no declared domain to generalize")
        if action == "fake" and not Fakes.can_draw(entity):
            raise _not_applicable(column, action, f"no fake generator for entity {entity}; use pseudonymize or drop")
        return ColumnProtection(column, action, entity, released=column)
    if column.estimated:
        raise _not_applicable(column, action, "it needs the declared domain, and this one is estimated "
                                              "from the data after protection; declare it")
    if action == "generalize":
        level = _default_level(column) if level is None else level
        return _generalized(column, level, entity)
    if kind is not ColumnType.CATEGORICAL:
        raise _not_applicable(column, action, "it replaces category values; use generalize or drop")
    categories = [c.strip() for c in column.categories]
    if action == "pseudonymize":
        return _categorical(column, {c: pseudonymize(c, key) for c in categories}, action, entity=entity)
    if action == "fake":
        return _categorical(column, _distinct_fakes(categories, [column.other_label], entity, fakes), action,
                            entity=entity)
    return _categorical(column, dict(zip(categories, redact(categories, recognizers))), action, entity=entity)


def _distinct_fakes(categories: list[str], reserved: list[str], entity: str | None, fakes: Fakes) -> dict[str, str]:
    """One fake per category, all different and none equal to a declared category, so no two merge."""
    taken = set(categories) | set(reserved)
    mapping: dict[str, str] = {}
    for category in categories:
        fake = fakes.like(category, entity)
        for _ in range(_MAX_DRAWS):
            if fake not in taken:
                break
            fake = fakes.draw_like(category, entity)
        else:
            raise BlockedError(f"fake: could not draw distinct fakes for entity {entity}")
        mapping[category] = fake
        taken.add(fake)
    return mapping


def _generalized(column: Column, level: GeneralizeLevel, entity: str | None) -> ColumnProtection:
    kind = column.type
    if kind is ColumnType.DATE:
        if level not in ("year", "month"):
            raise _not_applicable(column, f"generalize {level}", "dates generalize to year or month")
        lo, hi = column.bounds
        labels = [str(y) for y in range(lo.year, hi.year + 1)] if level == "year" else _months(lo, hi)
    elif kind in (ColumnType.INTEGER, ColumnType.FLOAT):
        if not isinstance(level, int):
            raise _not_applicable(column, f"generalize {level}", "numbers generalize to a number of bands")
        labels = _bands(column, level)[1]
    elif kind is ColumnType.CATEGORICAL:
        if level != "zip3":
            raise _not_applicable(column, f"generalize {level}", "categories generalize to zip3 (ZIP codes)")
        categories = [c.strip() for c in column.categories]
        if not all(re.match(r"^\d{3}", c) for c in categories):
            raise _not_applicable(column, "generalize zip3", "every declared category must start with 3 digits")
        return _categorical(column, {c: c[:3] for c in categories}, "generalize", entity=entity, level=level)
    else:
        raise _not_applicable(column, "generalize", "only dates, numbers and ZIP categories generalize")
    released = Column(name=column.name, type=ColumnType.CATEGORICAL, categories=labels,
                      nullable=column.nullable, other_label=column.other_label)
    return ColumnProtection(column, "generalize", entity, released=released, level=level)


def protect_columns(
    spec: ReleaseSpec, verdicts: Iterable[ColumnVerdict], key: bytes | None, fakes: Fakes | None = None,
    recognizers: tuple[DeclaredRecognizer, ...] = (),
) -> Protection:
    """Resolve the policy for every declared column and derive the released spec.

    Touches no data: the released domains come from the declared metadata. An action that
    does not fit its column, or a policy that leaves nothing to model, is an InputError
    (exit 2), raised before any budget is reserved.
    """
    by_name = {v.name: v for v in verdicts}
    fakes = fakes or Fakes()
    columns = tuple(
        _protect_column(c, by_name.get(c.name), _matching_action(spec, by_name.get(c.name)), key, fakes, recognizers)
        for c in spec.columns
    )
    released = [c for c in columns if c.released is not None]
    if not any(c.modelled for c in released):
        raise InputError("pii.actions: the policy leaves no modelled column, so no column would be released")
    replaced = [c.name for c in released if c.replaced]
    raw = spec.model_dump(mode="json")
    raw["columns"] = [c.released.model_dump(mode="json", exclude_defaults=True) for c in released]
    raw["pii"]["allow"] = [n for n in spec.pii.allow if n in {c.name for c in released}] + replaced
    try:
        released_spec = ReleaseSpec.model_validate(raw)
    except ValidationError as exc:
        reasons = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise InputError(f"pii.actions: after the policy's actions the release is not valid: {reasons}") from None
    return Protection(columns, released_spec, recognizers)


def read_released_spec(path: str | Path) -> ReleaseSpec:
    """The released spec a run's protect stage wrote (`RELEASED_SPEC_FILE` in its workspace)."""
    return ReleaseSpec.model_validate_json(Path(path).read_text(encoding="utf-8"))


def replacement_columns(
    released_spec: ReleaseSpec, actions: Mapping[str, str], entities: Mapping[str, str | None], rows: int,
    avoid: frozenset[str], fakes: Fakes | None = None,
) -> dict[str, list[str]]:
    """Values of the identifier columns the release carries: one fresh token or fake per synthetic row.

    Tokens come from OS randomness, so none is any real value's token; a fake equal to any value
    in `avoid` (the source's identifier values) is drawn again.
    """
    fakes = fakes or Fakes()
    out: dict[str, list[str]] = {}
    for column in released_spec.columns:
        if column.modelled:
            continue
        if actions[column.name] == "pseudonymize":
            out[column.name] = fresh_tokens(rows)
            continue
        entity = entities[column.name]
        values = []
        for _ in range(rows):
            fake = fakes.new(entity)
            draws = 1
            while fake in avoid:
                if draws >= _MAX_DRAWS:
                    raise BlockedError(f"fake: could not draw a fake for column {column.name} unlike every real value")
                fake, draws = fakes.new(entity), draws + 1
            values.append(fake)
        out[column.name] = values
    return out
