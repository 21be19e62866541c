"""Both reports of a real release open in headless Chromium with every plot drawn, and the
published one carries no real identifier or row value.

Chromium is Debian's `chromium` package (`make system-deps` installs it). Without it the
test skips, unless it runs as root (as CI does), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from synthpriv import cli
from synthpriv.sample_data import generate_customers
from synthpriv.spec import load_spec
from tests.conftest import DEMO_SPEC, demo_spec_dict

pytestmark = pytest.mark.slow

ROWS = 3000
SPEC = load_spec(DEMO_SPEC)
PLOTS = len(SPEC.modelled_columns) + 2  # one per column, associations, principal components
IDENTIFIERS = ["customer_id", "full_name", "email", "phone", "ssn", "street_address"]
_RECORD_SIZES = """<script>addEventListener("load", () => {
  for (const img of document.images) img.dataset.drawn = img.naturalWidth + "x" + img.naturalHeight;
});</script>"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0:
        pytest.fail("chromium is missing: `make system-deps` installs Debian's chromium package")
    pytest.skip("chromium is not installed and installing it needs root: run `sudo make system-deps`")


def _browse(page: Path, *args: str) -> str:
    """Run headless Chromium on a local page; return what it prints."""
    profile = page.parent / "chromium-profile"
    proc = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args, page.as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _drawn_image_sizes(html_path: Path, tmp: Path) -> list[tuple[int, int]]:
    """Each <img>'s decoded size as Chromium drew it (0x0 for an image it could not decode)."""
    page = tmp / f"drawn-{html_path.name}"
    page.write_text(html_path.read_text().replace("</body>", _RECORD_SIZES + "</body>"))
    dom = _browse(page, "--dump-dom")
    return [(int(w), int(h)) for w, h in re.findall(r'data-drawn="(\d+)x(\d+)"', dom)]


def _coloured_share(html_path: Path, tmp: Path) -> float:
    """Share of a full-page screenshot's pixels that are neither white nor grey: the plots' ink."""
    from PIL import Image

    shot = tmp / f"{html_path.stem}.png"
    _browse(html_path, f"--screenshot={shot}", "--window-size=1280,6000", "--hide-scrollbars")
    pixels = Image.open(shot).convert("RGB").getdata()
    coloured = sum(1 for r, g, b in pixels if max(r, g, b) - min(r, g, b) > 40)
    return coloured / len(pixels)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> dict:
    """One honest release (MST, epsilon 1, 3,000 rows, default bars) with its workspace kept."""
    root = tmp_path_factory.mktemp("render")
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(demo_spec_dict(ROWS), sort_keys=False))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHPRIV_HOME", str(root / "home"))
        mp.setenv("SYNTHPRIV_KEEP_WORKSPACE", "1")
        for var in ("SYNTHPRIV_STORE", "SYNTHPRIV_WORKSPACE", "SYNTHPRIV_LEDGER_URL"):
            mp.delenv(var, raising=False)
        code = cli.main(["release", str(spec), "--json", "--run-id", "run-render"])
    assert code == 0, "an honest MST release at epsilon 1 must pass the default gates"
    return {"report": Path(_published_uri(root)) / "report.html",
            "review": root / "home" / "workspace" / SPEC.name / "run-render" / "review.html", "tmp": root}


def _published_uri(root: Path) -> str:
    store = root / "home" / "store" / SPEC.publish.dataset
    return str(store / (store / "latest").read_text().strip())


@pytest.mark.parametrize("name", ["report", "review"])
def test_every_plot_renders_in_chromium(release, name):
    sizes = _drawn_image_sizes(release[name], release["tmp"])
    assert len(sizes) == PLOTS
    assert all(w >= 100 and h >= 100 for w, h in sizes), sizes
    assert _coloured_share(release[name], release["tmp"]) > 0.01


def test_the_published_report_holds_no_real_identifier_or_row_value(release):
    real = generate_customers(ROWS)  # what the demo spec's sample source loaded
    html = release["report"].read_text()
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)  # plots are pixels, not text
    identifiers = real[IDENTIFIERS].astype(str).to_numpy().ravel().tolist()
    notes = real["notes"].dropna().tolist()
    leaked = [v for v in identifiers + notes if v in text]
    assert not leaked, f"{len(leaked)} real values in report.html"
    # the real table's own extremes (an individual's birth date) are never shown: only the synthetic table's
    births = real["birth_date"].dropna().sort_values()
    assert births.iloc[0] not in text and births.iloc[-1] not in text
    manifest = json.loads((release["report"].parent / "manifest.json").read_text())
    assert {"privacy", "quality"} <= set(manifest["gates"])
    assert "quality gate" in text and "privacy gate" in text and str(manifest["epsilon"]) in text


def test_the_private_review_holds_no_identifier_value(release):
    real = generate_customers(ROWS)
    html = release["review"].read_text()
    assert not [v for v in real[IDENTIFIERS].astype(str).to_numpy().ravel() if v in html]
    assert "real" in html and "Private." in html
