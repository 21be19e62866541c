"""Publishing is create-only, complete-or-invisible, and idempotent per run."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from synthpriv.store import DATA, MANIFEST, IntegrityError, LocalStore


@pytest.fixture
def files(tmp_path):
    data = tmp_path / "d.parquet"
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(data)
    report = tmp_path / "r.html"
    report.write_text("<html></html>")
    return data, report


def test_versions_are_new_never_overwritten_and_latest_moves(tmp_path, files):
    store = LocalStore(tmp_path / "store")
    v1 = store.publish("ds", "run-1", *files, {"epsilon": 1.0})
    first_manifest = (tmp_path / "store" / "ds" / "v1" / MANIFEST).read_text()
    v2 = store.publish("ds", "run-2", *files, {"epsilon": 1.0})
    assert (v1.version, v2.version) == ("v1", "v2")
    assert (tmp_path / "store" / "ds" / "v1" / MANIFEST).read_text() == first_manifest
    assert store.latest("ds") == "v2" and store.versions("ds") == ["v1", "v2"]
    assert store.read("ds").equals(pd.DataFrame({"a": [1, 2, 3]}))


def test_a_retry_of_the_same_run_does_not_publish_twice(tmp_path, files):
    store = LocalStore(tmp_path / "store")
    a = store.publish("ds", "run-1", *files, {"epsilon": 1.0})
    b = store.publish("ds", "run-1", *files, {"epsilon": 1.0})
    assert a.version == b.version == "v1" and store.versions("ds") == ["v1"]


def test_a_version_without_manifest_is_invisible_and_resumed_by_its_run(tmp_path, files):
    store = LocalStore(tmp_path / "store")
    crashed = tmp_path / "store" / "ds" / "v1"
    crashed.mkdir(parents=True)
    (crashed / ".run_id").write_text("run-1")
    (crashed / DATA).write_bytes(b"partial")
    assert store.versions("ds") == [] and store.datasets() == []
    done = store.publish("ds", "run-1", *files, {"epsilon": 1.0})
    assert done.version == "v1" and store.versions("ds") == ["v1"]


def test_manifest_is_create_only_and_hashes_are_checked(tmp_path, files):
    store = LocalStore(tmp_path / "store")
    pub = store.publish("ds", "run-1", *files, {"epsilon": 1.0})
    manifest = json.loads((tmp_path / "store" / "ds" / "v1" / MANIFEST).read_text())
    assert set(manifest["files"]) == {"data.parquet", "report.html"} and manifest["run_id"] == "run-1"
    with pytest.raises(FileExistsError):
        open(tmp_path / "store" / "ds" / pub.version / MANIFEST, "x").close()
    (tmp_path / "store" / "ds" / "v1" / DATA).write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        store.read("ds", "v1")
