"""Every dashboard kept in bi/assets, opened in a real browser against `make bi`'s Superset.

Runs under .venv-bi (`make test-ui`) after `make demo` and `make bi`: Debian's chromium driven by
Playwright through its executable path (Playwright never downloads a browser here). A chart
passes when its data request answers 200 with rows, and it renders a canvas, an SVG or a table
with neither an error nor Superset's "no results" state. Each dashboard's screenshot is written
to docs/dashboard_<slug>.png (the README shows two).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, Response, expect, sync_playwright

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "bi" / "assets"
DOCS = REPO / "docs"
DATA_DIR = Path(os.environ.get("FUNNELHOUSE_DATA_DIR", REPO / ".data"))
RENDER_TIMEOUT_MS = 180_000  # a cold dashboard queries the warehouse once per chart

CHART = '[data-test="chart-grid-component"]'
# Inside the chart body only: the header has SVG icons of its own.
DRAWN = ", ".join(f'[data-test="slice-container"] {e}' for e in ("canvas", "svg", "table tbody tr"))
FAILED = '[data-test="empty-state"], [data-test="error-alert"], .ant-alert-error'


def _dashboards() -> list[tuple[str, str, list[str]]]:
    """(slug, title, chart titles) of every dashboard in the repository."""
    found = []
    for path in sorted((ASSETS / "dashboards").glob("*.yaml")):
        dash = yaml.safe_load(path.read_text())
        charts = sorted((ASSETS / "charts" / dash["slug"]).glob("*.yaml"))
        found.append(
            (dash["slug"], dash["dashboard_title"],
             [yaml.safe_load(c.read_text())["slice_name"] for c in charts])
        )  # fmt: skip
    return found


DASHBOARDS = _dashboards()


def _chromium() -> str:
    path = os.environ.get("FUNNELHOUSE_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "chromium not found: `sudo apt-get install -y chromium` (Debian/Ubuntu), "
            "or point FUNNELHOUSE_CHROMIUM at a Chromium binary"
        )
    return path


@pytest.fixture(scope="session")
def admin() -> dict[str, str]:
    creds_file = DATA_DIR / "superset" / "admin.json"
    if not creds_file.exists():
        pytest.fail(f"{creds_file} is missing: run `make demo` and `make bi` first")
    return json.loads(creds_file.read_text())


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
        b = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def page(browser: Browser, admin: dict[str, str]) -> Iterator[Page]:
    """One logged-in page for all dashboards (Superset's login form, as a person would)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(RENDER_TIMEOUT_MS)
    page.goto(f"{admin['url']}/login/")
    page.fill("#username", admin["username"])
    page.fill("input[type=password]", admin["password"])
    page.click("button[type=submit]")
    page.wait_for_url("**/superset/welcome/**")
    yield page
    context.close()


def test_every_dashboard_in_the_repository_is_tested() -> None:
    slugs = {slug for slug, _, _ in DASHBOARDS}
    assert {"conversion", "call-load", "call-efficiency", "manager-activity", "forgotten",
            "missed-calls", "loss-reasons", "plan-fact", "customer-revenue"} <= slugs  # fmt: skip
    assert all(charts for _, _, charts in DASHBOARDS)


@pytest.mark.parametrize(("slug", "title", "charts"), DASHBOARDS, ids=[d[0] for d in DASHBOARDS])
def test_dashboard_renders_every_chart_with_data(
    page: Page, admin: dict[str, str], slug: str, title: str, charts: list[str]
) -> None:
    answers: list[Response] = []

    def on_response(response: Response) -> None:
        if "/api/v1/chart/data" in response.url:
            answers.append(response)

    page.on("response", on_response)
    try:
        page.goto(f"{admin['url']}/superset/dashboard/{slug}/")
        expect(page.get_by_text(title, exact=True).first).to_be_visible()
        holders = page.locator(CHART)
        expect(holders).to_have_count(len(charts))
        for i, name in enumerate(charts):
            holder = holders.nth(i)
            holder.scroll_into_view_if_needed()
            expect(holder.get_by_text(name, exact=True).first).to_be_visible()
            # Settled first (drawn, or an error / "no results" state), then judged.
            expect(holder.locator(f"{DRAWN}, {FAILED}").first).to_be_visible()
            expect(holder.locator('[data-test="loading-indicator"]')).to_have_count(0)
            expect(holder.locator(FAILED)).to_have_count(0)
            expect(holder.locator(DRAWN).first).to_be_visible()
        page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("response", on_response)

    assert len(answers) >= len(charts), f"{len(answers)} data requests for {len(charts)} charts"
    for response in answers:
        assert response.status == 200, f"{response.url}: HTTP {response.status}"
        for result in response.json()["result"]:
            assert result.get("error") is None, result["error"]
            assert result["rowcount"] > 0, f"{response.url}: no rows"
    # The picture only: from the top (the header is sticky), once ECharts' ~1 s draw-in
    # animation has run. Nothing above depends on this wait.
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(2500)
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / f"dashboard_{slug}.png"), full_page=True)
