"""Scheduled runs: andon's jobs on APScheduler, with durable run records and re-runs.

Every job has a schedule from settings (``[scheduler.jobs.<name>]``: ``every``, ``lookback``,
``settle``) and a function that gets a `JobContext` with the data window it covers. The pieces:

- `plan_window` (pure): which window a scheduled run covers, given the clock and the end of the
  last successful scheduled run. Boundaries are aligned to the epoch (an hourly job covers whole
  UTC hours), so a re-run of the same window gives the same result. After downtime the missed
  periods are *coalesced* into one catch-up run instead of one run per missed period.
- `RunStore`: run records in ``andon_job_runs``, append-only (one row per state change, the
  current state is the highest ``Version``).
- `JobRunner`: runs a job (never two runs of the same job at once), retries failures with
  exponential backoff, records every attempt, marks runs a crash interrupted, re-runs by id.
  Its clock is injectable, so tests step through time without sleeping.
- `Scheduler`: the APScheduler ``BackgroundScheduler`` that fires `JobRunner.run_scheduled`
  (``max_instances=1``, ``coalesce=True``, ``misfire_grace_time`` from settings).

`andon serve` starts a `Scheduler`; `andon jobs ...` lists runs, runs a job now, re-runs one.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import traceback
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from errors import ConflictError, InputError, NotFoundError

if TYPE_CHECKING:
    from settings import Settings
    from warehouse import Warehouse

log = logging.getLogger("andon.scheduler")

RUNS_TABLE = "andon_job_runs"
EPOCH = datetime(1970, 1, 1)

RunStatus = Literal["running", "retrying", "succeeded", "failed", "skipped"]
RunTrigger = Literal["schedule", "catchup", "manual", "rerun"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "skipped"})
STALE_RUN = timedelta(hours=6)  # a run of another host silent this long is taken as dead

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float, field: str = "duration") -> timedelta:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"7d"``, ``"2w"`` or a number of seconds -> timedelta."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise InputError(
                f"not a duration: {text!r} (use a number and a unit: 90s, 5m, 1h, 7d)", field=field
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds < 0:
        raise InputError(f"a duration cannot be negative: {text!r}", field=field)
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest exact form: 3600 s -> '1h', 90 s -> '90s'."""
    seconds = delta.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# -- settings ---------------------------------------------------------------------------------


