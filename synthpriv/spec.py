"""The release spec: one YAML file per released dataset, validated before any data is read.

Everything the synthesizer needs to know about a column's domain (type, bounds, category
set, bins) is declared here as public metadata, so nothing is inferred from the data
without paying privacy budget for it. Models are frozen and forbid unknown fields: a
typo is an error that names the field, never a setting silently ignored.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidatorFunctionWrapHandler,
    WrapValidator, field_validator, model_validator,
)

from synthpriv.errors import SpecError

#: Above this epsilon the guarantee is weak enough that a spec must opt in explicitly.
LARGE_EPSILON = 10.0
#: A column with at most this many integer values gets one bin per value by default.
MAX_EXACT_INTEGER_BINS = 64
DEFAULT_BINS = 32


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnType(str, Enum):
    """How a column is released. `identifier` and `text` columns are never modelled."""

    INTEGER = "integer"
    FLOAT = "float"
    DATE = "date"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    IDENTIFIER = "identifier"
    TEXT = "text"


NUMERIC_TYPES = {ColumnType.INTEGER, ColumnType.FLOAT, ColumnType.DATE}
UNMODELLED_TYPES = {ColumnType.IDENTIFIER, ColumnType.TEXT}


class Column(_Frozen):
    """Public metadata of one source column: known without looking at the data.

    A numeric column's `bounds` or a categorical column's `categories` may instead be
    `estimate`: then a DP mechanism (synthpriv.dp_domain) finds them on the data, spending
    `estimate_epsilon` out of the release's epsilon. The code space size (bins, or the
    number of categories kept) stays public, so only the edges or labels are learned.
    """

    name: Annotated[str, Field(min_length=1)]
    type: ColumnType
    bounds: tuple[float, float] | tuple[dt.date, dt.date] | Literal["estimate"] | None = None
    bins: Annotated[int, Field(ge=2, le=1000)] | None = None
    categories: list[str] | Literal["estimate"] | None = None
    nullable: bool = False
    other_label: str = "OTHER"
    estimate_epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _domain_is_declared(self) -> Column:
        t = self.type
        if self.estimated and self.estimate_epsilon is None:
            raise ValueError("a domain to 'estimate' needs 'estimate_epsilon', the epsilon its DP estimate may spend")
        if self.estimate_epsilon is not None and not self.estimated:
            raise ValueError("'estimate_epsilon' applies only to 'bounds: estimate' or 'categories: estimate'")
        if t in NUMERIC_TYPES:
            if self.bounds is None:
                raise ValueError(f"a {t.value} column needs public 'bounds' [lower, upper] "
                                 "(or 'bounds: estimate' with an 'estimate_epsilon')")
            if self.categories is not None:
                raise ValueError(f"a {t.value} column takes bounds, not categories")
            if self.bounds != "estimate":
                self._check_bounds()
        elif t is ColumnType.CATEGORICAL:
            if not self.categories:
                raise ValueError("a categorical column needs its public 'categories' "
                                 "(or 'categories: estimate' with an 'estimate_epsilon')")
            if self.categories != "estimate":
                if len(set(self.categories)) != len(self.categories):
                    raise ValueError("categories must be unique")
                if self.other_label in self.categories:
                    raise ValueError("other_label must not be one of the categories")
        if t not in NUMERIC_TYPES and (self.bounds is not None or self.bins is not None):
            raise ValueError(f"a {t.value} column takes no bounds or bins")
        if t is not ColumnType.CATEGORICAL and self.categories is not None:
            raise ValueError(f"a {t.value} column takes no categories")
        return self

    def _check_bounds(self) -> None:
        t, (lo, hi) = self.type, self.bounds
        if t is ColumnType.DATE and not isinstance(lo, dt.date):
            raise ValueError("a date column needs date bounds (YYYY-MM-DD)")
        if t is not ColumnType.DATE and isinstance(lo, dt.date):
            raise ValueError(f"a {t.value} column needs numeric bounds")
        if isinstance(lo, float) and not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("bounds must be finite")
        if not lo < hi:
            raise ValueError("bounds must have lower < upper")

    @property
    def estimated(self) -> bool:
        """Whether part of this column's domain is still to be found by a DP mechanism."""
        return self.bounds == "estimate" or self.categories == "estimate"

    @property
    def modelled(self) -> bool:
        """Whether the synthesizer sees this column at all."""
        return self.type not in UNMODELLED_TYPES

    @property
    def bin_count(self) -> int:
        """Bins for a numeric column: one per value for small declared integer ranges."""
        if self.bins is not None:
            return self.bins
        if self.type is ColumnType.INTEGER and isinstance(self.bounds, tuple):
            width = int(self.bounds[1]) - int(self.bounds[0]) + 1
            if width <= MAX_EXACT_INTEGER_BINS:
                return width
        return DEFAULT_BINS


