"""The release spec: one YAML file per released dataset, validated before any data is read.

Everything the synthesizer needs to know about a column's domain (type, bounds, category
set, bins) is declared here as public metadata, so nothing is inferred from the data
without paying privacy budget for it. Models are frozen and forbid unknown fields: a
typo is an error that names the field, never a setting silently ignored.
"""

from __future__ import annotations

import datetime as dt
import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
    """Public metadata of one source column: known without looking at the data."""

    name: Annotated[str, Field(min_length=1)]
    type: ColumnType
    bounds: tuple[float, float] | tuple[dt.date, dt.date] | None = None
    bins: Annotated[int, Field(ge=2, le=1000)] | None = None
    categories: list[str] | None = None
    nullable: bool = False
    other_label: str = "OTHER"

    @model_validator(mode="after")
    def _domain_is_declared(self) -> Column:
        t = self.type
        if t in NUMERIC_TYPES:
            if self.bounds is None:
                raise ValueError(f"a {t.value} column needs public 'bounds' [lower, upper]")
            lo, hi = self.bounds
            if t is ColumnType.DATE and not isinstance(lo, dt.date):
                raise ValueError("a date column needs date bounds (YYYY-MM-DD)")
            if t is not ColumnType.DATE and isinstance(lo, dt.date):
                raise ValueError(f"a {t.value} column needs numeric bounds")
            if isinstance(lo, float) and not (math.isfinite(lo) and math.isfinite(hi)):
                raise ValueError("bounds must be finite")
            if not lo < hi:
                raise ValueError("bounds must have lower < upper")
            if self.categories is not None:
                raise ValueError(f"a {t.value} column takes bounds, not categories")
        elif t is ColumnType.CATEGORICAL:
            if not self.categories:
                raise ValueError("a categorical column needs its public 'categories'")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError("categories must be unique")
            if self.other_label in self.categories:
                raise ValueError("other_label must not be one of the categories")
        if t not in NUMERIC_TYPES and (self.bounds is not None or self.bins is not None):
            raise ValueError(f"a {t.value} column takes no bounds or bins")
        if t is not ColumnType.CATEGORICAL and self.categories is not None:
            raise ValueError(f"a {t.value} column takes no categories")
        return self

    @property
    def modelled(self) -> bool:
        """Whether the synthesizer sees this column at all."""
        return self.type not in UNMODELLED_TYPES

    @property
    def bin_count(self) -> int:
        """Bins for a numeric column: one per value for small integer ranges."""
        if self.bins is not None:
            return self.bins
        if self.type is ColumnType.INTEGER and self.bounds is not None:
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


PiiAction = Literal["drop"]


class PiiPolicy(_Frozen):
    """What happens to columns by PII role or entity. Direct identifiers are dropped by default."""

    sample_size: Annotated[int, Field(ge=10, le=100_000)] = 200
    min_score: Annotated[float, Field(gt=0, le=1)] = 0.5
    actions: dict[str, PiiAction] = Field(
        default_factory=lambda: {"direct_identifier": "drop", "free_text": "drop"}
    )
    allow: list[str] = Field(
        default_factory=list,
        description="Modelled columns the scan may flag without blocking the release.",
    )
    undeclared_columns: Literal["block", "drop"] = Field(
        default="block",
        description="block: a source column the spec does not declare stops the run (exit 3 if the scan "
                    "finds personal data in it, else exit 2); drop: such columns are never released.",
    )


class Budget(_Frozen):
    """The dataset's cap across its releases, over a renewal window if one is set."""

    epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    delta: Annotated[float, Field(gt=0, lt=1)] = 1e-6
    renewal_days: Annotated[int, Field(ge=1, le=36_600)] | None = None
    composition: Literal["basic", "zcdp"] = "basic"


class Privacy(_Frozen):
    """The DP parameters of one release."""

    epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    delta: Annotated[float, Field(gt=0, le=1e-3)] = 1e-9
    synthesizer: Literal["mst", "aim"] = "mst"
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
        return self


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


class QualityGate(_Frozen):
    """The Great Expectations suite: a file relative to the spec, or generated from metadata."""

    suite: str | None = None


class Gates(_Frozen):
    privacy: PrivacyGate = Field(default_factory=PrivacyGate)
    quality: QualityGate = Field(default_factory=QualityGate)


class Approval(_Frozen):
    """Whether a named reviewer must approve before publishing."""

    required: bool = False


class Publish(_Frozen):
    """Where the release goes and who may read it."""

    dataset: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]{0,62}$")]
    readers: list[str] = Field(default_factory=list)


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
