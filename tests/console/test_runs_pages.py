"""The runs pages and API: list, run now, re-run by id, failures shown."""

from __future__ import annotations

from datetime import datetime

from starlette.testclient import TestClient

from jobs.runner import JobContext, JobDefinition, JobRunner
from scheduler import shared_runner
from tests.console.conftest import API_TOKEN, PASSWORD, Context, csrf_of, sign_in

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _wait_idle(runner: JobRunner, job: str) -> None:
    lock = runner._locks[job]
    assert lock.acquire(timeout=60), f"{job} is still running"
    lock.release()


def test_runs_page_lists_jobs_and_runs(client: TestClient, console_ctx: Context) -> None:
    sign_in(client)
    page = client.get("/runs")
    assert page.status_code == 200
    assert (
        "housekeeping" in page.text
        and "Every day, covering what arrived since its last run" in page.text
    )
    assert "No runs yet" in page.text

    started = client.post(
        "/jobs/housekeeping/run", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert started.status_code == 303
    run_path = started.headers["location"].split("?")[0]
    runner = shared_runner(console_ctx.settings, console_ctx.warehouse)
    _wait_idle(runner, "housekeeping")
    detail = client.get(run_path)
    assert detail.status_code == 200
    assert "succeeded" in detail.text and "Started by hand" in detail.text
    assert "merged_tables" in detail.text  # the run's output

    listing = client.get("/runs?status=succeeded")
    assert run_path.split("/")[-1] in listing.text
    assert client.get("/runs?status=bogus").status_code == 400


def test_rerun_from_the_page_keeps_the_window(client: TestClient, console_ctx: Context) -> None:
    sign_in(client)
    runner = shared_runner(console_ctx.settings, console_ctx.warehouse)
    first = runner.run_now(
        "housekeeping", since=datetime(2026, 11, 1), until=datetime(2026, 11, 2), actor="test"
    )
    page = client.get(f"/runs/{first.run_id}")
    response = client.post(
        f"/runs/{first.run_id}/rerun", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    new_id = response.headers["location"].split("?")[0].rsplit("/", 1)[-1]
    _wait_idle(runner, "housekeeping")
    again = runner.store.get(new_id)
    assert again.rerun_of == first.run_id and again.window == first.window
    assert again.actor == "maria" and again.status == "succeeded"


def test_failures_are_shown(client: TestClient, console_ctx: Context) -> None:
    def broken(ctx: JobContext) -> dict[str, object]:
        raise RuntimeError("the support desk said 503")

    runner = shared_runner(console_ctx.settings, console_ctx.warehouse)
    failing = JobRunner(
        [JobDefinition("housekeeping", "broken on purpose", broken)],
        console_ctx.settings.scheduler.model_copy(update={"max_attempts": 1}),
        console_ctx.warehouse,
    )
    run = failing.run_now("housekeeping")
    assert run.status == "failed"
    sign_in(client)
    page = client.get("/runs")
    assert "1 job failed on its last run: housekeeping" in page.text
    assert "RuntimeError: the support desk said 503" in page.text
    assert "failing job" in client.get("/").text
    assert runner.store.get(run.run_id).status == "failed"


def test_runs_api(client: TestClient) -> None:
    created = client.post(
        "/api/v1/jobs/housekeeping/run",
        json={"since": "2026-11-01T00:00:00Z", "until": "2026-11-02T00:00:00Z", "wait": True},
        headers=AUTH,
    )
    assert created.status_code == 202, created.text
    run = created.json()
    assert run["status"] == "succeeded" and run["actor"] == "api:ci"
    assert run["window_start"].startswith("2026-11-01T00:00:00")
    detail = client.get(f"/api/v1/runs/{run['run_id']}", headers=AUTH).json()
    assert [h["status"] for h in detail["history"]] == ["running", "succeeded"]
    rerun = client.post(f"/api/v1/runs/{run['run_id']}/rerun", json={"wait": True}, headers=AUTH)
    assert rerun.json()["rerun_of"] == run["run_id"]
    assert rerun.json()["output"]["merged_tables"] == run["output"]["merged_tables"]
    listed = client.get("/api/v1/runs?job=housekeeping", headers=AUTH).json()["runs"]
    assert len(listed) == 2
    missing = client.get("/api/v1/runs/run_nope", headers=AUTH)
    assert missing.status_code == 404 and "no job run" in missing.json()["error"]
    bad = client.post("/api/v1/jobs/housekeeping/run", json={"since": "yesterday"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["field"] == "since"
    assert client.post("/api/v1/jobs/nope/run", json={}, headers=AUTH).status_code == 404
    not_json = client.post(
        "/api/v1/jobs/housekeeping/run",
        content=b"{",
        headers={**AUTH, "content-type": "application/json"},
    )
    assert not_json.status_code == 400


def test_serve_runs_the_scheduler_and_the_runs_page_shows_next_runs(
    console_ctx: Context,
) -> None:
    import httpx

    from server.runtime import start_server

    with start_server(
        console_ctx.settings, console_ctx.warehouse, ingest_port=0, console_port=0
    ) as running:
        runner = shared_runner(console_ctx.settings, console_ctx.warehouse)
        assert runner.next_runs is not None  # the scheduler service started
        upcoming = runner.next_runs()
        assert set(upcoming) == {j.name for j in runner.jobs}
        with httpx.Client(base_url=running.console_url) as client:
            page = client.get("/login")
            client.post(
                "/login",
                data={"name": "maria", "password": PASSWORD, "csrf": csrf_of(page.text)},
            )
            runs = client.get("/runs")
            assert runs.status_code == 200
            assert runs.text.count('<span title="') >= len(upcoming)  # "in 2 min" per job
            assert "Scheduled runs are switched off" not in runs.text
    assert runner.next_runs is None  # stopped with the server
