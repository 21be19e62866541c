"""Airflow 3 UI plugin: a "Releases" page listing what synthpriv has published.

Datasets, versions, epsilon, gate verdicts, who approved, each dataset's budget (cap,
spent, reserved, remaining) and links to each version's report.html, read through
`synthpriv.catalog` from the store and ledger that `Settings.from_env()` names (the same
SYNTHPRIV_* variables the DAGs run with). The page is a FastAPI app the api-server mounts
under /synthpriv, shown in the UI's navigation as an external view; it needs the same
sign-in as the rest of the API and read access to assets (synthpriv's datasets are assets).
The HTML is rendered server-side by Jinja2 with autoescaping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.plugins_manager import AirflowPlugin
from jinja2 import Environment, FileSystemLoader, select_autoescape

URL_PREFIX = "/synthpriv"
TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Reports are synthpriv's own self-contained HTML: no scripts, nothing fetched, no forms.
REPORT_POLICY = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_PAGES = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))


def render_releases(datasets: list, store: str) -> str:
    """The Releases page for `synthpriv.catalog.releases()` entries; every value is HTML-escaped."""
    return _PAGES.get_template("synthpriv_releases.html").render(datasets=datasets, store=store)


def build_app() -> Any:  # noqa: ANN401 - a FastAPI app; fastapi is imported only when it is built
    """The Releases page and the report downloads, behind Airflow's authentication."""
    from airflow.api_fastapi.core_api.security import requires_access_asset
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import HTMLResponse, Response

    from synthpriv import catalog
    from synthpriv.settings import Settings
    from synthpriv.store import REPORT, open_store

    app = FastAPI(title="synthpriv releases", dependencies=[Depends(requires_access_asset("GET"))])

    @app.get("/releases", response_class=HTMLResponse)
    def releases_page() -> HTMLResponse:
        settings = Settings.from_env()
        return HTMLResponse(render_releases(catalog.releases(settings), settings.store))

    @app.get("/releases/{dataset}/{version}/report.html")
    def report(dataset: str, version: str) -> Response:
        store = open_store(Settings.from_env().store)
        if dataset not in store.datasets() or version not in store.versions(dataset):
            raise HTTPException(status_code=404, detail="no such published version")
        return Response(store.read_bytes(dataset, version, REPORT), media_type="text/html",
                        headers={"Content-Security-Policy": REPORT_POLICY})

    return app


class _BuiltOnFirstRequest:
    """An ASGI app that builds the real one on its first request.

    Every Airflow component (scheduler, dag-processor, each task) imports plugins, but only
    the api-server serves this page: building it lazily keeps FastAPI, the API's security
    module and synthpriv out of the others' start-up.
    """

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:  # noqa: ANN401
        if self._app is None:
            self._app = build_app()
        await self._app(scope, receive, send)


class SynthprivPlugin(AirflowPlugin):
    name = "synthpriv"
    fastapi_apps = [{"app": _BuiltOnFirstRequest(), "url_prefix": URL_PREFIX, "name": "synthpriv releases"}]
    external_views = [{
        "name": "Releases",
        "href": URL_PREFIX.lstrip("/") + "/releases",
        "url_route": "synthpriv-releases",
        "destination": "nav",
        "nav_top_level": True,
    }]
