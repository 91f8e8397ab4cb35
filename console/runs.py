"""The runs pages and API: job schedules, run history, run now, re-run by id."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.web import ConsoleWeb, Viewer, redirect
from errors import InputError
from jobs.records import FINISHED, JobRun
from jobs.runner import JobRunner
from scheduler import shared_runner

STATUSES = ["running", "retrying", "succeeded", "failed", "skipped"]
TRIGGER_TEXT = {
    "schedule": "On schedule",
    "catchup": "Catch-up after downtime",
    "manual": "Started by hand",
    "rerun": "Re-run",
}


def plain_duration(delta: timedelta) -> str:
    """timedelta(hours=2) -> '2 hours'; 90 s -> '90 seconds'; 1 day -> 'day'."""
    seconds = int(delta.total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}s" if count != 1 else unit
    return f"{seconds} seconds"


def schedule_text(runner: JobRunner, name: str) -> str:
    """'Every hour, looking at the last 7 days' in words a PM reads at a glance."""
    schedule = runner.schedule(name)
    text = f"Every {plain_duration(schedule.period)}"
    if schedule.window_length is not None:
        text += f", looking at the last {plain_duration(schedule.window_length)}"
    else:
        text += ", covering what arrived since its last run"
    if schedule.settle_delay.total_seconds():
        text += f" (waits {plain_duration(schedule.settle_delay)} for late data)"
    return text


def job_summaries(runner: JobRunner) -> list[dict[str, Any]]:
    """Each job with its plain description, schedule, last run and next run (when scheduled)."""
    summaries = []
    upcoming = runner.next_runs() if runner.next_runs is not None else {}
    for job in runner.jobs:
        last = runner.store.recent(job=job.name, limit=1)
        summaries.append(
            {
                "name": job.name,
                "description": job.description,
                "schedule_text": schedule_text(runner, job.name),
                "enabled": runner.schedule(job.name).enabled,
                "schedule": runner.schedule(job.name).model_dump(),
                "last": last[0] if last else None,
                "next_run": upcoming.get(job.name),
            }
        )
    return summaries


def failing_jobs(runner: JobRunner) -> list[str]:
    """Jobs whose latest finished run failed (shown as a banner: failures are never silent)."""
    failing = []
    for job in runner.jobs:
        for run in runner.store.recent(job=job.name, limit=5):
            if run.status in FINISHED and run.status != "skipped":
                if run.status == "failed":
                    failing.append(job.name)
                break
    return failing


def _parse_time(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(
            f"not an ISO 8601 time: {value!r} (e.g. 2026-11-21T10:00:00Z)", field=field
        ) from exc


def runs_routes(web: ConsoleWeb) -> list[BaseRoute]:
    """Routes of the runs pages (HTML) and of /api/v1/jobs and /api/v1/runs (JSON)."""
    ctx = web.ctx

    def runner() -> JobRunner:
        return shared_runner(ctx.settings, ctx.warehouse)

    def runs_page(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        r = runner()
        job_filter = request.query_params.get("job", "")
        status_filter = request.query_params.get("status", "")
        if status_filter and status_filter not in STATUSES:
            raise InputError(f"unknown status {status_filter!r}", field="status")
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        size = web.settings.page_size
        runs = r.store.recent(
            job=job_filter or None,
            status=status_filter or None,
            limit=size + 1,
            offset=(page - 1) * size,
        )
        return web.render(
            request,
            "runs.html",
            viewer,
            jobs=job_summaries(r),
            job_names=[j.name for j in r.jobs],
            statuses=STATUSES,
            job_filter=job_filter,
            status_filter=status_filter,
            runs=runs[:size],
            more=len(runs) > size,
            page=page,
            failing=failing_jobs(r),
            max_attempts=r.settings.max_attempts,
            scheduler_on=r.settings.enabled,
            trigger_text=TRIGGER_TEXT,
        )

    def run_page(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        r = runner()
        run = r.store.get(request.path_params["run_id"])
        job = next((j for j in r.jobs if j.name == run.job), None)
        return web.render(
            request,
            "run.html",
            viewer,
            run=run,
            description=job.description if job else "",
            history=r.store.history(run.run_id),
            output_json=json.dumps(run.output, indent=2, default=str),
            parameters_json=json.dumps(run.parameters, indent=2, default=str),
            trigger_text=TRIGGER_TEXT,
        )

    def rerun_action(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        run = runner().rerun(request.path_params["run_id"], actor=viewer.actor, background=True)
        return redirect(
            f"/runs/{run.run_id}", f"Re-running {run.job} over the same window ({run.run_id})."
        )

    def run_now_action(request: Request, viewer: Viewer, form: FormData | None) -> Response:
        run = runner().run_now(request.path_params["job"], actor=viewer.actor, background=True)
        return redirect(f"/runs/{run.run_id}", f"Started {run.job} ({run.run_id}).")

    # -- JSON API

    def api_jobs(request: Request, actor: str, body: Any) -> Any:
        return {"jobs": job_summaries(runner())}

    def api_runs(request: Request, actor: str, body: Any) -> Any:
        params = request.query_params
        status = params.get("status") or None
        if status and status not in STATUSES:
            raise InputError(
                f"unknown status {status!r}; one of {', '.join(STATUSES)}", field="status"
            )
        try:
            limit = min(500, max(1, int(params.get("limit", "100"))))
        except ValueError as exc:
            raise InputError("limit must be a whole number", field="limit") from exc
        return {
            "runs": runner().store.recent(job=params.get("job") or None, status=status, limit=limit)
        }

    def api_run(request: Request, actor: str, body: Any) -> Any:
        r = runner()
        run_id = request.path_params["run_id"]
        return {"run": r.store.get(run_id), "history": r.store.history(run_id)}

    def api_rerun(request: Request, actor: str, body: Any) -> JobRun:
        wait = bool(body.get("wait", False))
        return runner().rerun(request.path_params["run_id"], actor=actor, background=not wait)

    def api_run_job(request: Request, actor: str, body: Any) -> JobRun:
        wait = bool(body.get("wait", False))
        return runner().run_now(
            request.path_params["job"],
            since=_parse_time(body.get("since"), "since"),
            until=_parse_time(body.get("until"), "until"),
            actor=actor,
            background=not wait,
        )

    return [
        Route("/runs", web.page(runs_page), methods=["GET"]),
        Route("/runs/{run_id}", web.page(run_page), methods=["GET"]),
        Route("/runs/{run_id}/rerun", web.page(rerun_action), methods=["POST"]),
        Route("/jobs/{job}/run", web.page(run_now_action), methods=["POST"]),
        Route("/api/v1/jobs", web.api(api_jobs), methods=["GET"]),
        Route("/api/v1/jobs/{job}/run", web.api(api_run_job, 202), methods=["POST"]),
        Route("/api/v1/runs", web.api(api_runs), methods=["GET"]),
        Route("/api/v1/runs/{run_id}", web.api(api_run), methods=["GET"]),
        Route("/api/v1/runs/{run_id}/rerun", web.api(api_rerun, 202), methods=["POST"]),
    ]
