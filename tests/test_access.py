"""Per-team read access, applied by synthpriv's publish and enforced by a real SeaweedFS server.

The fixture's team users (`team-analytics`, `team-data-science`, `team-other`) start with no
grants: whatever they can read here, a publish granted them.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from synthpriv.access import AccessError, ReaderAccess, identity_for, policy_name, read_policy
from synthpriv.errors import InputError
from synthpriv.s3store import S3Store
from synthpriv.settings import Settings
from synthpriv.store import DATA, MANIFEST, REPORT, LocalStore, open_store
from tests.s3_server import s3_server  # noqa: F401 - the session fixture


def _files(tmp_path: Path, seed: int) -> tuple[Path, Path, pd.DataFrame]:
    df = pd.DataFrame({"id": range(seed, seed + 10), "amount": [seed + i / 4 for i in range(10)]})
    data, report = tmp_path / f"data{seed}.parquet", tmp_path / f"report{seed}.html"
    df.to_parquet(data, index=False)
    report.write_text(f"<html>report {seed}</html>")
    return data, report, df


@pytest.fixture
def admin(s3_server, monkeypatch):  # noqa: F811
    """The publisher: an S3Store under a fresh prefix, S3 and IAM clients built from the environment."""
    for name, value in s3_server.env("admin").items():
        monkeypatch.setenv(name, value)
    for name in ("SYNTHPRIV_S3_ADMIN_ACCESS_KEY_ID", "SYNTHPRIV_S3_ADMIN_SECRET_ACCESS_KEY",
                 "AWS_ENDPOINT_URL_IAM", "SYNTHPRIV_READER_IDENTITY"):
        monkeypatch.delenv(name, raising=False)
    return S3Store(s3_server.bucket, prefix=f"t-{uuid.uuid4().hex[:8]}")


def _as(s3_server, store: S3Store, team: str) -> S3Store:  # noqa: F811
    """The same store, seen with a team's own credentials."""
    return S3Store(store.bucket, store.prefix, client=s3_server.client(f"team-{team}"))


def _denied(call) -> None:
    with pytest.raises(ClientError) as refused:
        call()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def _publish(store: S3Store, tmp_path: Path, seed: int, readers: list[str], dataset: str = "customers"):
    data, report, df = _files(tmp_path, seed)
    return store.publish(dataset, f"run-{seed}", data, report, {"readers": readers}), df


def test_a_named_team_reads_the_release_and_others_are_refused_by_the_server(s3_server, admin, tmp_path):  # noqa: F811
    published, df = _publish(admin, tmp_path, 1, ["analytics"])

    analytics = _as(s3_server, admin, "analytics")
    assert analytics.versions("customers") == ["v1"] and analytics.latest("customers") == "v1"
    assert analytics.manifest("customers", "v1") == published.manifest
    assert published.manifest["readers"] == ["analytics"]
    pd.testing.assert_frame_equal(analytics.read("customers"), df)
    assert analytics.read_bytes("customers", "v1", REPORT) == b"<html>report 1</html>"

    for team in ("other", "data-science"):
        outsider = _as(s3_server, admin, team)
        _denied(lambda: outsider.read("customers", "v1"))
        _denied(lambda: outsider.manifest("customers", "v1"))
        _denied(lambda: outsider.latest("customers"))
        _denied(lambda: outsider.versions("customers"))


def test_a_team_dropped_from_readers_is_refused_from_the_next_release_on(s3_server, admin, tmp_path):  # noqa: F811
    _, df1 = _publish(admin, tmp_path, 1, ["analytics", "other"])
    analytics, other = _as(s3_server, admin, "analytics"), _as(s3_server, admin, "other")
    pd.testing.assert_frame_equal(analytics.read("customers"), df1)
    pd.testing.assert_frame_equal(other.read("customers"), df1)

    _, df2 = _publish(admin, tmp_path, 2, ["other"])
    _denied(lambda: analytics.read("customers", "v1"))  # the grant was per dataset: older versions too
    _denied(lambda: analytics.read("customers", "v2"))
    _denied(lambda: analytics.versions("customers"))
    pd.testing.assert_frame_equal(other.read("customers"), df2)
    pd.testing.assert_frame_equal(other.read("customers", "v1"), df1)

    # Applying the same readers again changes nothing; applying none leaves the dataset to the admin.
    access = admin.access
    access.apply("customers", ["other"])
    assert access.holders("customers") == {"team-other"}
    _publish(admin, tmp_path, 3, [])
    assert access.holders("customers") == set()
    _denied(lambda: other.read("customers", "v2"))
    assert admin.versions("customers") == ["v1", "v2", "v3"]


