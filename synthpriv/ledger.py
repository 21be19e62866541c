"""The privacy-budget ledger: every epsilon spent on a dataset, recorded durably.

Semantics (what compliance audits):

* A release **reserves** its (epsilon, delta) before the data are touched. The key
  (dataset, run id) makes this idempotent: a retry gets the same reservation back.
* The reservation becomes **spent** the moment a DP mechanism reads the data, whether or
  not the release is later published. Spent budget never comes back.
* A reservation never used is **released**: by the run itself when it fails early, or,
  if the run died, once it expires (24 hours by default) on the next reservation.
* A dataset's cap applies to everything spent or reserved inside its renewal window (the
  last `renewal_days` days; the whole history when there is no renewal period).
* Composition is basic (epsilons and deltas add up). Where every mechanism in the window is
  zCDP (MST and AIM are), the tighter zCDP total converted to (epsilon, delta) is reported
  beside it, and a cap declared with `composition: zcdp` is enforced on that total.

Reservations for one dataset are serialised on a lock (the cap row `FOR UPDATE` on
PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so concurrent runs cannot overspend. The schema
is managed by Alembic migrations (`synthpriv/ledger_migrations`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column, DateTime, Float, Integer, MetaData, String, Table, create_engine, event, select, text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine, make_url

from synthpriv import accounting
from synthpriv.errors import BlockedError, BudgetExceededError

RESERVED, SPENT, RELEASED = "reserved", "spent", "released"
DEFAULT_TTL = dt.timedelta(hours=24)
_MIGRATIONS = Path(__file__).with_name("ledger_migrations")
_VERSION_TABLE = "synthpriv_ledger_version"
_LOCK_KEY = 7_331_001  # pg_advisory_lock key serialising ledger migrations

_meta = MetaData()
caps = Table(
    "budget_caps", _meta,
    Column("dataset", String(128), primary_key=True),
    Column("cap_epsilon", Float, nullable=False),
    Column("cap_delta", Float, nullable=False),
    Column("renewal_days", Integer, nullable=True),
    Column("composition", String(16), nullable=False),
)
reservations = Table(
    "budget_reservations", _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(128), nullable=False),
    Column("run_id", String(256), nullable=False),
    Column("epsilon", Float, nullable=False),
    Column("delta", Float, nullable=False),
    Column("rho", Float, nullable=True),
    Column("state", String(16), nullable=False),
    Column("mechanism", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Cap:
    """A dataset's budget: the most it may spend inside its renewal window."""

    epsilon: float
    delta: float
    renewal_days: int | None = None
    composition: str = "basic"


@dataclass(frozen=True)
class Charge:
    """What one run asks for: (epsilon, delta), and its zCDP rho when the mechanism is zCDP."""

    epsilon: float
    delta: float
    mechanism: str
    rho: float | None = None


@dataclass(frozen=True)
class Reservation:
    dataset: str
    run_id: str
    epsilon: float
    delta: float
    rho: float | None
    state: str
    mechanism: str


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_conn, _record) -> None:  # noqa: ANN001
        dbapi_conn.isolation_level = None  # let us issue BEGIN IMMEDIATE ourselves

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Only one process migrates at a time: an advisory lock on PostgreSQL, a file lock on SQLite."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Bring the ledger schema to the newest revision (a no-op when it is there already)."""
    head = ScriptDirectory(str(_MIGRATIONS)).get_current_head()

    def current() -> str | None:
        with engine.connect() as conn:
            return MigrationContext.configure(conn, opts={"version_table": _VERSION_TABLE}).get_current_revision()

    if current() == head:
        return
    with _migration_lock(engine):
        if current() == head:
            return
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


