"""Real Airflow components started natively on loopback for integration tests.

`AirflowServices` runs `airflow db migrate`, then the api-server, scheduler, dag-processor and
triggerer as separate processes, each in its own session so teardown can end every process
it started (task processes included) by id. `ApiClient` talks to the REST API v2 as a
signed-in user of the simple auth manager. Failures carry the tail of each component's log.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

AIRFLOW = str(Path(sys.executable).parent / "airflow")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _session_members(session_ids: set[int]) -> list[int]:
    """Pids whose session is one we started: components, executor workers and task processes."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in session_ids:
            members.append(int(entry.name))
    return members


@dataclass
class AirflowServices:
    """An Airflow deployment in `home` whose metadata database is `sql_alchemy_conn`."""

    home: Path
    sql_alchemy_conn: str
    dags_folder: Path
    plugins_folder: Path
    extra_env: dict[str, str]
    users: dict[str, str]  # username -> role of the simple auth manager
    port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        return {
            **base,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.plugins_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sql_alchemy_conn,
            # The lock has no asyncpg; Airflow's async engine only serves endpoints we do not use.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": "",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": f"{self.base_url}/",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": self._secret("api"),
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt"),
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in self.users.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            **self.extra_env,
        }

    def _secret(self, name: str) -> str:
        """One random secret per deployment, shared by its components (they must agree on it)."""
        path = self.home / f".{name}-secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text()

    def log(self, component: str) -> Path:
        return self.home / f"{component}.log"

    def diagnostics(self, lines: int = 40) -> str:
        """The tail of each component's log and of the newest task logs, for a failure message."""
        parts = [f"--- {c} ---\n{_tail(self.log(c), lines)}" for c in ("migrate", *COMPONENTS)]
        task_logs = sorted((self.home / "logs").glob("dag_id=*/**/*.log"), key=lambda p: p.stat().st_mtime)
        parts += [f"--- {p.relative_to(self.home)} ---\n{_tail(p, lines)}" for p in task_logs[-4:]]
        return "\n".join(parts)

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.passwords = {user: secrets.token_urlsafe(16) for user in self.users}
        (self.home / "passwords.json").write_text(json.dumps(self.passwords))
        with open(self.log("migrate"), "w") as out:
            done = subprocess.run([AIRFLOW, "db", "migrate"], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{self.diagnostics()}")
        commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }
        for name, args in commands.items():
            with open(self.log(name), "w") as out:
                self.procs[name] = subprocess.Popen([AIRFLOW, *args], env=self.env, stdout=out,
                                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_for(self._healthy, 180, "the api-server to answer")

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def wait_for(self, condition: Callable[[], Any], timeout: float, what: str,  # noqa: ANN401
                 every: float = 2.0) -> Any:
        """Poll `condition` until it returns something truthy; fail with the logs if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise AssertionError(f"{', '.join(dead)} exited while waiting for {what}\n{self.diagnostics()}")
            result = condition()
            if result:
                return result
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnostics()}")

    def stop(self, grace: float = 20.0) -> None:
        """End every process we started: SIGTERM each component's group, then SIGKILL what is left."""
        sessions = {p.pid for p in self.procs.values()}
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass
        for pid in _session_members(sessions):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


class ApiClient:
    """The REST API v2 (and plugin pages) as one signed-in user."""

    def __init__(self, services: AirflowServices, username: str) -> None:
        self.services = services
        self.base = services.base_url
        self.http = requests.Session()
        reply = self.http.post(f"{self.base}/auth/token", timeout=30,
                               json={"username": username, "password": services.passwords[username]})
        assert reply.status_code == 201, reply.text
        self.http.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"

    def request(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:  # noqa: ANN401
        reply = self.http.request(method, f"{self.base}{path}", timeout=30, **kwargs)
        assert reply.status_code == expect, (
            f"{method} {path}: {reply.status_code} {reply.text[:2000]}\n{self.services.diagnostics()}")
        return reply.json() if "json" in reply.headers.get("content-type", "") else reply

    def get_or_none(self, path: str) -> dict | None:
        reply = self.http.get(f"{self.base}{path}", timeout=30)
        return reply.json() if reply.status_code == 200 else None

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        ti = self.get_or_none(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        return ti["state"] if ti else None

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