def test_teams_reach_nothing_outside_their_datasets_and_write_nowhere(s3_server, admin, tmp_path):  # noqa: F811
    _publish(admin, tmp_path, 1, ["analytics"])
    _publish(admin, tmp_path, 2, ["other"], dataset="payroll")
    bucket, prefix = admin.bucket, admin.prefix
    # What an operator might keep next to the releases: run workspaces, scratch, a look-alike folder.
    outside = [f"{prefix}/_private/run-1/source.parquet", f"_private/{prefix}/run-1/model.pkl",
               f"{prefix}-workspace/run-1/synthetic.parquet", f"{prefix}/customers-shadow/v1/{DATA}",
               f"{prefix}/payroll/v1/{DATA}", f"{prefix}/.synthpriv-probe"]
    for key in outside:
        admin.client.put_object(Bucket=bucket, Key=key, Body=b"private")
    team = _as(s3_server, admin, "analytics")
    c = team.client

    for key in outside:
        _denied(lambda: c.get_object(Bucket=bucket, Key=key))
    for listed in ("", f"{prefix}/", f"{prefix}/_private/", "_private/", f"{prefix}/customers",
                   f"{prefix}/customers-shadow/", f"{prefix}/payroll/"):
        _denied(lambda: c.list_objects_v2(Bucket=bucket, Prefix=listed))
    _denied(lambda: team.datasets())

    own = f"{prefix}/customers/v1"
    for key in (f"{own}/{MANIFEST}", f"{own}/extra.parquet", f"{prefix}/customers/latest", outside[0]):
        _denied(lambda: c.put_object(Bucket=bucket, Key=key, Body=b"x"))
    _denied(lambda: c.delete_object(Bucket=bucket, Key=f"{own}/{DATA}"))
    _denied(lambda: c.copy_object(Bucket=bucket, Key=f"{prefix}/customers/v9/{DATA}",
                                  CopySource={"Bucket": bucket, "Key": f"{own}/{DATA}"}))
    _denied(lambda: c.put_bucket_policy(Bucket=bucket, Policy='{"Version": "2012-10-17", "Statement": []}'))
    with pytest.raises(ClientError):  # nor grant itself more through IAM
        s3_server.iam("team-analytics").put_user_policy(
            UserName="team-analytics", PolicyName="mine",
            PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", '
                           '"Resource": "*"}]}')
    assert "mine" not in s3_server.iam("admin").list_user_policies(UserName="team-analytics")["PolicyNames"]
    _denied(lambda: c.get_object(Bucket=bucket, Key=outside[0]))

    for key in outside:
        assert admin.client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"private"
    assert admin.versions("customers") == ["v1"] and admin._numbers("customers") == [1]
    assert admin.read_bytes("customers", "v1", DATA) == (tmp_path / "data1.parquet").read_bytes()


