"""The shared store: where approved releases are published and consumers read them.

Layout: `<dataset>/<version>/data.parquet`, `report.html`, `manifest.json`. A publish
claims a fresh version folder, writes the data and report, verifies their hashes, and
writes the manifest last with an exclusive create, so a version exists for readers only
once it is complete and can never be overwritten. The `latest` pointer moves only after
the manifest exists. A retry of the same run finds its own version and does not publish
twice. This module owns all I/O to the store.

Who may read a dataset is the manifest's `readers`. An S3 store also makes the server
enforce it (`synthpriv.access`) before anything of the version is written; a folder store
only records it, and the folder's file-system permissions are the operator's job.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from synthpriv.errors import SynthprivError

MANIFEST = "manifest.json"
DATA = "data.parquet"
REPORT = "report.html"
_CLAIM = ".run_id"
_VERSION = re.compile(r"^v(\d+)$")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class IntegrityError(SynthprivError):
    """A published file does not match the hash its manifest names."""


@dataclass(frozen=True)
class Published:
    dataset: str
    version: str
    uri: str
    manifest: dict


class Store:
    """What consumers rely on from every backend: only complete versions, every byte hash-checked."""

    def manifest(self, dataset: str, version: str) -> dict:
        raise NotImplementedError

    def latest(self, dataset: str) -> str | None:
        raise NotImplementedError

    def versions(self, dataset: str) -> list[str]:
        raise NotImplementedError

    def _fetch(self, dataset: str, version: str, name: str) -> bytes:
        raise NotImplementedError

    def _uri(self, dataset: str, version: str) -> str:
        raise NotImplementedError

    def check_readers(self, teams: list[str]) -> None:
        """Raise unless every named reader team could be granted access by this store.

        A folder store enforces nothing (readers go into the manifest, file-system
        permissions are the operator's job), so every team passes here."""

    def find_run(self, dataset: str, run_id: str) -> Published | None:
        """The version a run already published, if any: what makes a retried publish a no-op."""
        for version in self.versions(dataset):
            manifest = self.manifest(dataset, version)
            if manifest.get("run_id") == run_id:
                return Published(dataset, version, self._uri(dataset, version), manifest)
        return None

    def read_bytes(self, dataset: str, version: str, name: str) -> bytes:
        """A published file's bytes, after checking them against the manifest's hash."""
        manifest = self.manifest(dataset, version)
        blob = self._fetch(dataset, version, name)
        if hashlib.sha256(blob).hexdigest() != manifest["files"][name]["sha256"]:
            raise IntegrityError(f"{dataset} {version} {name} does not match its manifest")
        return blob

    def read(self, dataset: str, version: str = "latest") -> pd.DataFrame:
        """The published table, hash-checked."""
        if version == "latest":
            version = self.latest(dataset) or ""
            if not version:
                raise KeyError(f"nothing published for dataset {dataset!r}")
        return pd.read_parquet(io.BytesIO(self.read_bytes(dataset, version, DATA)))


def open_store(location: str, reader_identity: str | None = None) -> Store:
    """The store at `location`: a folder, or `s3://bucket/prefix` on any S3-compatible server.

    `reader_identity` is the team -> IAM user convention an S3 store grants read access
    by; None takes `Settings.from_env().reader_identity` (SYNTHPRIV_READER_IDENTITY)."""
    if location.startswith("s3://"):
        from synthpriv.s3store import S3Store
        from synthpriv.settings import Settings

        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        identity = reader_identity or Settings.from_env().reader_identity
        return S3Store(bucket, prefix.strip("/"), reader_identity=identity)
    return LocalStore(location)


class LocalStore(Store):
    """A folder as the shared store: the embedded default."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def probe(self) -> None:
        """Raise OSError unless a publish could write here."""
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / f".synthpriv-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()

    def _versions_dir(self, dataset: str) -> Path:
        return self.root / dataset

    def _numbers(self, dataset: str) -> list[int]:
        d = self._versions_dir(dataset)
        if not d.is_dir():
            return []
        return sorted(int(m.group(1)) for p in d.iterdir() if (m := _VERSION.match(p.name)))

    def _claim(self, dataset: str, run_id: str) -> Path:
        """A version folder this run owns: its earlier unfinished one, or a new one."""
        base = self._versions_dir(dataset)
        base.mkdir(parents=True, exist_ok=True)
        for n in self._numbers(dataset):
            claim = base / f"v{n}" / _CLAIM
            if claim.is_file() and claim.read_text() == run_id and not (base / f"v{n}" / MANIFEST).exists():
                return base / f"v{n}"
        n = (self._numbers(dataset) or [0])[-1] + 1
        while True:
            target = base / f"v{n}"
            try:
                target.mkdir()
            except FileExistsError:
                n += 1
                continue
            (target / _CLAIM).write_text(run_id)
            return target

    def _uri(self, dataset: str, version: str) -> str:
        return str(self._versions_dir(dataset) / version)

    def publish(self, dataset: str, run_id: str, data: Path, report: Path, manifest: dict) -> Published:
        """Publish data and report under a new version; the manifest goes last, create-only."""
        done = self.find_run(dataset, run_id)
        if done is not None:
            self._move_latest(dataset, done.version)  # the first attempt may have died just before
            return done
        target = self._claim(dataset, run_id)
        files = {DATA: data, REPORT: report}
        hashes = {}
        for name, src in files.items():
            tmp = target / f".{name}.tmp"
            shutil.copyfile(src, tmp)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target / name)
            hashes[name] = sha256_file(target / name)
            if hashes[name] != sha256_file(src):
                raise IntegrityError(f"{name} changed while publishing {dataset} {target.name}")
        full = {**manifest, "dataset": dataset, "version": target.name, "run_id": run_id,
                "files": {name: {"sha256": h} for name, h in hashes.items()}}
        with open(target / MANIFEST, "x", encoding="utf-8") as fh:
            json.dump(full, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        self._move_latest(dataset, target.name)
        return Published(dataset, target.name, str(target), full)

    def _move_latest(self, dataset: str, version: str) -> None:
        current = self.latest(dataset)
        if current is not None and int(current[1:]) >= int(version[1:]):
            return
        tmp = self._versions_dir(dataset) / f".latest.{version}.tmp"
        tmp.write_text(version)
        os.replace(tmp, self._versions_dir(dataset) / "latest")

    def versions(self, dataset: str) -> list[str]:
        """Complete versions only: a folder without a manifest is invisible to readers."""
        d = self._versions_dir(dataset)
        return [f"v{n}" for n in self._numbers(dataset) if (d / f"v{n}" / MANIFEST).is_file()]

    def latest(self, dataset: str) -> str | None:
        pointer = self._versions_dir(dataset) / "latest"
        return pointer.read_text().strip() if pointer.is_file() else None

    def datasets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def manifest(self, dataset: str, version: str) -> dict:
        with open(self._versions_dir(dataset) / version / MANIFEST, encoding="utf-8") as fh:
            return json.load(fh)

    def _fetch(self, dataset: str, version: str, name: str) -> bytes:
        return (self._versions_dir(dataset) / version / name).read_bytes()
