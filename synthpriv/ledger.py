"""The privacy-budget ledger: every epsilon spent on a dataset, recorded durably.

A release reserves its (epsilon, delta) before the data are touched; the reservation is
marked spent the moment a DP mechanism reads the data (published or not), and released
if it was never used. The key (dataset, run id) makes retries idempotent: the same run
never reserves twice. Reservations for one dataset are serialised on a lock (the cap row
`FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so concurrent runs cannot
overspend. Composition is basic sequential composition: the sum of what was spent and
reserved never passes the cap.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from dataclasses import asdict, dataclass

from sqlalchemy import (
    Column, DateTime, Float, Integer, MetaData, String, Table, UniqueConstraint, create_engine, event,
    func, select,
)
from sqlalchemy.engine import Connection, Engine, make_url

from synthpriv.errors import BudgetExceededError

RESERVED, SPENT, RELEASED = "reserved", "spent", "released"

_meta = MetaData()
caps = Table(
    "budget_caps", _meta,
    Column("dataset", String(128), primary_key=True),
    Column("cap_epsilon", Float, nullable=False),
    Column("cap_delta", Float, nullable=False),
)
reservations = Table(
    "budget_reservations", _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(128), nullable=False),
    Column("run_id", String(256), nullable=False),
    Column("epsilon", Float, nullable=False),
    Column("delta", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("mechanism", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dataset", "run_id", name="uq_reservation_key"),
)


@dataclass(frozen=True)
class Reservation:
    dataset: str
    run_id: str
    epsilon: float
    delta: float
    state: str
    mechanism: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


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


class Ledger:
    """Reservations against per-dataset caps, in SQLite or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        _meta.create_all(self.engine)

    def _get(self, conn: Connection, dataset: str, run_id: str) -> Reservation | None:
        row = conn.execute(
            select(reservations).where(reservations.c.dataset == dataset, reservations.c.run_id == run_id)
        ).mappings().first()
        if row is None:
            return None
        return Reservation(row["dataset"], row["run_id"], row["epsilon"], row["delta"], row["state"], row["mechanism"])

    def reserve(
        self, dataset: str, run_id: str, epsilon: float, delta: float,
        cap_epsilon: float, cap_delta: float, mechanism: str,
    ) -> Reservation:
        """Reserve budget for a run, or return the run's existing reservation (retries)."""
        with self.engine.begin() as conn:
            cap_row = conn.execute(select(caps).where(caps.c.dataset == dataset).with_for_update()).first()
            if cap_row is None:
                conn.execute(caps.insert().values(dataset=dataset, cap_epsilon=cap_epsilon, cap_delta=cap_delta))
                conn.execute(select(caps).where(caps.c.dataset == dataset).with_for_update()).first()
            else:
                conn.execute(caps.update().where(caps.c.dataset == dataset).values(
                    cap_epsilon=cap_epsilon, cap_delta=cap_delta))
            existing = self._get(conn, dataset, run_id)
            if existing is not None:
                return existing
            used_eps, used_delta = self._used(conn, dataset)
            if used_eps + epsilon > cap_epsilon + 1e-12 or used_delta + delta > cap_delta + 1e-18:
                raise BudgetExceededError(
                    f"budget of dataset {dataset!r} exhausted: this release needs epsilon {epsilon:g}, "
                    f"delta {delta:g}; remaining epsilon {max(cap_epsilon - used_eps, 0):g}, "
                    f"delta {max(cap_delta - used_delta, 0):g} of the cap ({cap_epsilon:g}, {cap_delta:g}); "
                    "the cap has no renewal period, so raise it in the spec only with compliance's approval"
                )
            now = _now()
            conn.execute(reservations.insert().values(
                dataset=dataset, run_id=run_id, epsilon=epsilon, delta=delta, state=RESERVED,
                mechanism=mechanism, created_at=now, updated_at=now))
            return Reservation(dataset, run_id, epsilon, delta, RESERVED, mechanism)

    @staticmethod
    def _used(conn: Connection, dataset: str) -> tuple[float, float]:
        row = conn.execute(
            select(func.coalesce(func.sum(reservations.c.epsilon), 0.0), func.coalesce(func.sum(reservations.c.delta), 0.0))
            .where(reservations.c.dataset == dataset, reservations.c.state != RELEASED)
        ).first()
        return float(row[0]), float(row[1])

    def _transition(self, dataset: str, run_id: str, to: str, allowed_from: set[str]) -> Reservation:
        with self.engine.begin() as conn:
            current = self._get(conn, dataset, run_id)
            if current is None:
                raise KeyError(f"no reservation for dataset {dataset!r}, run {run_id!r}")
            if current.state == to:
                return current
            if current.state not in allowed_from:
                raise ValueError(f"reservation of run {run_id!r} is {current.state}; cannot become {to}")
            conn.execute(reservations.update().where(
                reservations.c.dataset == dataset, reservations.c.run_id == run_id).values(state=to, updated_at=_now()))
            return Reservation(**{**asdict(current), "state": to})

    def spend(self, dataset: str, run_id: str) -> Reservation:
        """Mark the reservation spent: call just before a DP mechanism reads the data."""
        return self._transition(dataset, run_id, SPENT, {RESERVED})

    def release(self, dataset: str, run_id: str) -> Reservation | None:
        """Return an unused reservation to the budget; a spent one stays spent."""
        with self.engine.begin() as conn:
            current = self._get(conn, dataset, run_id)
        if current is None or current.state != RESERVED:
            return current
        return self._transition(dataset, run_id, RELEASED, {RESERVED})

    def summary(self, dataset: str) -> dict[str, object]:
        """Cap, spent, reserved, remaining and the history: what `synthpriv budget` shows."""
        with self.engine.connect() as conn:
            cap = conn.execute(select(caps).where(caps.c.dataset == dataset)).mappings().first()
            rows = conn.execute(
                select(reservations).where(reservations.c.dataset == dataset).order_by(reservations.c.id)
            ).mappings().all()
        entries = [
            {"run_id": r["run_id"], "epsilon": r["epsilon"], "delta": r["delta"], "state": r["state"],
             "mechanism": r["mechanism"], "created_at": r["created_at"].isoformat(),
             "updated_at": r["updated_at"].isoformat()}
            for r in rows
        ]
        spent = sum(e["epsilon"] for e in entries if e["state"] == SPENT)
        reserved = sum(e["epsilon"] for e in entries if e["state"] == RESERVED)
        cap_eps = cap["cap_epsilon"] if cap else None
        return {
            "dataset": dataset,
            "cap": {"epsilon": cap_eps, "delta": cap["cap_delta"] if cap else None},
            "spent": spent,
            "reserved": reserved,
            "remaining": None if cap_eps is None else max(cap_eps - spent - reserved, 0.0),
            "entries": entries,
        }
