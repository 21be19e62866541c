"""The Releases page escapes everything it shows and links each version's report under the plugin's own app.

The page served by a running api-server is tested in test_airflow_live.py; this checks the
rendering and the plugin's declaration without starting Airflow.
"""

from __future__ import annotations

import importlib.util

import pytest

from synthpriv import catalog
from tests.conftest import REPO


@pytest.fixture(scope="module")
def plugin():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("synthpriv_plugin", REPO / "plugins" / "synthpriv_plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry(approver: str, metric: str) -> catalog.DatasetEntry:
    gate = catalog.GateVerdict("privacy", metric, True, 0.0, 0.0)
    version = catalog.VersionEntry("v1", True, 1.0, 1e-9, 2000, "mst", approver, (gate,))
    return catalog.DatasetEntry("patients", (version,), catalog.Budget(12.0, 1.0, 0.0, 11.0, "basic"))


def test_page_escapes_every_value(plugin):
    page = plugin.render_releases([_entry("<script>alert(1)</script>", "a<b")], "/srv/<store>")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a&lt;b" in page and "/srv/&lt;store&gt;" in page


def test_page_shows_version_budget_and_a_relative_report_link(plugin):
    page = plugin.render_releases([_entry("alice", "exact_match_rate")], "/srv/store")
    assert "v1 (latest)" in page and "alice" in page and "exact_match_rate" in page
    assert 'href="releases/patients/v1/report.html"' in page
    assert "<td>11</td>" in page  # remaining budget


def test_plugin_mounts_its_app_and_links_it_from_the_navigation(plugin):
    (app,) = plugin.SynthprivPlugin.fastapi_apps
    (view,) = plugin.SynthprivPlugin.external_views
    assert app["url_prefix"] == "/synthpriv" and view["href"] == "synthpriv/releases"
    assert view["destination"] == "nav" and view["url_route"]