class Source(_Frozen):
    """Where the sensitive table is read from: a file, or the bundled sample generator."""

    path: str | None = None
    format: Literal["auto", "csv", "parquet"] = "auto"
    sample: Literal["customers"] | None = None
    rows: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    min_rows: Annotated[int, Field(ge=1)] = 100
    max_out_of_domain_rate: Annotated[float, Field(ge=0, le=1)] = 0.01

    @model_validator(mode="after")
    def _one_source(self) -> Source:
        if (self.path is None) == (self.sample is None):
            raise ValueError("give exactly one of 'path' or 'sample'")
        if self.rows is not None and self.sample is None:
            raise ValueError("'rows' applies only to a 'sample' source")
        return self


#: What the policy does to a column the scan classified (see docs/protection.md).
PiiAction = Literal["drop", "pseudonymize", "fake", "generalize", "redact"]
#: The scan's roles; a key of `pii.actions` is one of these or an entity name.
PiiRole = Literal["direct_identifier", "quasi_identifier", "sensitive", "free_text", "attribute"]
_ROLES = frozenset(PiiRole.__args__)
_ENTITY = r"^[A-Z][A-Z0-9_]*$"
#: Generalization levels: dates to a year or a month, ZIP codes to their 3-digit prefix, or a
#: number of equal-width bands over a numeric column's declared bounds.
GeneralizeLevel = Literal["year", "month", "zip3"] | Annotated[int, Field(strict=True, ge=2, le=100)]


class Generalize(_Frozen):
    """`{generalize: LEVEL}`: generalize with an explicit level instead of the column type's default."""

    generalize: GeneralizeLevel


def _action_key(key: str) -> str:
    if key not in _ROLES and not re.match(_ENTITY, key):
        raise ValueError(
            f"{key!r} is neither a role ({', '.join(sorted(_ROLES))}) nor an entity name in capitals "
            "(such as EMAIL_ADDRESS)"
        )
    return key


def _one_action(value: object, handler: ValidatorFunctionWrapHandler) -> PiiAction | Generalize:
    """One message for a bad action instead of one per member of the union."""
    try:
        return handler(value)
    except ValidationError:
        raise ValueError(
            "an action is drop, pseudonymize, fake, generalize, redact, or {generalize: LEVEL} "
            "with LEVEL year, month, zip3 or a number of bands from 2 to 100"
        ) from None


ActionKey = Annotated[str, AfterValidator(_action_key)]
ActionValue = Annotated[PiiAction | Generalize, WrapValidator(_one_action)]


