"""S3Store against a real SeaweedFS S3 server (`weed mini` on 127.0.0.1, see tests/s3_server.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from synthpriv.s3store import CLAIM, S3Store
from synthpriv.store import DATA, MANIFEST, REPORT, IntegrityError
from tests.s3_server import s3_server  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


def _frame(seed: int) -> pd.DataFrame:
    return pd.DataFrame({"id": range(seed, seed + 20), "city": [f"c{seed}-{i % 3}" for i in range(20)],
                         "amount": [float(seed) + i / 4 for i in range(20)]})


def _files(tmp_path: Path, seed: int) -> tuple[Path, Path, pd.DataFrame]:
    df = _frame(seed)
    data = tmp_path / f"data{seed}.parquet"
    df.to_parquet(data, index=False)
    report = tmp_path / f"report{seed}.html"
    report.write_text(f"<html><body>report {seed}</body></html>")
    return data, report, df


@pytest.fixture
def store(s3_server, monkeypatch):  # noqa: F811
    """An admin store under a fresh prefix, its client built from the environment only."""
    for name, value in s3_server.env("admin").items():
        monkeypatch.setenv(name, value)
    return S3Store(s3_server.bucket, prefix=f"t-{uuid.uuid4().hex[:8]}")


def _error_code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


# 1 ------------------------------------------------------------------------------------

def test_publish_twice_gives_v1_and_v2_and_checks_hashes(store, tmp_path):
    d1, r1, df1 = _files(tmp_path, 1)
    d2, r2, df2 = _files(tmp_path, 2)
    p1 = store.publish("customers", "run-1", d1, r1, {"epsilon": 1.0})
    m1 = store.manifest("customers", "v1")
    p2 = store.publish("customers", "run-2", d2, r2, {"epsilon": 2.0})

    assert (p1.version, p2.version) == ("v1", "v2")
    assert p2.uri == f"s3://{store.bucket}/{store.prefix}/customers/v2"
    assert store.versions("customers") == ["v1", "v2"]
    assert store.latest("customers") == "v2"
    assert store.datasets() == ["customers"]
    assert store.manifest("customers", "v1") == m1 == p1.manifest
    assert m1["run_id"] == "run-1" and m1["epsilon"] == 1.0 and set(m1["files"]) == {DATA, REPORT}
    pd.testing.assert_frame_equal(store.read("customers"), df2)
    pd.testing.assert_frame_equal(store.read("customers", "v1"), df1)
    assert store.read_bytes("customers", "v1", REPORT) == r1.read_bytes()

    # Someone overwrites the published data behind the manifest's back.
    store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}/customers/v2/{DATA}",
                            Body=d1.read_bytes())
    with pytest.raises(IntegrityError):
        store.read("customers")
    pd.testing.assert_frame_equal(store.read("customers", "v1"), df1)


# 2 ------------------------------------------------------------------------------------

def test_retry_of_the_same_run_does_not_publish_twice(store, tmp_path):
    d1, r1, _ = _files(tmp_path, 1)
    first = store.publish("customers", "run-1", d1, r1, {})
    again = store.publish("customers", "run-1", d1, r1, {})
    assert again == first
    assert store.versions("customers") == ["v1"]
    assert store._numbers("customers") == [1]  # no second version folder was even claimed
    assert store.find_run("customers", "run-1") == first
    assert store.find_run("customers", "run-2") is None


# 3 ------------------------------------------------------------------------------------

def test_unfinished_version_is_invisible_and_resumed_by_its_own_run(store, tmp_path):
    d1, r1, df1 = _files(tmp_path, 1)
    d2, r2, df2 = _files(tmp_path, 2)
    d3, r3, df3 = _files(tmp_path, 3)
    store.publish("customers", "run-1", d1, r1, {})
    # A crashed run left v2 with its claim and data but no manifest.
    put = store.client.put_object
    put(Bucket=store.bucket, Key=f"{store.prefix}/customers/v2/{CLAIM}", Body=b"run-crashed")
    put(Bucket=store.bucket, Key=f"{store.prefix}/customers/v2/{DATA}", Body=d2.read_bytes())

    assert store.versions("customers") == ["v1"]
    assert store.latest("customers") == "v1"
    pd.testing.assert_frame_equal(store.read("customers"), df1)
    with pytest.raises(FileNotFoundError):
        store.manifest("customers", "v2")
    assert store.find_run("customers", "run-crashed") is None

    # Another run does not take the orphan's number...
    other = store.publish("customers", "run-3", d3, r3, {})
    assert other.version == "v3"
    # ...and the crashed run resumes its own version instead of claiming a fourth.
    resumed = store.publish("customers", "run-crashed", d2, r2, {})
    assert resumed.version == "v2"
    assert store.versions("customers") == ["v1", "v2", "v3"]
    assert store._numbers("customers") == [1, 2, 3]
    assert store.latest("customers") == "v3"  # never moves backwards
    pd.testing.assert_frame_equal(store.read("customers", "v2"), df2)
    pd.testing.assert_frame_equal(store.read("customers"), df3)


# 4 ------------------------------------------------------------------------------------

class _RacingStore(S3Store):
    """Every publisher lists the versions, then waits for the others: all go for the same number."""

    def __init__(self, *args, barrier: threading.Barrier, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.barrier = barrier

    refused = 0  # claims the server turned down with 412

    def _numbers(self, dataset):
        numbers = super()._numbers(dataset)
        self.barrier.wait(timeout=30)
        return numbers

    def _put(self, key, body, **conditions):
        try:
            super()._put(key, body, **conditions)
        except ClientError as exc:
            if key.endswith(CLAIM) and _error_code(exc) == "PreconditionFailed":
                with _REFUSED_LOCK:
                    _RacingStore.refused += 1
            raise


_REFUSED_LOCK = threading.Lock()


def test_concurrent_publishers_never_share_a_version(s3_server, store, tmp_path):  # noqa: F811
    d1, r1, _ = _files(tmp_path, 1)
    store.publish("customers", "run-0", d1, r1, {})
    n = 5
    _RacingStore.refused = 0
    barrier = threading.Barrier(n)
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def publish(i: int) -> None:
        racer = _RacingStore(store.bucket, store.prefix, client=s3_server.client("admin"), barrier=barrier)
        data, report, _ = _files(tmp_path, 10 + i)
        try:
            results[f"run-{i + 1}"] = racer.publish("customers", f"run-{i + 1}", data, report, {}).version
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert _RacingStore.refused >= n - 1  # they really raced: all but one lost the first claim
    assert sorted(results.values(), key=lambda v: int(v[1:])) == [f"v{i}" for i in range(2, n + 2)]
    assert len(set(results.values())) == n
    for run_id, version in results.items():
        assert store.manifest("customers", version)["run_id"] == run_id
        store.read("customers", version)
    assert store.latest("customers") == f"v{n + 1}"

    # The manifest of a published version can never be written again.
    key = f"{store.prefix}/customers/v1/{MANIFEST}"
    before = store.manifest("customers", "v1")
    with pytest.raises(ClientError) as refused:
        store.client.put_object(Bucket=store.bucket, Key=key, Body=b"{}", IfNoneMatch="*")
    assert _error_code(refused.value) == "PreconditionFailed"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert store.manifest("customers", "v1") == before


# 5 ------------------------------------------------------------------------------------

FAULTS = ["after_access", "after_claim", "after_data", "after_report", "before_manifest", "after_manifest"]


def _fault_main(argv: list[str]) -> None:
    """Child process: publish, dying with SIGKILL at the chosen step (no cleanup runs)."""
    bucket, prefix, dataset, run_id, data, report, mode = argv

    def die(*_a, **_k):
        os.kill(os.getpid(), signal.SIGKILL)

    store = S3Store(bucket, prefix)  # client from the environment
    claim, upload, apply = store._claim, store._upload, store.access.apply
    if mode == "after_access":
        store.access.apply = lambda *a: (apply(*a), die())
    elif mode == "after_claim":
        store._claim = lambda *a: (claim(*a), die())
    elif mode in ("after_data", "after_report"):
        target = DATA if mode == "after_data" else REPORT

        def _upload(dataset, version, name, blob):
            digest = upload(dataset, version, name, blob)
            if name == target:
                die()
            return digest

        store._upload = _upload
    elif mode == "before_manifest":
        store._put_manifest = die
    elif mode == "after_manifest":
        store._move_latest = die
    store.publish(dataset, run_id, Path(data), Path(report), {"fault": mode})


def _check_readers(store: S3Store, dataset: str, frames: dict[str, pd.DataFrame]) -> None:
    """Readers see only complete versions, and latest is one of them."""
    latest = store.latest(dataset)
    assert latest in store.versions(dataset)
    for version in store.versions(dataset):
        pd.testing.assert_frame_equal(store.read(dataset, version), frames[version])
    pd.testing.assert_frame_equal(store.read(dataset), frames[latest])


def test_killed_publish_leaves_readers_consistent_and_retry_completes(s3_server, store, tmp_path):  # noqa: F811
    d1, r1, df1 = _files(tmp_path, 1)
    d2, r2, df2 = _files(tmp_path, 2)
    env = {**os.environ, **s3_server.env("admin"), "PYTHONPATH": str(REPO)}
    # Start all killed publishers at once: each uses its own dataset.
    procs = {}
    for mode in FAULTS:
        store.publish(mode, "run-1", d1, r1, {})
        procs[mode] = subprocess.Popen(
            [sys.executable, "-c",
             "import sys; from tests.test_s3store import _fault_main; _fault_main(sys.argv[1:])",
             store.bucket, store.prefix, mode, "run-2", str(d2), str(r2), mode],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for mode, proc in procs.items():
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, (mode, out.decode()[-2000:])

    for mode in FAULTS:
        # After the crash: either the previous version or the complete new one.
        _check_readers(store, mode, {"v1": df1, "v2": df2})
        if mode == "after_manifest":
            assert store.versions(mode) == ["v1", "v2"] and store.latest(mode) == "v1"
        else:
            assert store.versions(mode) == ["v1"] and store.latest(mode) == "v1"
            assert store.find_run(mode, "run-2") is None

        # The retry of the same run completes the same version, and only that one.
        done = store.publish(mode, "run-2", d2, r2, {"fault": mode})
        assert done.version == "v2", mode
        assert store.versions(mode) == ["v1", "v2"]
        assert store._numbers(mode) == [1, 2], mode
        assert store.latest(mode) == "v2", mode
        _check_readers(store, mode, {"v1": df1, "v2": df2})
        assert store.manifest(mode, "v2")["run_id"] == "run-2"
