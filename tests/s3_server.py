"""A real SeaweedFS S3 server for tests: `weed mini` bound to 127.0.0.1 on free ports.

Set up the way an operator would for synthpriv:

* `admin` (full access, IAM admin) is the only identity in the static `-s3.config` file,
  its credentials generated per session (never committed);
* the embedded IAM API on the S3 port is writable (`-s3.iam.readOnly=false`);
* one IAM user per team in `TEAMS` (`team-analytics`, ...) is created through that API
  with its own access key and no grants at all: whatever a team may read, synthpriv's
  publish granted. (SeaweedFS ignores IAM policies on identities from the static file,
  which is why the teams are IAM users.)

Use the `s3_server` fixture (session scope) from a test module:

    from tests.s3_server import s3_server  # noqa: F401
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BUCKET = "releases"
TEAMS = ("analytics", "data-science", "other")


@dataclass
class Identity:
    name: str
    access_key: str
    secret_key: str

    def env(self, endpoint: str) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    identities: dict[str, Identity]
    workdir: Path
    log: Path
    proc: subprocess.Popen = field(repr=False)

    def client(self, who: str = "admin"):
        import boto3
        from botocore.config import Config

        ident = self.identities[who]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ident.access_key,
            aws_secret_access_key=ident.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                          connect_timeout=5, read_timeout=30),
        )

    def iam(self, who: str = "admin"):
        """A boto3 IAM client on the embedded IAM API, signed as `who`."""
        import boto3

        ident = self.identities[who]
        return boto3.client("iam", endpoint_url=self.endpoint, aws_access_key_id=ident.access_key,
                            aws_secret_access_key=ident.secret_key, region_name="us-east-1")

    def env(self, who: str = "admin") -> dict[str, str]:
        return self.identities[who].env(self.endpoint)


def weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file():
        return str(candidate)
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("weed", path=search)
    if not found:
        pytest.skip("the SeaweedFS `weed` binary is not installed")
    return found


def _free_ports(n: int) -> list[int]:
    """n distinct TCP ports that are free on 127.0.0.1 right now."""
    ports: list[int] = []
    socks = []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            socks.append(s)
            if port in ports:
                continue
            ports.append(port)
    finally:
        for s in socks:
            s.close()
    return ports


def _admin() -> Identity:
    return Identity("admin", "T" + secrets.token_hex(9).upper(), secrets.token_urlsafe(30))


def s3_config(admin: Identity) -> dict:
    """The SeaweedFS `-s3.config` identities document: the admin only."""
    return {"identities": [{
        "name": admin.name,
        "credentials": [{"accessKey": admin.access_key, "secretKey": admin.secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }]}


def _create_teams(server: S3Server) -> None:
    """One IAM user and access key per team, as an operator would create them."""
    iam = server.iam("admin")
    for team in TEAMS:
        name = f"team-{team}"
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        server.identities[name] = Identity(name, key["AccessKeyId"], key["SecretAccessKey"])


def start_server(workdir: Path, timeout: float = 60.0) -> S3Server:
    weed = weed_binary()
    admin = _admin()
    config = workdir / "s3.json"
    config.write_text(json.dumps(s3_config(admin), indent=2))
    os.chmod(config, 0o600)
    data = workdir / "data"
    data.mkdir()
    log = workdir / "weed.log"

    # Each gRPC port is set explicitly; everything we do not need is switched off.
    (master, volume, filer, s3, master_g, volume_g, filer_g, s3_g,
     metrics, debug, admin_port, admin_g) = _free_ports(12)
    args = [
        weed, "mini",
        f"-dir={data}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_g}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_g}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_g}",
        f"-s3.port={s3}", f"-s3.port.grpc={s3_g}",
        f"-s3.config={config}", "-s3.iam.readOnly=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-webdav=false", "-admin.ui=false",
        f"-admin.port={admin_port}", f"-admin.port.grpc={admin_g}",
        "-master.telemetry=false",
        "-metricsIp=127.0.0.1", f"-metricsPort={metrics}",
        f"-debug.port={debug}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        f"-bucket={BUCKET}",
    ]
    fh = open(log, "wb")
    proc = subprocess.Popen(args, cwd=workdir, stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)
    fh.close()
    endpoint = f"http://127.0.0.1:{s3}"
    server = S3Server(endpoint, BUCKET, {"admin": admin}, workdir, log, proc)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    client = server.client("admin")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed mini exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            try:
                client.head_bucket(Bucket=BUCKET)
            except Exception:
                client.create_bucket(Bucket=BUCKET)
            client.put_object(Bucket=BUCKET, Key=".ready", Body=b"ok")
            client.get_object(Bucket=BUCKET, Key=".ready")["Body"].read()
            client.delete_object(Bucket=BUCKET, Key=".ready")
            break
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.3)
    else:
        stop_server(server)
        raise RuntimeError(f"SeaweedFS S3 did not come up: {last!r}\n{log.read_text()[-4000:]}")
    try:
        _create_teams(server)
    except Exception:
        stop_server(server)
        raise
    return server


def stop_server(server: S3Server) -> None:
    proc = server.proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_server():
    workdir = Path(tempfile.mkdtemp(prefix="synthpriv-weed-"))
    server = start_server(workdir)
    try:
        yield server
    finally:
        stop_server(server)
        shutil.rmtree(workdir, ignore_errors=True)
