"""`make test` fails if a credential is committed: detect-secrets over every file git would track."""

from __future__ import annotations

import subprocess

from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

from tests.conftest import REPO


def _findings(paths: list[str]) -> list[str]:
    secrets = SecretsCollection()
    with default_settings():
        for path in paths:  # one process: scan_files forks a pool, unsafe once JAX's threads are running
            secrets.scan_file(path)
    return [f"{path}:{x['line_number']} {x['type']}" for path, found in secrets.json().items() for x in found]


def test_no_credentials_in_tracked_files():
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    tracked = [str(REPO / f) for f in files if (REPO / f).is_file() and not f.endswith(".lock")]
    assert _findings(tracked) == []


def test_the_check_would_catch_a_committed_key(tmp_path):
    leaked = tmp_path / "settings.py"
    leaked.write_text('AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY9z"\n'  # pragma: allowlist secret
                      'aws_access_key_id = "AKIAIOSFODNN7EXAMPLQ"\n')  # pragma: allowlist secret
    assert _findings([str(leaked)])
