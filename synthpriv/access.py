"""Who may read a published dataset, enforced by the S3 server itself.

A release spec names the teams that may read its dataset (`publish.readers`). On an S3
store, synthpriv turns that list into server-side policy through the standard AWS IAM
API (`PutUserPolicy` / `DeleteUserPolicy`), which SeaweedFS embeds on its S3 port and
AWS serves at its IAM endpoint:

* each team maps to one IAM user by a convention (`Settings.reader_identity`, default
  `team-{team}`: team `analytics` is user `team-analytics`). The operator creates those
  users and hands out their keys; they carry no standing grants of their own.
* every named team's user gets one inline policy per dataset, named after the dataset
  and its location, allowing only `s3:GetObject` on `<bucket>/<prefix>/<dataset>/*` and
  `s3:ListBucket` on keys starting `<prefix>/<dataset>/`. Nothing outside that folder is
  ever granted, and nothing that writes.
* every other user holding that dataset's policy loses it: a team dropped from a later
  release's readers is refused by the server from then on, for every version.

Applying is idempotent and ordered so that a failure can only leave less access, never
more: every named identity is checked first, then unnamed teams are revoked, then named
teams are granted. Any error raises `AccessError`, and the store publishes nothing.

Admin credentials come only from the environment: `SYNTHPRIV_S3_ADMIN_ACCESS_KEY_ID` and
`SYNTHPRIV_S3_ADMIN_SECRET_ACCESS_KEY` when set (so the publishing identity need not be an
IAM admin), else the standard `AWS_*` chain. The endpoint is `AWS_ENDPOINT_URL_IAM`, else
the S3 endpoint (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, where SeaweedFS serves IAM),
else AWS's own IAM endpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable

from synthpriv.errors import SynthprivError

DEFAULT_READER_IDENTITY = "team-{team}"
_IAM_USER = re.compile(r"^[\w+=,.@-]{1,64}$")
_WILDCARDS = re.compile(r"[*?$]")  # would widen an ARN pattern or inject a policy variable
_DATASET = re.compile(r"^[a-z][a-z0-9_\-]{0,62}$")  # as the spec's publish.dataset: one plain key segment


class AccessError(SynthprivError):
    """The server could not be made to grant exactly the named teams: nothing is published."""


def check_identity_template(template: str) -> None:
    """Raise ValueError unless template names one IAM user per team through `{team}`."""
    rest = template.replace("{team}", "")
    if template.count("{team}") != 1 or "{" in rest or "}" in rest:
        raise ValueError("must contain '{team}' exactly once and no other braces")
    if not _IAM_USER.match(template.replace("{team}", "x")):
        raise ValueError("must give an IAM user name (letters, digits and +=,.@_- only)")


def identity_for(team: str, template: str = DEFAULT_READER_IDENTITY) -> str:
    """The IAM user a team reads as, by the configured naming convention."""
    user = template.replace("{team}", team)
    if not team or not _IAM_USER.match(user):
        raise AccessError(f"access: reader team {team!r} does not give a valid IAM user name ({user!r})")
    return user


def _folder(prefix: str, dataset: str) -> str:
    """`<prefix>/<dataset>` as the store keys it; refuses anything a grant could reach beyond."""
    segments = prefix.strip("/").split("/") if prefix.strip("/") else []
    if not _DATASET.match(dataset) or any(s in ("", ".", "..") for s in segments):
        raise AccessError(f"access: refusing to grant on dataset {dataset!r} under prefix {prefix!r}: "
                          "not a single plain folder")
    return "/".join([*segments, dataset])


def policy_name(bucket: str, prefix: str, dataset: str) -> str:
    """The inline policy's name: readable, and unique per dataset location (bucket and prefix hashed in)."""
    location = hashlib.sha256(f"{bucket}/{_folder(prefix, dataset)}".encode()).hexdigest()[:16]
    return f"synthpriv-read-{dataset}-{location}"


def read_policy(bucket: str, prefix: str, dataset: str) -> dict:
    """Read-only access to one dataset's folder: get its objects, list keys under it, nothing else."""
    folder = _folder(prefix, dataset)
    if _WILDCARDS.search(bucket) or _WILDCARDS.search(folder):
        raise AccessError(f"access: s3://{bucket}/{folder} contains a wildcard or '$', which a policy would widen")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "GetReleasedObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
             "Resource": [f"arn:aws:s3:::{bucket}/{folder}/*"]},
            {"Sid": "ListReleasedVersions", "Effect": "Allow", "Action": ["s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{bucket}"],
             "Condition": {"StringLike": {"s3:prefix": [f"{folder}/*"]}}},
        ],
    }


