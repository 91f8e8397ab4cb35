"""`JobRunner`: runs a job (never two runs of the same job at once), retries failures with
exponential backoff, records every attempt, marks runs a crash interrupted, re-runs by id.

Its clock is injectable, so tests step through time without sleeping.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import metadata
from typing import TYPE_CHECKING, Any

from errors import ConflictError, InputError, NotFoundError
from jobs.config import JobSchedule, SchedulerSettings, format_duration, parse_duration
from jobs.records import JobRun, RunStore
from jobs.windows import (
    Clock,
    RunTrigger,
    SystemClock,
    Window,
    backoff_delay,
    floor_time,
    naive_utc,
    plan_window,
)

if TYPE_CHECKING:
    from settings import Settings
    from warehouse import Warehouse

log = logging.getLogger("andon.scheduler")

STALE_RUN = timedelta(hours=6)  # a run of another host silent this long is taken as dead


@dataclass(frozen=True)
class JobContext:
    """What a job function gets: its window, a clock reading it may use, and the app."""

    run_id: str
    job: str
    window: Window
    attempt: int
    settings: Settings | None
    warehouse: Warehouse

    @property
    def now(self) -> datetime:
        # The window end, not the wall clock: a re-run of the same window sees the same "now",
        # which is what makes its result the same.
        return self.window.end


JobFunction = Callable[[JobContext], dict[str, Any] | None]


@dataclass(frozen=True)
class JobDefinition:
    """One job: its name (the settings key), what it does in plain words, and its function."""

    name: str
    description: str
    func: JobFunction


def code_version() -> str:
    """andon's installed version (recorded with every run)."""
    try:
        return metadata.version("andon")
    except metadata.PackageNotFoundError:
        return "unknown"


def _new_run_id() -> str:
    return f"run_{uuid.uuid4().hex[:16]}"