class JobSchedule(BaseModel):
    """``[scheduler.jobs.<name>]``: when one job runs and which data window it covers."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Run this job on its schedule.")
    every: str = Field(
        description="How often, aligned to UTC boundaries: '1m', '5m', '1h', '1d'. A run covers "
        "data up to the last boundary."
    )
    lookback: str | None = Field(
        default=None,
        description="Window length ending at the boundary (e.g. '7d' for the friction analysis). "
        "Unset: the job is incremental and covers everything since its last successful run.",
    )
    settle: str = Field(
        default="0s",
        description="Wait this long after a boundary before covering it, so late telemetry lands.",
    )

    @field_validator("every", "lookback", "settle")
    @classmethod
    def _valid_duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value)
            except InputError as exc:
                raise ValueError(exc.reason) from exc
        return value

    @field_validator("every")
    @classmethod
    def _positive_period(cls, value: str) -> str:
        if parse_duration(value).total_seconds() < 1:
            raise ValueError("'every' must be at least 1s")
        return value

    @property
    def period(self) -> timedelta:
        return parse_duration(self.every, "every")

    @property
    def window_length(self) -> timedelta | None:
        return parse_duration(self.lookback, "lookback") if self.lookback else None

    @property
    def settle_delay(self) -> timedelta:
        return parse_duration(self.settle, "settle")


def _default_jobs() -> dict[str, JobSchedule]:
    return {
        "detect_incidents": JobSchedule(every="2m", lookback="2h", settle="30s"),
        "analyse_friction": JobSchedule(every="1h", lookback="7d", settle="2m"),
        "pull_support_desk": JobSchedule(every="10m"),
        "export_tickets": JobSchedule(every="5m"),
        "housekeeping": JobSchedule(every="1d", settle="10m"),
    }


class SchedulerSettings(BaseModel):
    """``[scheduler]`` in andon.toml, ``ANDON_SCHEDULER__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Run scheduled jobs inside `andon serve`.")
    max_attempts: int = Field(
        default=3, ge=1, le=20, description="Tries per run before it is recorded as failed."
    )
    retry_backoff: str = Field(
        default="30s", description="Wait before the first retry; doubles on each further retry."
    )
    retry_backoff_max: str = Field(default="10m", description="Longest wait between retries.")
    misfire_grace: str = Field(
        default="5m",
        description="A run that could not start on time still starts if it is at most this late; "
        "later ones are coalesced into the next run.",
    )
    max_catchup: str = Field(
        default="7d",
        description="After downtime an incremental job catches up in one run covering at most "
        "this much (older data is left to a manual run).",
    )
    workers: int = Field(default=2, ge=1, le=16, description="Jobs that may run at the same time.")
    start_delay: str = Field(
        default="1m",
        description="After `andon serve` starts, wait this long before any job runs (catch-up "
        "runs included), so the receivers are up and a restart does not load the warehouse at "
        "once.",
    )
    jobs: dict[str, JobSchedule] = Field(
        default_factory=_default_jobs,
        description="Schedule per job: detect_incidents, analyse_friction, pull_support_desk, "
        "export_tickets, housekeeping.",
    )

    @field_validator(
        "retry_backoff", "retry_backoff_max", "misfire_grace", "max_catchup", "start_delay"
    )
    @classmethod
    def _valid_duration(cls, value: str) -> str:
        try:
            parse_duration(value)
        except InputError as exc:
            raise ValueError(exc.reason) from exc
        return value

    @field_validator("jobs", mode="before")
    @classmethod
    def _merge_defaults(cls, value: Any) -> Any:
        # A file that changes one job keeps the defaults of the others.
        if isinstance(value, dict):
            merged: dict[str, Any] = {k: v.model_dump() for k, v in _default_jobs().items()}
            for name, schedule in value.items():
                if isinstance(schedule, dict) and name in merged:
                    merged[name] = {**merged[name], **schedule}
                else:
                    merged[name] = schedule
            return merged
        return value


# -- time -------------------------------------------------------------------------------------


class Clock(Protocol):
    """What the runner needs of time: the current UTC time (naive) and a way to wait."""

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> bool:
        """Wait; False when interrupted by shutdown (the caller stops retrying)."""
        ...


