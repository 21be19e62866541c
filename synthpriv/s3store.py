"""The shared store on S3 (or an S3-compatible server such as SeaweedFS).

Same layout and guarantees as `LocalStore`, under `s3://<bucket>/<prefix>/`:
`<dataset>/<version>/data.parquet`, `report.html`, `manifest.json`, plus a `.claim`
object per version and a `<dataset>/latest` pointer.

* Before anything of a version is written, the server is made to grant read access on
  `<prefix>/<dataset>/` to exactly the teams in the manifest's `readers` and to no one
  else (`synthpriv.access`); if that fails, nothing is published.
* A publish claims a fresh version with a create-only put (`If-None-Match: *`) of
  `<dataset>/<version>/.claim` holding the run id, so two publishers can never take
  the same version: the loser gets 412 and tries the next number.
* Data and report are uploaded, read back and checked against the sha256 of the
  bytes that were sent; only then is `manifest.json` written, create-only, so a
  published manifest can never be overwritten.
* A version without a manifest is invisible to readers.
* `latest` moves only after the manifest exists, with a conditional put
  (If-Match on the pointer's ETag), and never moves backwards.
* A retry of the same run id returns the version it already published (and finishes
  moving `latest` if the first attempt died before that), or resumes its own
  unfinished version instead of claiming another one.

Credentials and endpoint come only from the environment (standard `AWS_*` variables,
`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`; `SYNTHPRIV_S3_ADMIN_*` for the IAM calls),
never from code or the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

from synthpriv.access import DEFAULT_READER_IDENTITY, ReaderAccess, iam_client_from_env
from synthpriv.store import DATA, MANIFEST, REPORT, _VERSION, IntegrityError, Published, Store

CLAIM = ".claim"
LATEST = "latest"


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(exc: Exception) -> int:
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _precondition_failed(exc: Exception) -> bool:
    return _code(exc) in {"PreconditionFailed", "412"} or _status(exc) == 412


def _conflict(exc: Exception) -> bool:
    """A conditional write lost a race (412, or 409 ConditionalRequestConflict)."""
    return _precondition_failed(exc) or _code(exc) == "ConditionalRequestConflict" or _status(exc) == 409


def _not_found(exc: Exception) -> bool:
    return _code(exc) in {"NoSuchKey", "404", "NotFound"} or _status(exc) == 404


def client_from_env():
    """A boto3 S3 client configured only from the environment."""
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    style = os.environ.get("AWS_S3_ADDRESSING_STYLE", "path" if endpoint else "auto")
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": style}))


class S3Store(Store):
    """A bucket (and optional key prefix) as the shared store."""

    def __init__(self, bucket: str, prefix: str = "", client=None, access: ReaderAccess | None = None,
                 reader_identity: str = DEFAULT_READER_IDENTITY) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client if client is not None else client_from_env()
        self._reader_access = access
        self.reader_identity = reader_identity

    @property
    def access(self) -> ReaderAccess:
        """Who may read, enforced by the server; its IAM client is built only when a publish needs it,
        so readers never need admin credentials."""
        if self._reader_access is None:
            self._reader_access = ReaderAccess(iam_client_from_env(), self.bucket, self.prefix, self.reader_identity)
        return self._reader_access

    def check_readers(self, teams: list[str]) -> None:
        """Raise AccessError unless every named team has an identity the server can grant access to."""
        self.access.check(teams)

    # -- keys and low-level I/O ------------------------------------------------------

    def probe(self) -> None:
        """Raise unless a publish could write here (a throwaway object, written and removed)."""
        key = self._key(f".synthpriv-probe-{uuid.uuid4().hex}")
        self._put(key, b"")
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def _key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in ((self.prefix,) if self.prefix else ()) + parts)

    def _uri(self, dataset: str, version: str) -> str:
        return f"s3://{self.bucket}/{self._key(dataset, version)}"

    def _get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def _get_or_none(self, key: str) -> tuple[bytes, str] | None:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
        return obj["Body"].read(), obj.get("ETag", "")

    def _put(self, key: str, body: bytes, **conditions) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, **conditions)

    def _list(self, prefix: str, delimiter: str | None = None):
        """(keys, common prefixes) under prefix, across all pages."""
        keys: list[str] = []
        dirs: list[str] = []
        kwargs = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
            keys.extend(o["Key"] for o in page.get("Contents", []))
            dirs.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        return keys, dirs

    def _scan(self, dataset: str) -> dict[int, set[str]]:
        """Version number -> names of the objects in that version folder."""
        base = self._key(dataset) + "/"
        keys, _ = self._list(base)
        found: dict[int, set[str]] = {}
        for key in keys:
            parts = key[len(base):].split("/")
            if len(parts) == 2 and (m := _VERSION.match(parts[0])):
                found.setdefault(int(m.group(1)), set()).add(parts[1])
        return found

    def _numbers(self, dataset: str) -> list[int]:
        return sorted(self._scan(dataset))

    # -- publishing ------------------------------------------------------------------

    def _claim(self, dataset: str, run_id: str) -> str:
        """A version this run owns: its earlier unfinished one, or a freshly claimed one."""
        scan = self._scan(dataset)
        for n in sorted(scan):
            if CLAIM in scan[n] and MANIFEST not in scan[n]:
                owner = self._get_or_none(self._key(dataset, f"v{n}", CLAIM))
                if owner is not None and owner[0].decode() == run_id:
                    return f"v{n}"
        n = (self._numbers(dataset) or [0])[-1] + 1
        while True:
            try:
                self._put(self._key(dataset, f"v{n}", CLAIM), run_id.encode(), IfNoneMatch="*")
            except Exception as exc:
                if _precondition_failed(exc):
                    n += 1  # taken by another publisher: try the next number
                    continue
                if _conflict(exc):
                    continue  # a concurrent conditional write on this key: ask again
                raise
            return f"v{n}"

    def _upload(self, dataset: str, version: str, name: str, blob: bytes) -> str:
        """Upload one file, read it back and return its verified sha256."""
        expected = hashlib.sha256(blob).hexdigest()
        key = self._key(dataset, version, name)
        self._put(key, blob)
        if hashlib.sha256(self._get(key)).hexdigest() != expected:
            raise IntegrityError(f"{name} did not arrive intact while publishing {dataset} {version}")
        return expected

    def _put_manifest(self, dataset: str, version: str, full: dict) -> dict:
        body = json.dumps(full, indent=2, sort_keys=True).encode()
        while True:
            try:
                self._put(self._key(dataset, version, MANIFEST), body, IfNoneMatch="*")
                return full
            except Exception as exc:
                if _precondition_failed(exc):
                    break
                if not _conflict(exc):
                    raise
        existing = self.manifest(dataset, version)
        if existing.get("run_id") != full["run_id"]:
            raise IntegrityError(f"{dataset} {version} was published by another run")
        return existing  # the same run finished this version concurrently

    def publish(self, dataset: str, run_id: str, data: Path, report: Path, manifest: dict) -> Published:
        """Publish data and report under a new version; the manifest goes last, create-only.

        Read access is set first, so no byte of the version is ever readable by a team the
        manifest does not name; a retry of an already published run leaves access alone (a
        later release may have changed it since)."""
        done = self.find_run(dataset, run_id)
        if done is not None:
            self._move_latest(dataset, done.version)  # an earlier attempt may have died before this
            return done
        self.access.apply(dataset, manifest.get("readers", []))  # no readers named: no team may read
        blobs = {DATA: Path(data).read_bytes(), REPORT: Path(report).read_bytes()}
        version = self._claim(dataset, run_id)
        hashes = {name: self._upload(dataset, version, name, blob) for name, blob in blobs.items()}
        for name, src in ((DATA, data), (REPORT, report)):
            if hashlib.sha256(Path(src).read_bytes()).hexdigest() != hashes[name]:
                raise IntegrityError(f"{name} changed while publishing {dataset} {version}")
        full = {**manifest, "dataset": dataset, "version": version, "run_id": run_id,
                "files": {name: {"sha256": h} for name, h in hashes.items()}}
        full = self._put_manifest(dataset, version, full)
        self._move_latest(dataset, version)
        return Published(dataset, version, self._uri(dataset, version), full)

    def _move_latest(self, dataset: str, version: str) -> None:
        """Point `latest` at version unless it already names a newer one (compare-and-swap)."""
        key = self._key(dataset, LATEST)
        while True:
            current = self._get_or_none(key)
            if current is not None:
                name = current[0].decode().strip()
                if _VERSION.match(name) and int(name[1:]) >= int(version[1:]):
                    return
                condition = {"IfMatch": current[1]}
            else:
                condition = {"IfNoneMatch": "*"}
            try:
                self._put(key, version.encode(), **condition)
                return
            except Exception as exc:
                if _conflict(exc):
                    continue  # someone moved it meanwhile: look again
                raise

    # -- reading ---------------------------------------------------------------------

    def versions(self, dataset: str) -> list[str]:
        """Complete versions only: a folder without a manifest is invisible to readers."""
        return [f"v{n}" for n, names in sorted(self._scan(dataset).items()) if MANIFEST in names]

    def latest(self, dataset: str) -> str | None:
        found = self._get_or_none(self._key(dataset, LATEST))
        return found[0].decode().strip() if found is not None else None

    def datasets(self) -> list[str]:
        base = self._key() + "/" if self.prefix else ""
        _, dirs = self._list(base, "/")
        names = [d[len(base):].rstrip("/") for d in dirs]
        return sorted(n for n in names if n and self.versions(n))

    def manifest(self, dataset: str, version: str) -> dict:
        found = self._get_or_none(self._key(dataset, version, MANIFEST))
        if found is None:
            raise FileNotFoundError(f"no manifest for {dataset} {version} in {self._uri(dataset, version)}")
        return json.loads(found[0])

    def _fetch(self, dataset: str, version: str, name: str) -> bytes:
        return self._get(self._key(dataset, version, name))