def test_a_failed_grant_publishes_nothing_and_changes_no_access(s3_server, admin, tmp_path, monkeypatch):  # noqa: F811
    _, df1 = _publish(admin, tmp_path, 1, ["other"])
    other, analytics = _as(s3_server, admin, "other"), _as(s3_server, admin, "analytics")

    # A team without an identity on the server: refused before anything changes.
    with pytest.raises(AccessError, match="'ghost'.*'team-ghost' does not exist"):
        _publish(admin, tmp_path, 2, ["analytics", "ghost"])
    # The server refuses the IAM calls (SYNTHPRIV_S3_ADMIN_* names a mere team).
    team = s3_server.identities["team-data-science"]
    monkeypatch.setenv("SYNTHPRIV_S3_ADMIN_ACCESS_KEY_ID", team.access_key)
    monkeypatch.setenv("SYNTHPRIV_S3_ADMIN_SECRET_ACCESS_KEY", team.secret_key)
    refused = S3Store(admin.bucket, admin.prefix)
    with pytest.raises(AccessError, match="access: "):
        _publish(refused, tmp_path, 3, ["analytics"])
    # Half of the admin credentials is a configuration error, not a fallback.
    monkeypatch.delenv("SYNTHPRIV_S3_ADMIN_SECRET_ACCESS_KEY")
    with pytest.raises(AccessError, match="set both"):
        _publish(S3Store(admin.bucket, admin.prefix), tmp_path, 4, ["analytics"])

    keys = [o["Key"] for o in admin.client.list_objects_v2(
        Bucket=admin.bucket, Prefix=f"{admin.prefix}/customers/").get("Contents", [])]
    assert not [k for k in keys if not k.startswith(f"{admin.prefix}/customers/v1/")
                and k != f"{admin.prefix}/customers/latest"]  # no claim, data or manifest of v2
    assert admin.versions("customers") == ["v1"] and admin.latest("customers") == "v1"
    pd.testing.assert_frame_equal(other.read("customers"), df1)
    _denied(lambda: analytics.read("customers", "v1"))


def test_the_team_to_identity_convention_comes_from_settings(s3_server, admin, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SYNTHPRIV_READER_IDENTITY", "{team}")  # readers name IAM users directly
    store = open_store(f"s3://{admin.bucket}/{admin.prefix}")
    assert store.reader_identity == "{team}"
    store.check_readers(["team-analytics"])
    with pytest.raises(AccessError):
        store.check_readers(["analytics"])
    _, df = _publish(store, tmp_path, 1, ["team-analytics"])
    pd.testing.assert_frame_equal(_as(s3_server, admin, "analytics").read("customers"), df)

    monkeypatch.setenv("SYNTHPRIV_READER_IDENTITY", "team")
    with pytest.raises(InputError, match="SYNTHPRIV_READER_IDENTITY"):
        Settings.from_env()


def test_policies_are_scoped_to_one_dataset_folder_and_refuse_what_would_widen_them():
    assert identity_for("analytics") == "team-analytics"
    assert identity_for("analytics", "{team}@readers") == "analytics@readers"
    with pytest.raises(AccessError):
        identity_for("a/b")
    policy = read_policy("releases", "shared/prod", "customers")
    assert [s["Resource"] for s in policy["Statement"]] == [
        ["arn:aws:s3:::releases/shared/prod/customers/*"], ["arn:aws:s3:::releases"]]
    assert policy["Statement"][1]["Condition"] == {"StringLike": {"s3:prefix": ["shared/prod/customers/*"]}}
    assert {a for s in policy["Statement"] for a in s["Action"]} == {"s3:GetObject", "s3:ListBucket"}
    assert policy_name("releases", "a", "customers") != policy_name("releases", "b", "customers")
    for bucket, prefix, dataset in (("releases", "p*", "customers"), ("releases", "p", "cust*"),
                                    ("releases", "", ""), ("releases", "p/../q", "customers"),
                                    ("releases", "p", "a/b"), ("rel?", "p", "customers"),
                                    ("releases", "${aws:username}", "customers")):
        with pytest.raises(AccessError):
            read_policy(bucket, prefix, dataset)


def test_a_folder_store_records_readers_only(tmp_path):
    store = LocalStore(tmp_path / "store")
    store.check_readers(["anyone"])  # nothing to enforce: file-system permissions are the operator's
    data, report, _ = _files(tmp_path, 1)
    assert store.publish("customers", "run-1", data, report, {"readers": ["analytics"]}).manifest["readers"] == [
        "analytics"]


def test_reader_access_needs_a_team_placeholder():
    with pytest.raises(ValueError):
        ReaderAccess(iam=None, bucket="releases", identity="team-{name}")