class DeclaredRecognizerSpec(_Frozen):
    """A recognizer the spec adds to the scan: a regex or a deny-list that names an entity.

    It goes through Presidio's registry like the built-in ones, so a table's own identifiers
    (an employee number, a ward code) are found and then protected by the same policy.
    """

    name: Annotated[str, Field(min_length=1)]
    entity: Annotated[str, Field(pattern=_ENTITY)]
    regex: str | list[str] = Field(default_factory=list)
    deny_list: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    score: Annotated[float, Field(gt=0, le=1)] = 0.6
    context: list[str] = Field(default_factory=list)
    role: PiiRole = "direct_identifier"

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | list[str]) -> str | list[str]:
        """Compile with the engine and flags Presidio uses, so a pattern that passes here also runs there."""
        import regex

        for i, pattern in enumerate([value] if isinstance(value, str) else value):
            where = "" if isinstance(value, str) else f" (item {i})"
            if not pattern:
                raise ValueError(f"empty regular expression{where}")
            try:
                regex.compile(pattern, flags=regex.DOTALL | regex.MULTILINE | regex.IGNORECASE)
            except regex.error as exc:
                raise ValueError(f"invalid regular expression{where}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _finds_something(self) -> DeclaredRecognizerSpec:
        if not self.patterns and not self.deny_list:
            raise ValueError("a recognizer needs a 'regex' or a 'deny_list'")
        return self

    @property
    def patterns(self) -> tuple[str, ...]:
        return (self.regex,) if isinstance(self.regex, str) else tuple(self.regex)

    def declared(self):  # noqa: ANN201 - the scan module (and its pandas import) loads only when a scan runs
        """The scan's form of this recognizer."""
        from synthpriv.scan import DeclaredRecognizer

        return DeclaredRecognizer(
            name=self.name, entity=self.entity, patterns=self.patterns, deny_list=tuple(self.deny_list),
            score=self.score, context=tuple(self.context), role=self.role,
        )


class PiiPolicy(_Frozen):
    """What happens to columns by PII role or entity. Direct identifiers and free text are dropped by default.

    Keys of `actions` are roles or entity names; for a column, an action on its entity wins
    over one on its role. The pseudonymization key is never part of the spec: it comes from
    the environment (SYNTHPRIV_PSEUDONYM_KEY).
    """

    sample_size: Annotated[int, Field(ge=10, le=100_000)] = 200
    min_score: Annotated[float, Field(gt=0, le=1)] = 0.5
    actions: dict[ActionKey, ActionValue] = Field(
        default_factory=lambda: {"direct_identifier": "drop", "free_text": "drop"}
    )
    recognizers: list[DeclaredRecognizerSpec] = Field(default_factory=list)
    allow: list[str] = Field(
        default_factory=list,
        description="Modelled columns the scan may flag without blocking the release; the policy "
                    "leaves them as declared.",
    )
    undeclared_columns: Literal["block", "drop"] = Field(
        default="block",
        description="block: a source column the spec does not declare stops the run (exit 3 if the scan "
                    "finds personal data in it, else exit 2); drop: such columns are never released.",
    )

    @model_validator(mode="after")
    def _recognizer_names_unique(self) -> PiiPolicy:
        names = [r.name for r in self.recognizers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"recognizers: duplicate names: {', '.join(dupes)}")
        return self

    @property
    def needs_pseudonym_key(self) -> bool:
        """Whether some column may be pseudonymized, so the run needs the key before it reads data."""
        return "pseudonymize" in self.actions.values()

    def declared_recognizers(self) -> tuple:
        """The spec's recognizers in the scan's form (`synthpriv.scan.DeclaredRecognizer`)."""
        return tuple(r.declared() for r in self.recognizers)


class Budget(_Frozen):
    """The dataset's cap across its releases, over a renewal window if one is set."""

    epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    delta: Annotated[float, Field(gt=0, lt=1)] = 1e-6
    renewal_days: Annotated[int, Field(ge=1, le=36_600)] | None = None
    composition: Literal["basic", "zcdp"] = "basic"


class Privacy(_Frozen):
    """The DP parameters of one release.

    `epsilon` and `delta` are the whole release's: DP domain estimation (columns marked
    `estimate`) is paid out of them, and the synthesizer gets the rest. `options` are the
    chosen synthesizer's own parameters; `OPTIONS` lists the ones each accepts (the
    registry in synthpriv.synthesizers reads the same table), and anything else is refused.
    """

    OPTIONS: ClassVar[dict[str, dict[str, str]]] = {
        "mst": {},
        "aim": {"max_model_size": "float", "degree": "int", "num_marginals": "int", "max_cells": "int", "rounds": "int",
                "round_iters": "int", "final_iters": "int", "focus": "str", "merge_mass": "float"},
        "mwem": {"iterations": "int", "q_count": "int", "marginal_width": "int", "max_cells": "int",
                 "mult_weights_iterations": "int", "count_share": "float"},
        "dpctgan": {"epochs": "int", "batch_size": "int", "sigma": "float", "max_per_sample_grad_norm": "float",
                    "embedding_dim": "int", "generator_lr": "float", "discriminator_lr": "float"},
        "patectgan": {"batch_size": "int", "teacher_iters": "int", "student_iters": "int",
                      "sample_per_teacher": "int", "noise_multiplier": "float", "moments_order": "int",
                      "embedding_dim": "int", "generator_lr": "float", "discriminator_lr": "float",
                      "accept_data_dependent_accounting": "bool"},
    }

    epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    delta: Annotated[float, Field(gt=0, le=1e-3)] = 1e-9
    synthesizer: Literal["mst", "aim", "mwem", "patectgan", "dpctgan"] = "aim"
    options: dict[str, int | float | str | bool] = Field(default_factory=dict)
    budget: Budget
    allow_large_epsilon: bool = False

    @model_validator(mode="after")
    def _sane_epsilon(self) -> Privacy:
        if self.epsilon > LARGE_EPSILON and not self.allow_large_epsilon:
            raise ValueError(
                f"epsilon {self.epsilon} is above {LARGE_EPSILON}; "
                "set allow_large_epsilon: true to release with so weak a guarantee"
            )
        if self.epsilon > self.budget.epsilon:
            raise ValueError("epsilon is larger than the dataset's whole budget.epsilon")
        if self.delta > self.budget.delta:
            raise ValueError("delta is larger than the dataset's whole budget.delta")
        problems = self.option_problems(self.synthesizer, self.options)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def option_problems(cls, synthesizer: str, options: dict[str, object]) -> list[str]:
        """Every option the synthesizer does not take, or takes with another type, by name."""
        accepted = cls.OPTIONS[synthesizer]
        problems = []
        for key, value in options.items():
            kind = accepted.get(key)
            if kind is None:
                known = ", ".join(sorted(accepted)) or "none"
                problems.append(f"options.{key}: unknown option for {synthesizer} (it takes: {known})")
            elif not cls._has_kind(value, kind):
                problems.append(f"options.{key}: {synthesizer} needs {'an' if kind == 'int' else 'a'} {kind}")
            elif key == "merge_mass" and value < 0:
                problems.append("options.merge_mass: must be >= 0 (0 keeps every bin)")
            elif kind not in ("bool", "str") and value <= 0 and key != "merge_mass":
                problems.append(f"options.{key}: must be > 0")
            elif key == "count_share" and value >= 1:
                problems.append("options.count_share: must be below 1")
        if synthesizer == "patectgan" and options.get("accept_data_dependent_accounting") is not True:
            problems.append("options.accept_data_dependent_accounting: patectgan stops training on PATE's "
                            "data-dependent privacy estimate; set it to true to accept that weaker guarantee")
        return problems

    @staticmethod
    def _has_kind(value: object, kind: str) -> bool:
        if kind == "bool":
            return isinstance(value, bool)
        if kind == "str":
            return isinstance(value, str)
        if isinstance(value, bool):
            return False
        return isinstance(value, int) if kind == "int" else isinstance(value, (int, float)) and math.isfinite(value)


class Synthesis(_Frozen):
    """How many rows to publish: declared, because a data-derived count would leak."""

    rows: Annotated[int, Field(ge=1, le=10_000_000)]


class PrivacyGate(_Frozen):
    """Thresholds of the privacy gate; a missing threshold is a default, never 'off'.

    `holdout_share` of the protected table is set aside before training: the synthesizer
    never sees it, and the distance metrics compare the release's nearness to training rows
    against its nearness to these.
    """

    holdout_share: Annotated[float, Field(gt=0, le=0.5)] = 0.2
    max_exact_match_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    max_out_of_domain_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    max_dcr_excess: Annotated[float, Field(gt=0, le=1)] = 0.3
    min_nndr_mean: Annotated[float, Field(ge=0, le=1)] = 0.5
    max_membership_auc: Annotated[float, Field(gt=0, le=1)] = 0.6
    max_singling_out_risk: Annotated[float, Field(gt=0, le=1)] = 0.4
    max_linkability_risk: Annotated[float, Field(gt=0, le=1)] = 0.3
    max_inference_risk: Annotated[float, Field(gt=0, le=1)] = 0.4
    attacks: Annotated[int, Field(ge=50, le=100_000, description=(
        "Targets (or predicates) per Anonymeter-style attack; more narrows the intervals and costs time."))] = 500
    singling_out_columns: Annotated[int, Field(ge=2, le=20, description=(
        "Columns per predicate of the multivariate singling-out attack."))] = 3
    linkability_columns: tuple[list[str], list[str]] | None = Field(default=None, description=(
        "The two column sets a linkability attacker holds in separate datasets; "
        "default: the released columns split in spec order."))
    canaries: list[Annotated[str, Field(min_length=4)]] = Field(default_factory=list, description=(
        "Strings planted in the source that must never appear in any cell of the release."))

    @model_validator(mode="after")
    def _linkability_halves(self) -> PrivacyGate:
        if self.linkability_columns is not None:
            first, second = self.linkability_columns
            if not first or not second:
                raise ValueError("linkability_columns needs two non-empty column lists")
            if set(first) & set(second):
                raise ValueError("linkability_columns must not share a column")
        return self


class QualityGate(_Frozen):
    """The quality gate: a Great Expectations suite plus fidelity bars relative to a noise floor.

    `suite` is a file relative to the spec, or None to generate it from the metadata.
    Each fidelity loss (1 - stability, or a marginal error) must stay within
    `factor` x floor + `margin`, where the floor is the mean loss of same-size bootstrap
    resamples of the training table, measured in the same run: sampling noise grows as
    tables shrink, so a fixed bar would either fail every small honest release or pass
    every broken large one. Defaults are calibrated in docs/quality.md.
    """

    class Tolerance(_Frozen):
        """How far above the run's own noise floor a loss may go: factor x floor + margin."""

        factor: Annotated[float, Field(ge=1, le=100)]
        margin: Annotated[float, Field(ge=0, le=1)]

    suite: str | None = None
    field_distribution: Tolerance = Tolerance(factor=12.0, margin=0.05)
    field_correlation: Tolerance = Tolerance(factor=8.0, margin=0.005)
    deep_structure: Tolerance = Tolerance(factor=4.0, margin=0.1)
    two_way_marginals: Tolerance = Tolerance(factor=4.0, margin=0.02)
    three_way_marginals: Tolerance = Tolerance(factor=3.5, margin=0.02)
    tstr_gap: Tolerance = Tolerance(factor=2.0, margin=0.05)
    noise_draws: Annotated[int, Field(ge=1, le=50)] = 5
    pca_components: Annotated[int, Field(ge=1, le=50)] = 5
    target: str | None = Field(
        default=None, description="A released categorical or boolean column: enables the TSTR check.")
    protected: list[str] = Field(
        default_factory=list, description="Released categorical columns whose every category must keep its share.")
    min_subgroup_ratio: Annotated[float, Field(ge=0, le=1)] = 0.2
    min_training_rows: Annotated[int, Field(ge=1)] = 500
    warn_missing_share: Annotated[float, Field(ge=0, le=1)] = 0.2
    warn_synthetic_rows: Annotated[int, Field(ge=0)] = 5_000
    max_rows: Annotated[int, Field(ge=1_000)] = Field(
        default=1_000_000, description="The fidelity metrics, the TSTR check and the reviewer's plots use a uniform "
        "sample of at most this many rows of each table; the expectation suite sees every row. Past a million rows "
        "their sampling error is far below any bar, while memory and time keep growing with the table.")
    every_category_up_to: Annotated[int, Field(ge=0, le=1000)] = Field(
        default=12, description="A categorical column with at most this many declared categories must show every "
        "one of them in the release (a dropped group is a defect); larger sets must show at least half, since a "
        "rare category can vanish under honest DP noise. 0 turns the check off.")


class Gates(_Frozen):
    privacy: PrivacyGate = Field(default_factory=PrivacyGate)
    quality: QualityGate = Field(default_factory=QualityGate)


class Approval(_Frozen):
    """Whether a named reviewer must approve before publishing."""

    required: bool = False


class Publish(_Frozen):
    """Where the release goes and who may read it."""

    dataset: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]{0,62}$")]
    readers: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]{0,62}$")]] = Field(
        default_factory=list,
        description="Teams that may read the dataset; on an S3 store each maps to an IAM user "
                    "(SYNTHPRIV_READER_IDENTITY, default team-{team}).",
    )