class SystemClock:
    """Wall-clock time; `sleep` returns early (False) once `interrupt` is called."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def sleep(self, seconds: float) -> bool:
        return not self._stop.wait(max(0.0, seconds))

    def interrupt(self) -> None:
        self._stop.set()

    def resume(self) -> None:
        """Allow waiting again (a scheduler started again after a stop)."""
        self._stop.clear()


@dataclass(frozen=True)
class Window:
    """A data window ``[start, end)`` in naive UTC."""

    start: datetime
    end: datetime

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M:%S} to {self.end:%Y-%m-%d %H:%M:%S} UTC"


def floor_time(moment: datetime, period: timedelta) -> datetime:
    """The last boundary at or before ``moment``, boundaries aligned to the Unix epoch."""
    steps = (moment - EPOCH) // period
    return EPOCH + steps * period


@dataclass(frozen=True)
class PlannedRun:
    """What a scheduled firing should cover, and whether it is a coalesced catch-up."""

    window: Window
    trigger: RunTrigger
    missed_periods: int


def plan_window(
    schedule: JobSchedule, now: datetime, last_end: datetime | None, max_catchup: timedelta
) -> PlannedRun | None:
    """The window a scheduled run covers now, or None when that window is already done.

    ``last_end`` is the end of the last successful scheduled run. Several missed periods become
    one run: an incremental job covers the whole gap (at most ``max_catchup``), a lookback job
    covers its lookback ending at the latest boundary.
    """
    period = schedule.period
    end = floor_time(now - schedule.settle_delay, period)
    if last_end is not None and last_end >= end:
        return None
    lookback = schedule.window_length
    if lookback is not None:
        start = end - lookback
        missed = 0 if last_end is None else max(0, (end - last_end) // period - 1)
    else:
        start = last_end if last_end is not None else end - period
        start = max(start, end - max_catchup)
        missed = max(0, (end - start) // period - 1)
    trigger: RunTrigger = "catchup" if missed > 0 else "schedule"
    return PlannedRun(Window(start, end), trigger, int(missed))


def backoff_delay(attempt: int, base: timedelta, cap: timedelta) -> timedelta:
    """Wait after failed attempt ``attempt`` (1-based): base, 2*base, 4*base ... at most cap."""
    return min(cap, base * (2 ** (attempt - 1)))


# -- run records -------------------------------------------------------------------------------


class JobRun(BaseModel):
    """The current (or a historical) state of one run: what the console and `andon jobs` show."""

    run_id: str
    version: int
    job: str
    status: RunStatus
    trigger: RunTrigger
    rerun_of: str = ""
    window_start: datetime
    window_end: datetime
    attempt: int
    max_attempts: int
    scheduled_for: datetime
    started_at: datetime
    finished_at: datetime | None = None
    duration_ms: int | None = None
    next_retry_at: datetime | None = None
    error: str = ""
    output: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    actor: str = "scheduler"
    code_version: str = ""
    host: str = ""
    recorded_at: datetime

    @property
    def window(self) -> Window:
        return Window(self.window_start, self.window_end)

    @property
    def error_summary(self) -> str:
        return self.error.strip().splitlines()[0] if self.error.strip() else ""


_COLUMNS: tuple[tuple[str, str], ...] = (
    ("RunId", "run_id"),
    ("Version", "version"),
    ("Job", "job"),
    ("Status", "status"),
    ("Trigger", "trigger"),
    ("RerunOf", "rerun_of"),
    ("WindowStart", "window_start"),
    ("WindowEnd", "window_end"),
    ("Attempt", "attempt"),
    ("MaxAttempts", "max_attempts"),
    ("ScheduledFor", "scheduled_for"),
    ("StartedAt", "started_at"),
    ("FinishedAt", "finished_at"),
    ("DurationMs", "duration_ms"),
    ("NextRetryAt", "next_retry_at"),
    ("Error", "error"),
    ("Output", "output"),
    ("Parameters", "parameters"),
    ("Actor", "actor"),
    ("CodeVersion", "code_version"),
    ("Host", "host"),
    ("RecordedAt", "recorded_at"),
)
_JSON_FIELDS = {"output", "parameters"}


class RunStore:
    """Run records in ``andon_job_runs``: append-only events, current state by highest Version."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.wh = warehouse

    def record(self, run: JobRun) -> None:
        """Append one event (a state of the run)."""
        row = []
        for _, attr in _COLUMNS:
            value = getattr(run, attr)
            if attr in _JSON_FIELDS:
                value = json.dumps(value, default=str, sort_keys=True)
            row.append(value)
        self.wh.insert(RUNS_TABLE, [row], [c for c, _ in _COLUMNS])

    def _select(self, where: str, params: dict[str, Any], limit: int | None) -> list[JobRun]:
        columns = ", ".join(c for c, _ in _COLUMNS)
        sql = (
            f"SELECT {columns} FROM ("
            f"  SELECT * FROM {self.wh.table(RUNS_TABLE)} ORDER BY Version DESC LIMIT 1 BY RunId"
            f") WHERE {where} ORDER BY StartedAt DESC, RunId"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self._from_row(row) for row in self.wh.rows(sql, params)]

    @staticmethod
    def _from_row(row: Sequence[Any]) -> JobRun:
        data: dict[str, Any] = {}
        for (_, attr), value in zip(_COLUMNS, row, strict=True):
            if attr in _JSON_FIELDS:
                value = json.loads(value) if value else {}
            data[attr] = value
        return JobRun(**data)

    def get(self, run_id: str) -> JobRun:
        """The current state of a run; `NotFoundError` when there is no such run."""
        found = self._select("RunId = {id:String}", {"id": run_id}, 1)
        if not found:
            raise NotFoundError(f"no job run with id {run_id!r}")
        return found[0]

    def history(self, run_id: str) -> list[JobRun]:
        """Every recorded state of a run, oldest first."""
        columns = ", ".join(c for c, _ in _COLUMNS)
        rows = self.wh.rows(
            f"SELECT {columns} FROM {self.wh.table(RUNS_TABLE)} WHERE RunId = {{id:String}} "
            "ORDER BY Version",
            {"id": run_id},
        )
        if not rows:
            raise NotFoundError(f"no job run with id {run_id!r}")
        return [self._from_row(r) for r in rows]

    def recent(
        self,
        job: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[JobRun]:
        """Latest runs first, optionally of one job and/or in one status."""
        clauses, params = ["1"], {}
        if job:
            clauses.append("Job = {job:String}")
            params["job"] = job
        if status:
            clauses.append("Status = {status:String}")
            params["status"] = status
        runs = self._select(" AND ".join(clauses), params, limit + offset)
        return runs[offset:]

    def last_scheduled_end(self, job: str) -> datetime | None:
        """End of the newest window a scheduled (or catch-up) run of ``job`` finished."""
        value = self.wh.scalar(
            f"SELECT max(WindowEnd) FROM {self.wh.table(RUNS_TABLE)} "
            "WHERE Job = {job:String} AND Status = 'succeeded' AND Trigger IN ('schedule', 'catchup')",
            {"job": job},
        )
        if value is None or value <= EPOCH:
            return None
        return value.replace(tzinfo=None) if isinstance(value, datetime) else None

    def unfinished(self) -> list[JobRun]:
        """Runs whose last state is running or retrying."""
        return self._select("Status IN ('running', 'retrying')", {}, None)

    def counts_by_status(self, since: datetime) -> dict[str, int]:
        """How many runs ended in each status since ``since`` (the console's health line)."""
        rows = self.wh.rows(
            f"SELECT Status, count() FROM ("
            f"  SELECT * FROM {self.wh.table(RUNS_TABLE)} ORDER BY Version DESC LIMIT 1 BY RunId"
            ") WHERE StartedAt >= {since:DateTime64(3)} GROUP BY Status",
            {"since": since},
        )
        return {str(status): int(count) for status, count in rows}


# -- jobs and the runner ----------------------------------------------------------------------


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


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


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
        end = _naive(until) if until else floor_time(now - schedule.settle_delay, schedule.period)
        if since is not None:
            start = _naive(since)
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


# -- APScheduler --------------------------------------------------------------------------------


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
            job.id: _naive(job.next_run_time) if job.next_run_time else None
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


# -- andon's jobs -------------------------------------------------------------------------------


def _housekeeping(ctx: JobContext) -> dict[str, Any]:
    """Merge parts of andon's append-only state tables and report table sizes.

    Replacing tables keep older versions of a row until a merge; merging them keeps reads that
    use FINAL or argMax cheap. The sizes go into the run's output, so growth shows in the runs
    history.
    """
    wh = ctx.warehouse
    tables = wh.rows(
        "SELECT name, engine, total_rows, total_bytes FROM system.tables "
        "WHERE database = {db:String} AND engine LIKE '%MergeTree' ORDER BY name",
        {"db": wh.database},
    )
    merged = []
    for name, engine, _, _ in tables:
        if "Replacing" in engine and name.startswith("andon_"):
            on_cluster = ""
            cluster = getattr(wh.settings, "cluster", None)
            if cluster:
                on_cluster = f" ON CLUSTER `{cluster}`"
            wh.command(f"OPTIMIZE TABLE {wh.table(name)}{on_cluster}")
            merged.append(name)
    return {
        "merged_tables": merged,
        "tables": {
            name: {"rows": int(rows or 0), "bytes": int(size or 0)}
            for name, _, rows, size in tables
        },
    }


# The job functions import their packages when they run: settings.py imports this module, and
# those packages import settings, so importing them at the top would be a cycle.


def _app(ctx: JobContext) -> Settings:
    if ctx.settings is None:
        raise InputError("this job needs andon's settings (run it through `andon serve`)")
    return ctx.settings


def _detect_incidents(ctx: JobContext) -> dict[str, Any]:
    """Errors and deploys for the window, then incident detection, RCA and briefs."""
    from ingest.deploy_inference import infer_deployments
    from ingest.errors import derive_errors
    from rca import service as rca

    settings = _app(ctx)
    start, end = ctx.window.start, ctx.window.end
    errors = derive_errors(ctx.warehouse, start, end)
    deploys = infer_deployments(ctx.warehouse, start, end)
    result = rca.detect(ctx.warehouse, settings, start, end, now=ctx.now, run_id=ctx.run_id)
    return {
        "errors_derived": errors,
        "deployments_inferred": deploys,
        "incidents": [i.id for i in result.incidents],
        "new_or_changed": result.changed,
        "briefs_written": len(result.briefs),
        "delivered": result.delivered,
        "notes": result.notes,
    }


def _analyse_friction(ctx: JobContext) -> dict[str, Any]:
    """One batch cycle: derive errors, analyse friction, draft tickets, detect incidents."""
    from pipeline.cycle import run_cycle

    result = run_cycle(
        _app(ctx), ctx.warehouse, ctx.window.start, ctx.window.end, ctx.now, trigger="scheduler"
    )
    return {
        "analysis_run_id": result.run_id,
        "clusters": len(result.clusters),
        "tickets": len(result.tickets),
        "incidents": len(result.incidents),
        "timings_s": result.timings,
    }


def _pull_support_desk(ctx: JobContext) -> dict[str, Any]:
    """New and updated support tickets from Zendesk (incremental export, stored cursor)."""
    from ingest import zendesk

    settings = _app(ctx)
    if not settings.collectors.zendesk_url:
        return {"skipped": "no support desk configured (collectors.zendesk_url is empty)"}
    return zendesk.pull(ctx.warehouse, settings.collectors).to_dict()


def _export_tickets(ctx: JobContext) -> dict[str, Any]:
    """Send every approved ticket to the configured tracker (idempotent)."""
    from ticketing import service as tickets

    settings = _app(ctx)
    results = tickets.export(ctx.warehouse, settings.ticketing, "approved", actor="scheduler")
    return {
        "target": settings.ticketing.default_export_target,
        "exported": [r.to_json() for r in results if r.created],
        "already_exported": [r.ticket_id for r in results if not r.created],
    }


def andon_jobs() -> list[JobDefinition]:
    """The jobs `andon serve` schedules (their schedules are ``[scheduler.jobs.<name>]``)."""
    return [
        JobDefinition(
            "detect_incidents",
            "Looks for regressions (slower, failing or lost traffic) and writes incident briefs.",
            _detect_incidents,
        ),
        JobDefinition(
            "analyse_friction",
            "Finds where users struggle and drafts tickets for the review queue.",
            _analyse_friction,
        ),
        JobDefinition(
            "pull_support_desk",
            "Fetches new and updated support tickets from the support desk.",
            _pull_support_desk,
        ),
        JobDefinition(
            "export_tickets",
            "Sends approved tickets to the tracker.",
            _export_tickets,
        ),
        JobDefinition(
            "housekeeping",
            "Merges andon's state tables and records how big each table is.",
            _housekeeping,
        ),
    ]


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
