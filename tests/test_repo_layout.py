"""The worked example in releases/ is the spec `synthpriv demo` runs, so the two cannot drift."""

from __future__ import annotations

from tests.conftest import DEMO_SPEC, REPO


def test_releases_demo_spec_is_the_bundled_demo_spec():
    assert (REPO / "releases" / "demo_customers.yaml").read_bytes() == DEMO_SPEC.read_bytes()


def test_layout_exists():
    for folder in ("synthpriv", "dags", "plugins", "expectations", "releases", "docker", "tests", "bench"):
        assert (REPO / folder).is_dir(), folder