class Schedule(_Frozen):
    """How Airflow runs this release."""

    cron: str | None = None
    owner: str = "synthpriv"
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    tags: list[str] = Field(default_factory=list)


class ReleaseSpec(_Frozen):
    """A whole release: the source, its public metadata, policy, privacy, gates and target."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
    description: str = ""
    source: Source
    columns: Annotated[list[Column], Field(min_length=1)]
    pii: PiiPolicy = Field(default_factory=PiiPolicy)
    privacy: Privacy
    synthesis: Synthesis
    gates: Gates = Field(default_factory=Gates)
    approval: Approval = Field(default_factory=Approval)
    publish: Publish
    schedule: Schedule = Field(default_factory=Schedule)

    @model_validator(mode="after")
    def _columns_consistent(self) -> ReleaseSpec:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate column names: {', '.join(dupes)}")
        if not any(c.modelled for c in self.columns):
            raise ValueError("no column would be released: declare at least one modelled column")
        unknown = sorted(set(self.pii.allow) - set(names))
        if unknown:
            raise ValueError(f"pii.allow names columns not in 'columns': {', '.join(unknown)}")
        linked = [n for part in (self.gates.privacy.linkability_columns or ()) for n in part]
        unlinked = sorted(set(linked) - {c.name for c in self.modelled_columns})
        if unlinked:
            raise ValueError(f"gates.privacy.linkability_columns must name released columns: {', '.join(unlinked)}")
        focus = self.privacy.options.get("focus")
        if focus is not None and focus not in {c.name for c in self.modelled_columns}:
            raise ValueError(f"privacy.options.focus must name a released column: {focus}")
        discrete = {c.name for c in self.modelled_columns if c.type in (ColumnType.CATEGORICAL, ColumnType.BOOLEAN)}
        q = self.gates.quality
        wrong = sorted({n for n in [*([q.target] if q.target else []), *q.protected] if n not in discrete})
        if wrong:
            raise ValueError("gates.quality.target and gates.quality.protected must name released categorical "
                             f"or boolean columns: {', '.join(wrong)}")
        return self

    @property
    def modelled_columns(self) -> list[Column]:
        return [c for c in self.columns if c.modelled]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _where(loc: tuple[int | str, ...], raw: object) -> str:
    """Render an error location with column names instead of list indices where possible."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            name = node.get("name") if isinstance(node, dict) else None
            parts.append(f"[{name}]" if name else f"[{item}]")
        else:
            node = node.get(item) if isinstance(node, dict) else None
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts) or "(spec)"


def parse_spec(raw: object, path: str = "<spec>") -> ReleaseSpec:
    """Validate a parsed YAML document, reporting every problem at once."""
    if not isinstance(raw, dict):
        raise SpecError(path, ["the spec must be a YAML mapping"])
    try:
        return ReleaseSpec.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(x for x in err["loc"] if not str(x).startswith(("function-after", "tuple[")))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (typo?)"
            problems.append(f"{_where(loc, raw)}: {msg}")
        raise SpecError(path, problems) from None


def load_spec(path: str | Path) -> ReleaseSpec:
    """Read and validate a spec file. Touches only the spec, never the data it names."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(p), [f"cannot read the spec file: {exc.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(str(p), [f"not valid YAML: {exc}"]) from None
    return parse_spec(raw, str(p))