def _code(exc: Exception) -> str:
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code") or type(exc).__name__)


def _describe(exc: Exception) -> str:
    """The server's error code and message: names and reasons, never credentials or data."""
    message = (getattr(exc, "response", None) or {}).get("Error", {}).get("Message")
    return f"{_code(exc)}: {message}" if message else _code(exc)


def iam_client_from_env():
    """A boto3 IAM client configured only from the environment (see the module docstring)."""
    import boto3

    key = os.environ.get("SYNTHPRIV_S3_ADMIN_ACCESS_KEY_ID", "")
    secret = os.environ.get("SYNTHPRIV_S3_ADMIN_SECRET_ACCESS_KEY", "")
    if bool(key) != bool(secret):
        raise AccessError("access: set both SYNTHPRIV_S3_ADMIN_ACCESS_KEY_ID and "
                          "SYNTHPRIV_S3_ADMIN_SECRET_ACCESS_KEY, or neither")
    endpoint = (os.environ.get("AWS_ENDPOINT_URL_IAM") or os.environ.get("AWS_ENDPOINT_URL_S3")
                or os.environ.get("AWS_ENDPOINT_URL") or None)
    credentials = {"aws_access_key_id": key, "aws_secret_access_key": secret} if key else {}
    return boto3.session.Session().client("iam", endpoint_url=endpoint, **credentials)


class ReaderAccess:
    """Makes the server grant one dataset's read access to exactly the named teams."""

    def __init__(self, iam, bucket: str, prefix: str = "", identity: str = DEFAULT_READER_IDENTITY) -> None:
        check_identity_template(identity)
        self.iam = iam
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.identity = identity

    def _users(self) -> list[str]:
        try:
            pages = list(self.iam.get_paginator("list_users").paginate())
        except Exception as exc:  # noqa: BLE001 - any refusal by the server fails the publish
            raise AccessError(f"access: listing IAM users failed ({_describe(exc)})") from exc
        return [u["UserName"] for page in pages for u in page.get("Users", [])]

    def holders(self, dataset: str) -> set[str]:
        """The IAM users that currently hold this dataset's read policy."""
        name = policy_name(self.bucket, self.prefix, dataset)
        found = set()
        for user in self._users():
            try:
                pages = list(self.iam.get_paginator("list_user_policies").paginate(UserName=user))
            except Exception as exc:  # noqa: BLE001
                raise AccessError(f"access: listing the policies of {user!r} failed ({_describe(exc)})") from exc
            if any(name in page.get("PolicyNames", []) for page in pages):
                found.add(user)
        return found

    def check(self, teams: Iterable[str]) -> dict[str, str]:
        """Team -> IAM user for every named team; AccessError if a user name is invalid or missing."""
        users = {team: identity_for(team, self.identity) for team in teams}
        for team, user in users.items():
            try:
                self.iam.get_user(UserName=user)
            except Exception as exc:  # noqa: BLE001
                if _code(exc) == "NoSuchEntity":
                    raise AccessError(f"access: reader team {team!r} has no identity on the S3 server "
                                      f"(IAM user {user!r} does not exist)") from exc
                raise AccessError(f"access: looking up IAM user {user!r} failed ({_describe(exc)})") from exc
        return users

    def apply(self, dataset: str, teams: Iterable[str]) -> None:
        """Grant read access on `dataset` to exactly `teams`: check all, revoke the rest, then grant."""
        name = policy_name(self.bucket, self.prefix, dataset)
        document = json.dumps(read_policy(self.bucket, self.prefix, dataset), sort_keys=True)
        wanted = set(self.check(teams).values())
        for user in sorted(self.holders(dataset) - wanted):
            try:
                self.iam.delete_user_policy(UserName=user, PolicyName=name)
            except Exception as exc:  # noqa: BLE001 - already gone is fine; anything else fails
                if _code(exc) != "NoSuchEntity":
                    raise AccessError(f"access: revoking {user!r} from {dataset} failed ({_describe(exc)})") from exc
        for user in sorted(wanted):
            try:
                self.iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=document)
            except Exception as exc:  # noqa: BLE001
                raise AccessError(f"access: granting {user!r} read access to {dataset} failed "
                                  f"({_describe(exc)})") from exc
