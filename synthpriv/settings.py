"""Where a run keeps its private workspace, its ledger and the shared store.

Deployment configuration, not part of a release spec: the same spec runs on a laptop
with the embedded defaults (a folder and a SQLite file under `.synthpriv/`) and in
Airflow against PostgreSQL and a shared store, by setting environment variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    home: Path
    workspace_root: Path
    store: str
    ledger_url: str
    keep_workspace: bool = False
    workspace_retention_days: float = 7.0

    @classmethod
    def from_env(cls, home: str | Path | None = None) -> Settings:
        """SYNTHPRIV_HOME (default `./.synthpriv`), SYNTHPRIV_WORKSPACE, SYNTHPRIV_STORE (a folder,
        or `s3://bucket/prefix` with credentials in the standard AWS_* variables),
        SYNTHPRIV_LEDGER_URL, SYNTHPRIV_KEEP_WORKSPACE and SYNTHPRIV_WORKSPACE_RETENTION_DAYS
        (how long a failed run's workspace is kept for diagnosis) override the embedded defaults."""
        root = Path(home or os.environ.get("SYNTHPRIV_HOME", ".synthpriv")).absolute()
        return cls(
            home=root,
            workspace_root=Path(os.environ.get("SYNTHPRIV_WORKSPACE", root / "workspace")).absolute(),
            store=_store_location(os.environ.get("SYNTHPRIV_STORE", str(root / "store"))),
            ledger_url=os.environ.get("SYNTHPRIV_LEDGER_URL", f"sqlite:///{root / 'ledger.sqlite'}"),
            keep_workspace=os.environ.get("SYNTHPRIV_KEEP_WORKSPACE", "") not in ("", "0", "false"),
            workspace_retention_days=float(os.environ.get("SYNTHPRIV_WORKSPACE_RETENTION_DAYS", "7")),
        )


def _store_location(value: str) -> str:
    return value if value.startswith("s3://") else str(Path(value).absolute())
