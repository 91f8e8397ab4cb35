"""Scheduled runs: andon's jobs on APScheduler, with durable run records and re-runs.

This module is the APScheduler wiring; the pieces live in the `jobs` package:

- `jobs.config`: durations, `SchedulerSettings` (``[scheduler]``) and `JobSchedule`
  (``[scheduler.jobs.<name>]``: ``every``, ``lookback``, ``settle``);
- `jobs.windows` (pure): `plan_window`, which window a scheduled run covers, given the clock and
  the end of the last successful scheduled run (epoch-aligned boundaries; missed periods after
  downtime *coalesced* into one catch-up run), `floor_time`, `backoff_delay`, the clocks;
- `jobs.records`: `JobRun` and `RunStore`, run records in ``andon_job_runs``, append-only (one
  row per state change, the current state is the highest ``Version``);
- `jobs.runner`: `JobRunner` runs a job (never two runs of the same job at once), retries
  failures with exponential backoff, records every attempt, marks runs a crash interrupted,
  re-runs by id; its clock is injectable, so tests step through time without sleeping;
- `jobs.andon_jobs`: the jobs themselves (`andon_jobs`).

Here: `Scheduler`, the APScheduler ``BackgroundScheduler`` that fires `JobRunner.run_scheduled`
(``max_instances=1``, ``coalesce=True``, ``misfire_grace_time`` from settings); `shared_runner`,
the one runner of a process; `SchedulerService`, the scheduler as a background service.

`andon serve` starts a `Scheduler`; `andon jobs ...` lists runs, runs a job now, re-runs one.
"""

from __future__ import annotations

import logging
import threading
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jobs.andon_jobs import andon_jobs
from jobs.config import parse_duration
from jobs.runner import JobRunner
from jobs.windows import EPOCH, SystemClock, naive_utc, plan_window

if TYPE_CHECKING:
    from settings import Settings
    from warehouse import Warehouse

log = logging.getLogger("andon.scheduler")


class Scheduler:
    """APScheduler firing `JobRunner.run_scheduled` for every enabled job (a background thread).

    ``max_instances=1`` so a job never overlaps itself (a firing during a run is recorded as
    skipped); ``coalesce=True`` so firings missed while busy become one; on start a job whose
    last scheduled run is older than its period fires at once, covering the windows missed while
    andon was down in one catch-up run.
    """

    def __init__(self, runner: JobRunner) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.runner = runner
        settings = runner.settings
        self._aps = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=settings.workers)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(
                    parse_duration(
                        settings.misfire_grace, "scheduler.misfire_grace"
                    ).total_seconds()
                ),
            },
        )

    def start(self) -> None:
        """Mark interrupted runs, add the enabled jobs and start firing them."""
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
        from apscheduler.triggers.interval import IntervalTrigger

        if isinstance(self.runner.clock, SystemClock):
            self.runner.clock.resume()
        recovered = self.runner.recover_interrupted()
        if recovered:
            log.warning("marked %d interrupted run(s) as failed", len(recovered))

        def on_max_instances(event: JobSubmissionEvent) -> None:
            self.runner.record_skipped(event.job_id, "the previous run is still in progress")

        self._aps.add_listener(on_max_instances, EVENT_JOB_MAX_INSTANCES)
        now = self.runner.clock.now()
        settings = self.runner.settings
        max_catchup = parse_duration(settings.max_catchup, "scheduler.max_catchup")
        earliest = now + parse_duration(settings.start_delay, "scheduler.start_delay")
        for job in self.runner.jobs:
            schedule = self.runner.schedule(job.name)
            if not schedule.enabled:
                continue
            first_fire = EPOCH + schedule.settle_delay
            # Windows missed while andon was down are caught up (in one run) once the start
            # delay has passed; a job that never ran, or is up to date, waits for its next
            # boundary after that delay.
            last_end = self.runner.store.last_scheduled_end(job.name)
            missed = last_end is not None and plan_window(schedule, now, last_end, max_catchup)
            if missed:
                next_run = earliest
            else:
                periods = -((first_fire - earliest) // schedule.period)  # ceil division
                next_run = first_fire + periods * schedule.period
            self._aps.add_job(
                self.runner.run_scheduled,
                IntervalTrigger(
                    seconds=int(schedule.period.total_seconds()),
                    start_date=first_fire.replace(tzinfo=UTC),
                    timezone=UTC,
                ),
                args=[job.name],
                id=job.name,
                name=job.description,
                replace_existing=True,
                next_run_time=next_run.replace(tzinfo=UTC),
            )
        self._aps.start()
        self.runner.next_runs = self.next_runs
        log.info("scheduler started with %d job(s)", len(self._aps.get_jobs()))

    def next_runs(self) -> dict[str, datetime | None]:
        """When each scheduled job fires next (naive UTC)."""
        return {
            job.id: naive_utc(job.next_run_time) if job.next_run_time else None
            for job in self._aps.get_jobs()
        }

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

    def shutdown(self, wait: bool = True) -> None:
        """Stop firing; interrupt retry waits; wait for running jobs when ``wait``."""
        self.runner.next_runs = None
        clock = self.runner.clock
        if isinstance(clock, SystemClock):
            clock.interrupt()
        if self._aps.running:
            self._aps.shutdown(wait=wait)


_SHARED_RUNNERS: weakref.WeakKeyDictionary[Any, JobRunner] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def shared_runner(settings: Settings, warehouse: Warehouse) -> JobRunner:
    """The one runner of a process for this warehouse (so the scheduler, the console and the
    API share the no-overlap locks)."""
    with _SHARED_LOCK:
        runner = _SHARED_RUNNERS.get(warehouse)
        if runner is None:
            runner = JobRunner(
                jobs=andon_jobs(),
                settings=settings.scheduler,
                warehouse=warehouse,
                app_settings=settings,
            )
            _SHARED_RUNNERS[warehouse] = runner
        return runner


def scheduler_service(ctx: Any) -> SchedulerService:
    """The factory `server.app.BACKGROUND_SERVICES` lists (``ctx``: a `ServerContext`)."""
    return SchedulerService(ctx.settings, ctx.warehouse)


class SchedulerService:
    """The scheduler as a background service of `andon serve` (``start``/``stop``)."""

    def __init__(self, settings: Settings, warehouse: Warehouse) -> None:
        self.runner = shared_runner(settings, warehouse)
        self.scheduler: Scheduler | None = None

    def start(self) -> None:
        if not self.runner.settings.enabled:
            log.info("scheduler disabled ([scheduler] enabled = false)")
            return
        self.scheduler = Scheduler(self.runner)
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