@dataclass
class JobRunner:
    """Runs jobs with records, no overlap, retries with backoff, catch-up and re-runs."""

    jobs: Sequence[JobDefinition]
    settings: SchedulerSettings
    warehouse: Warehouse
    app_settings: Settings | None = None
    clock: Clock = field(default_factory=SystemClock)
    new_run_id: Callable[[], str] = _new_run_id
    host: str = field(default_factory=socket.gethostname)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, init=False, repr=False)
    _by_name: dict[str, JobDefinition] = field(default_factory=dict, init=False, repr=False)
    # Set by a running `Scheduler`, so pages can say when each job runs next.
    next_runs: Callable[[], dict[str, datetime | None]] | None = field(
        default=None, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.store = RunStore(self.warehouse)
        for job in self.jobs:
            if job.name not in self.settings.jobs:
                raise InputError(f"job {job.name!r} has no schedule", field="scheduler.jobs")
            self._by_name[job.name] = job
            self._locks[job.name] = threading.Lock()

    # -- lookups

    def job(self, name: str) -> JobDefinition:
        """The job called ``name``; `NotFoundError` naming the known jobs otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name))
            raise NotFoundError(f"no job called {name!r} (known jobs: {known})") from None

    def schedule(self, name: str) -> JobSchedule:
        return self.settings.jobs[name]

    def is_running(self, name: str) -> bool:
        return self._locks[name].locked()

    # -- entry points

    def run_scheduled(self, name: str) -> JobRun | None:
        """What the scheduler fires: plan the window from the clock and the records, then run.

        Returns None when the latest window is already covered (nothing to do).
        """
        schedule = self.schedule(name)
        plan = plan_window(
            schedule,
            self.clock.now(),
            self.store.last_scheduled_end(name),
            parse_duration(self.settings.max_catchup, "scheduler.max_catchup"),
        )
        if plan is None:
            return None
        if plan.missed_periods:
            log.info(
                "%s: %d missed run(s) coalesced into one covering %s",
                name,
                plan.missed_periods,
                plan.window,
            )
        return self._execute(self.job(name), plan.window, plan.trigger, actor="scheduler")

    def run_now(
        self,
        name: str,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str = "manual",
        background: bool = False,
    ) -> JobRun:
        """Run a job by hand over a window (default: the latest window its schedule covers).

        With ``background`` the run is recorded and returned at once and goes on in a thread.
        """
        job = self.job(name)
        schedule = self.schedule(name)
        now = self.clock.now()
        end = (
            naive_utc(until) if until else floor_time(now - schedule.settle_delay, schedule.period)
        )
        if since is not None:
            start = naive_utc(since)
        elif schedule.window_length is not None:
            start = end - schedule.window_length
        else:
            start = end - schedule.period
        if start >= end:
            raise InputError(f"the window start {start} is not before its end {end}", field="since")
        return self._execute(job, Window(start, end), "manual", actor=actor, background=background)

    def rerun(self, run_id: str, actor: str = "manual", background: bool = False) -> JobRun:
        """Run the job of ``run_id`` again over exactly the same window."""
        original = self.store.get(run_id)
        job = self.job(original.job)
        return self._execute(
            job, original.window, "rerun", actor=actor, rerun_of=run_id, background=background
        )

    def recover_interrupted(self) -> list[str]:
        """Mark runs left running/retrying by a stopped process as failed (call before start).

        Only this host's runs, or any run silent for `STALE_RUN` (a scheduler on another host
        may be running its own jobs against the same ClickHouse server right now).
        """
        recovered = []
        for run in self.store.unfinished():
            if run.job in self._locks and self.is_running(run.job):
                continue  # a run of this process, not a leftover
            now = self.clock.now()
            if run.host != self.host and now - run.recorded_at < STALE_RUN:
                continue
            self.store.record(
                run.model_copy(
                    update={
                        "version": run.version + 1,
                        "status": "failed",
                        "finished_at": now,
                        "next_retry_at": None,
                        "error": "interrupted: andon stopped while this run was in progress "
                        "(re-run it by id to cover its window)",
                        "recorded_at": now,
                    }
                )
            )
            recovered.append(run.run_id)
        return recovered

    def record_skipped(self, name: str, reason: str) -> JobRun:
        """Record a firing that did not run (e.g. the previous run of the job still going)."""
        now = self.clock.now()
        schedule = self.schedule(name)
        end = floor_time(now - schedule.settle_delay, schedule.period)
        start = end - (schedule.window_length or schedule.period)
        run = self._new_run(self.job(name), Window(start, end), "schedule", "scheduler", "")
        skipped = run.model_copy(
            update={"status": "skipped", "finished_at": now, "duration_ms": 0, "error": reason}
        )
        self.store.record(skipped)
        log.warning("%s: skipped: %s", name, reason)
        return skipped

    # -- the run itself

    def _new_run(
        self, job: JobDefinition, window: Window, trigger: RunTrigger, actor: str, rerun_of: str
    ) -> JobRun:
        now = self.clock.now()
        schedule = self.schedule(job.name)
        return JobRun(
            run_id=self.new_run_id(),
            version=0,
            job=job.name,
            status="running",
            trigger=trigger,
            rerun_of=rerun_of,
            window_start=window.start,
            window_end=window.end,
            attempt=1,
            max_attempts=self.settings.max_attempts,
            scheduled_for=window.end + schedule.settle_delay,
            started_at=now,
            parameters={"schedule": schedule.model_dump()},
            actor=actor,
            code_version=code_version(),
            host=self.host,
            recorded_at=now,
        )

    def _execute(
        self,
        job: JobDefinition,
        window: Window,
        trigger: RunTrigger,
        actor: str,
        rerun_of: str = "",
        background: bool = False,
    ) -> JobRun:
        lock = self._locks[job.name]
        if not lock.acquire(blocking=False):
            if trigger in ("schedule", "catchup"):
                return self.record_skipped(job.name, "the previous run is still in progress")
            raise ConflictError(
                f"job {job.name!r} is running now; wait for it to finish and try again"
            )
        try:
            run = self._new_run(job, window, trigger, actor, rerun_of)
            run = run.model_copy(update={"version": 1})
            self.store.record(run)  # recorded before returning, so the run can be looked up
        except BaseException:
            lock.release()
            raise

        def finish() -> JobRun:
            try:
                return self._attempts(job, run)
            finally:
                lock.release()

        if background:
            threading.Thread(target=finish, name=f"andon-job-{job.name}", daemon=True).start()
            return run
        return finish()

    def _attempts(self, job: JobDefinition, run: JobRun) -> JobRun:
        """Try, retry with backoff, record each state; ``run`` is recorded as running (v1)."""
        base = parse_duration(self.settings.retry_backoff, "scheduler.retry_backoff")
        cap = parse_duration(self.settings.retry_backoff_max, "scheduler.retry_backoff_max")
        version = run.version
        attempt = 1
        while True:
            if attempt > 1:
                version += 1
                run = run.model_copy(
                    update={
                        "version": version,
                        "status": "running",
                        "attempt": attempt,
                        "next_retry_at": None,
                        "recorded_at": self.clock.now(),
                    }
                )
                self.store.record(run)
            context = JobContext(
                run_id=run.run_id,
                job=job.name,
                window=run.window,
                attempt=attempt,
                settings=self.app_settings,
                warehouse=self.warehouse,
            )
            try:
                output = job.func(context) or {}
            except Exception as exc:
                error = _describe_failure(exc)
                finished = self.clock.now()
                version += 1
                retry = attempt < run.max_attempts
                delay = backoff_delay(attempt, base, cap)
                run = run.model_copy(
                    update={
                        "version": version,
                        "status": "retrying" if retry else "failed",
                        "finished_at": None if retry else finished,
                        "duration_ms": _ms(finished - run.started_at),
                        "next_retry_at": finished + delay if retry else None,
                        "error": error,
                        "recorded_at": finished,
                    }
                )
                self.store.record(run)
                if not retry:
                    log.error(
                        "%s: run %s failed after %d attempt(s): %s",
                        job.name,
                        run.run_id,
                        attempt,
                        run.error_summary,
                    )
                    return run
                log.warning(
                    "%s: run %s attempt %d failed (%s); retrying in %s",
                    job.name,
                    run.run_id,
                    attempt,
                    run.error_summary,
                    format_duration(delay),
                )
                if not self.clock.sleep(delay.total_seconds()):
                    version += 1
                    stopped = self.clock.now()
                    run = run.model_copy(
                        update={
                            "version": version,
                            "status": "failed",
                            "finished_at": stopped,
                            "next_retry_at": None,
                            "error": f"{error}\n(andon stopped before retrying)",
                            "recorded_at": stopped,
                        }
                    )
                    self.store.record(run)
                    return run
                attempt += 1
                continue
            finished = self.clock.now()
            run = run.model_copy(
                update={
                    "version": version + 1,
                    "status": "succeeded",
                    "finished_at": finished,
                    "duration_ms": _ms(finished - run.started_at),
                    "error": "",
                    "output": json.loads(json.dumps(output, default=str)),
                    "recorded_at": finished,
                }
            )
            self.store.record(run)
            log.info("%s: run %s succeeded over %s", job.name, run.run_id, run.window)
            return run


def _ms(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() * 1000))


def _describe_failure(exc: BaseException) -> str:
    # First line: what a person reads in the runs list; below it the end of the traceback.
    message = str(exc).strip() or type(exc).__name__
    first = f"{type(exc).__name__}: {message.splitlines()[0]}"
    tail = "".join(traceback.format_exception(exc)[-6:])
    return f"{first}\n{tail}"[:8000]
