"""The ledger's first schema: per-dataset caps and per-run reservations.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budget_caps",
        sa.Column("dataset", sa.String(128), primary_key=True),
        sa.Column("cap_epsilon", sa.Float, nullable=False),
        sa.Column("cap_delta", sa.Float, nullable=False),
        sa.Column("renewal_days", sa.Integer, nullable=True),
        sa.Column("composition", sa.String(16), nullable=False, server_default="basic"),
    )
    op.create_table(
        "budget_reservations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(256), nullable=False),
        sa.Column("epsilon", sa.Float, nullable=False),
        sa.Column("delta", sa.Float, nullable=False),
        sa.Column("rho", sa.Float, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("mechanism", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dataset", "run_id", name="uq_reservation_key"),
    )
    op.create_index("ix_reservations_dataset_state", "budget_reservations", ["dataset", "state"])


def downgrade() -> None:
    op.drop_index("ix_reservations_dataset_state", "budget_reservations")
    op.drop_table("budget_reservations")
    op.drop_table("budget_caps")