class Ledger:
    """Reservations against per-dataset caps, in SQLite or PostgreSQL."""

    def __init__(self, url: str, *, ttl: dt.timedelta = DEFAULT_TTL, clock=None) -> None:  # noqa: ANN001
        self.url = url
        self.ttl = ttl
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.engine = _engine(url)
        migrate(self.engine)

    def _get(self, conn: Connection, dataset: str, run_id: str) -> Reservation | None:
        row = conn.execute(
            select(reservations).where(reservations.c.dataset == dataset, reservations.c.run_id == run_id)
        ).mappings().first()
        if row is None:
            return None
        return Reservation(row["dataset"], row["run_id"], row["epsilon"], row["delta"], row["rho"],
                           row["state"], row["mechanism"])

    def _lock_cap(self, conn: Connection, dataset: str, cap: Cap) -> None:
        values = {"cap_epsilon": cap.epsilon, "cap_delta": cap.delta, "renewal_days": cap.renewal_days,
                  "composition": cap.composition}
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        # Create the row if it is missing without racing another first reservation, then lock it:
        # FOR UPDATE on a row that does not exist yet would lock nothing.
        conn.execute(insert(caps).values(dataset=dataset, **values).on_conflict_do_nothing(index_elements=["dataset"]))
        conn.execute(select(caps.c.dataset).where(caps.c.dataset == dataset).with_for_update()).first()
        conn.execute(caps.update().where(caps.c.dataset == dataset).values(**values))

    def _expire(self, conn: Connection, dataset: str, now: dt.datetime) -> None:
        conn.execute(reservations.update().where(
            reservations.c.dataset == dataset, reservations.c.state == RESERVED, reservations.c.expires_at < now,
        ).values(state=RELEASED, updated_at=now))

    @staticmethod
    def _window(rows: list[dict], renewal_days: int | None, now: dt.datetime) -> list[dict]:
        """Entries that count against the cap: not released, and inside the renewal window."""
        start = now - dt.timedelta(days=renewal_days) if renewal_days else None
        return [r for r in rows if r["state"] != RELEASED and (start is None or _utc(r["created_at"]) >= start)]

    @staticmethod
    def totals(window: list[dict]) -> dict[str, object]:
        """Basic and (where every entry is zCDP) zCDP totals of a window of entries."""
        eps = sum(r["epsilon"] for r in window)
        delta = sum(r["delta"] for r in window)
        all_zcdp = bool(window) and all(r["rho"] is not None for r in window)
        out: dict[str, object] = {"basic": {"epsilon": eps, "delta": delta}, "zcdp": None}
        if all_zcdp:
            rho = sum(r["rho"] for r in window)
            out["zcdp"] = {"rho": rho, "epsilon": accounting.epsilon_for(rho, delta), "delta": delta}
        return out

    @staticmethod
    def _enforced_epsilon(totals: dict, composition: str) -> float:
        if composition == "zcdp" and totals["zcdp"] is not None:
            return totals["zcdp"]["epsilon"]
        return totals["basic"]["epsilon"]

    def reserve(self, dataset: str, run_id: str, charge: Charge, cap: Cap) -> Reservation:
        """Reserve budget for a run, or return the run's existing reservation (retries)."""
        now = self._clock()
        with self.engine.begin() as conn:
            self._lock_cap(conn, dataset, cap)
            existing = self._get(conn, dataset, run_id)
            if existing is not None and existing.state != RELEASED:
                return existing
            self._expire(conn, dataset, now)
            rows = [dict(r) for r in conn.execute(select(reservations).where(reservations.c.dataset == dataset)).mappings()]
            window = self._window(rows, cap.renewal_days, now)
            new = {"epsilon": charge.epsilon, "delta": charge.delta, "rho": charge.rho, "state": RESERVED, "created_at": now}
            before, after = self.totals(window), self.totals([*window, new])
            used, needed = self._enforced_epsilon(before, cap.composition), self._enforced_epsilon(after, cap.composition)
            if needed > cap.epsilon + 1e-9 or after["basic"]["delta"] > cap.delta * (1 + 1e-9):
                raise BudgetExceededError(self._refusal(dataset, charge, cap, used, before, window))
            values = {"epsilon": charge.epsilon, "delta": charge.delta, "rho": charge.rho, "state": RESERVED,
                      "mechanism": charge.mechanism, "updated_at": now, "expires_at": now + self.ttl}
            if existing is not None:  # a released reservation of this run is taken up again
                conn.execute(reservations.update().where(
                    reservations.c.dataset == dataset, reservations.c.run_id == run_id).values(created_at=now, **values))
            else:
                conn.execute(reservations.insert().values(dataset=dataset, run_id=run_id, created_at=now, **values))
            return Reservation(dataset, run_id, charge.epsilon, charge.delta, charge.rho, RESERVED, charge.mechanism)

    def _refusal(self, dataset: str, charge: Charge, cap: Cap, used: float, before: dict, window: list[dict]) -> str:
        remaining = max(cap.epsilon - used, 0.0)
        if cap.renewal_days and window:
            oldest = min(_utc(r["created_at"]) for r in window)
            renews = f"budget starts renewing on {(oldest + dt.timedelta(days=cap.renewal_days)).date().isoformat()}"
        else:
            renews = "the cap has no renewal period"
        return (
            f"budget of dataset {dataset!r} exhausted: this release needs epsilon {charge.epsilon:g}, "
            f"delta {charge.delta:g}; remaining epsilon {remaining:g} "
            f"(delta {max(cap.delta - before['basic']['delta'], 0.0):g}) of the cap "
            f"({cap.epsilon:g}, {cap.delta:g}, {cap.composition} composition); {renews}"
        )

    def _transition(self, dataset: str, run_id: str, to: str, allowed_from: set[str]) -> Reservation:
        with self.engine.begin() as conn:
            current = self._get(conn, dataset, run_id)
            if current is None:
                raise KeyError(f"no reservation for dataset {dataset!r}, run {run_id!r}")
            if current.state == to:
                return current
            if current.state not in allowed_from:
                raise BlockedError(
                    f"budget: the reservation of run {run_id!r} is {current.state} and cannot become {to}; "
                    "start a new run"
                )
            conn.execute(reservations.update().where(
                reservations.c.dataset == dataset, reservations.c.run_id == run_id,
            ).values(state=to, updated_at=self._clock()))
            return Reservation(**{**asdict(current), "state": to})

    def get(self, dataset: str, run_id: str) -> Reservation | None:
        with self.engine.connect() as conn:
            return self._get(conn, dataset, run_id)

    def spend(self, dataset: str, run_id: str) -> Reservation:
        """Mark the reservation spent: call just before a DP mechanism reads the data.

        A reservation that expired and was released cannot be spent: its budget may already
        belong to another run.
        """
        return self._transition(dataset, run_id, SPENT, {RESERVED})

    def release(self, dataset: str, run_id: str) -> Reservation | None:
        """Return an unused reservation to the budget; a spent one stays spent."""
        current = self.get(dataset, run_id)
        if current is None or current.state != RESERVED:
            return current
        return self._transition(dataset, run_id, RELEASED, {RESERVED})

    def summary(self, dataset: str) -> dict[str, object]:
        """Cap, spent, reserved, remaining, the zCDP total and the history: `synthpriv budget`."""
        now = self._clock()
        with self.engine.connect() as conn:
            cap = conn.execute(select(caps).where(caps.c.dataset == dataset)).mappings().first()
            rows = [dict(r) for r in conn.execute(
                select(reservations).where(reservations.c.dataset == dataset).order_by(reservations.c.id)).mappings()]
        renewal = cap["renewal_days"] if cap else None
        window = self._window(
            [r for r in rows if not (r["state"] == RESERVED and _utc(r["expires_at"]) < now)], renewal, now)
        totals = self.totals(window)
        spent = sum(r["epsilon"] for r in window if r["state"] == SPENT)
        reserved = sum(r["epsilon"] for r in window if r["state"] == RESERVED)
        composition = cap["composition"] if cap else "basic"
        used = self._enforced_epsilon(totals, composition)
        entries = [
            {"run_id": r["run_id"], "epsilon": r["epsilon"], "delta": r["delta"], "rho": r["rho"], "state": r["state"],
             "mechanism": r["mechanism"], "created_at": _utc(r["created_at"]).isoformat(),
             "updated_at": _utc(r["updated_at"]).isoformat(), "in_window": r in window}
            for r in rows
        ]
        return {
            "dataset": dataset,
            "cap": {"epsilon": cap["cap_epsilon"], "delta": cap["cap_delta"], "renewal_days": renewal,
                    "composition": composition} if cap else None,
            "spent": spent,
            "reserved": reserved,
            "remaining": max(cap["cap_epsilon"] - used, 0.0) if cap else None,
            "composition": {"basic": totals["basic"], "zcdp": totals["zcdp"]},
            "entries": entries,
        }
