"""Where a run keeps its private workspace, its ledger and the shared store.

Deployment configuration, not part of a release spec: the same spec runs on a laptop
with the embedded defaults (a folder and a SQLite file under `.synthpriv/`) and in
Airflow against PostgreSQL and a shared store, by setting environment variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from synthpriv.access import DEFAULT_READER_IDENTITY, check_identity_template
from synthpriv.errors import InputError


@dataclass(frozen=True)
class Settings:
    home: Path
    workspace_root: Path
    store: str
    ledger_url: str
    keep_workspace: bool = False
    workspace_retention_days: float = 7.0
    #: The pseudonymization key (SYNTHPRIV_PSEUDONYM_KEY): a secret, so never printed with the settings.
    pseudonym_key: str | None = field(default=None, repr=False)
    reader_identity: str = DEFAULT_READER_IDENTITY

    def __post_init__(self) -> None:
        try:
            check_identity_template(self.reader_identity)
        except ValueError as exc:
            raise InputError(f"SYNTHPRIV_READER_IDENTITY {self.reader_identity!r}: {exc}") from None

    @classmethod
    def from_env(cls, home: str | Path | None = None) -> Settings:
        """SYNTHPRIV_HOME (default `./.synthpriv`), SYNTHPRIV_WORKSPACE, SYNTHPRIV_STORE (a folder,
        or `s3://bucket/prefix` with credentials in the standard AWS_* variables),
        SYNTHPRIV_LEDGER_URL, SYNTHPRIV_KEEP_WORKSPACE, SYNTHPRIV_WORKSPACE_RETENTION_DAYS
        (how long a failed run's workspace is kept for diagnosis) and SYNTHPRIV_READER_IDENTITY
        (the IAM user each reader team reads an S3 store as, `team-{team}` by default)
        override the embedded defaults. SYNTHPRIV_PSEUDONYM_KEY is the HMAC key of `pseudonymize`
        (in Airflow, exported from a connection): it lives only in the environment, never in a
        spec or the repo."""
        root = Path(home or os.environ.get("SYNTHPRIV_HOME", ".synthpriv")).absolute()
        return cls(
            home=root,
            workspace_root=Path(os.environ.get("SYNTHPRIV_WORKSPACE", root / "workspace")).absolute(),
            store=_store_location(os.environ.get("SYNTHPRIV_STORE", str(root / "store"))),
            ledger_url=os.environ.get("SYNTHPRIV_LEDGER_URL", f"sqlite:///{root / 'ledger.sqlite'}"),
            keep_workspace=os.environ.get("SYNTHPRIV_KEEP_WORKSPACE", "") not in ("", "0", "false"),
            workspace_retention_days=float(os.environ.get("SYNTHPRIV_WORKSPACE_RETENTION_DAYS", "7")),
            reader_identity=os.environ.get("SYNTHPRIV_READER_IDENTITY", DEFAULT_READER_IDENTITY),
            pseudonym_key=os.environ.get("SYNTHPRIV_PSEUDONYM_KEY") or None,
        )


def _store_location(value: str) -> str:
    return value if value.startswith("s3://") else str(Path(value).absolute())
