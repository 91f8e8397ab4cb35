"""The console in a real browser: Playwright drives Debian's Chromium against `andon serve`'s
console (in-process, on an OS-chosen port) over a warehouse the simulator filled.

Screenshots of the main pages go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.runtime import RunningServer, start_server
from tests.console.conftest import PASSWORD, console_settings
from tests.console.demo_data import DemoData, shared_demo
from ticketing import service as tickets

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def server(engine_dir: Path) -> Iterator[tuple[RunningServer, DemoData]]:
    demo = shared_demo(engine_dir)
    settings = console_settings(demo.settings)
    # Scheduled jobs stay off: the test starts the runs it needs from the Runs page.
    settings = settings.model_copy(
        update={"scheduler": settings.scheduler.model_copy(update={"enabled": False})}
    )
    running = start_server(settings, demo.warehouse, ingest_port=0, console_port=0)
    try:
        yield running, demo
    finally:
        running.stop()


@pytest.fixture(scope="module")
def page(server: tuple[RunningServer, DemoData]) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make system-deps`")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        # Works offline: any request leaving 127.0.0.1 fails the test.
        outside: list[str] = []
        page.on(
            "request",
            lambda r: outside.append(r.url) if not r.url.startswith("http://127.0.0.1") else None,
        )
        try:
            yield page
        finally:
            context.close()
            browser.close()
        assert not outside, f"the console fetched from outside: {outside}"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_review_a_ticket_from_sign_in_to_export(
    page: Any, server: tuple[RunningServer, DemoData]
) -> None:
    running, demo = server
    base = running.console_url
    page.goto(base + "/tickets")
    assert page.url.startswith(base + "/login")
    shot(page, "01-sign-in")
    page.fill("input[name=name]", "maria")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/tickets")
    assert "Signed in as" in page.inner_text("header")
    shot(page, "03-review-queue")

    rows = page.locator("#tickets tbody tr")
    assert rows.count() >= 1
    first = rows.first
    ticket_id = first.get_attribute("data-ticket")
    first.locator("a").first.click()
    page.wait_for_url(f"{base}/tickets/{ticket_id}")

    # The evidence is shown: numbers, sample traces, the SQL behind each fact.
    ticket = tickets.get_ticket(demo.warehouse, ticket_id)
    assert page.locator("h1").inner_text() == ticket.title
    evidence = page.locator("[data-evidence]")
    assert evidence.count() == len(ticket.evidence) >= 1
    assert page.locator("#evidence").is_visible()
    assert "Sessions affected" in page.inner_text("dl.facts")
    assert page.locator("svg.chart").count() >= 1
    if ticket.sample_trace_ids:
        assert page.locator("#traces ~ ul a").count() == len(ticket.sample_trace_ids)
    shot(page, "04-ticket")

    page.click("#approve")
    page.wait_for_selector("p.flash.ok")
    assert "Approved" in page.inner_text("p.flash.ok")
    assert tickets.get_ticket(demo.warehouse, ticket_id).status == "approved"

    page.click("#export")
    page.wait_for_selector("#exported")
    assert "files" in page.inner_text("#exported")
    exported = tickets.get_ticket(demo.warehouse, ticket_id)
    assert exported.status == "exported"
    history = page.inner_text("#history")
    assert re.search(r"Approved\s+maria", history) and re.search(r"Exported\s+maria", history)
    shot(page, "05-ticket-exported")
    export_dir = Path(demo.settings.ticketing.export_dir)
    assert any(ticket_id in p.name for p in export_dir.rglob("*")), "no exported file"


def test_open_an_incident_brief(page: Any, server: tuple[RunningServer, DemoData]) -> None:
    running, _ = server
    base = running.console_url
    page.goto(base + "/")
    shot(page, "02-home")
    page.click("nav >> text=Incidents")
    page.wait_for_url(base + "/incidents")
    rows = page.locator("#incidents tbody tr")
    assert rows.count() >= 1, "the simulated bad deploy was not detected"
    shot(page, "06-incidents")
    incident_id = rows.first.get_attribute("data-incident")
    rows.first.locator("a").first.click()
    page.wait_for_url(f"{base}/incidents/{incident_id}")
    brief = page.inner_text("#brief")
    assert "Summary" in brief and len(brief) > 80
    assert page.locator("svg.chart").count() >= 1
    assert page.locator("#suspects").is_visible()
    shot(page, "07-incident-brief")
    # The self-contained brief page opens too.
    response = page.request.get(f"{base}/incidents/{incident_id}/brief.html")
    assert response.ok and "<svg" in response.text()


def test_friction_explorer_runs_and_trace(
    page: Any, server: tuple[RunningServer, DemoData]
) -> None:
    running, demo = server
    base = running.console_url
    page.goto(base + "/friction")
    assert page.locator("#funnel tbody tr").count() >= 2
    options = page.locator("select[name=by] option")
    if options.count() > 1:
        page.select_option("select[name=by]", index=1)
        page.wait_for_selector("#segments")
    shot(page, "08-friction-explorer")

    page.goto(base + "/runs")
    housekeeping = page.locator("form[action='/jobs/housekeeping/run'] button")
    housekeeping.click()
    page.wait_for_url(re.compile(r".*/runs/run_[0-9a-f]+.*"))
    page.wait_for_selector(".badge.s-succeeded", timeout=60_000)
    shot(page, "09-run")
    page.goto(base + "/runs")
    shot(page, "10-runs")

    trace_id = demo.warehouse.scalar(
        f"SELECT TraceId FROM {demo.warehouse.table('otel_traces')} "
        "WHERE StatusCode = 'Error' AND ParentSpanId = '' LIMIT 1"
    )
    page.goto(f"{base}/traces/{trace_id}")
    assert page.locator("svg.waterfall").count() == 1
    shot(page, "11-trace")


def test_api_with_a_token(server: tuple[RunningServer, DemoData]) -> None:
    import httpx

    from tests.console.conftest import API_TOKEN

    running, _ = server
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with httpx.Client(base_url=running.console_url, headers=headers) as client:
        listed = client.get("/api/v1/tickets")
        assert listed.status_code == 200 and listed.json()["tickets"]
        incidents = client.get("/api/v1/incidents").json()["incidents"]
        assert incidents and {"id", "service", "onset", "suspects"} <= set(incidents[0])
        brief = client.get(f"/api/v1/incidents/{incidents[0]['id']}").json()
        assert brief["brief"]["text"]["summary"]
        flows = client.get("/api/v1/flows").json()
        assert flows["flows"] and flows["steps"]
        assert json.loads(client.get("/healthz").text)["role"] == "console"
