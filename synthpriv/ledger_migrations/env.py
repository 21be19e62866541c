"""Alembic environment for the budget ledger; run programmatically by `synthpriv.ledger`.

The ledger keeps its own version table, so it can live in the same PostgreSQL database
as Airflow's metadata without touching Airflow's migrations.
"""

from alembic import context

VERSION_TABLE = "synthpriv_ledger_version"

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
