"""Run records in ``andon_job_runs``: append-only (one row per state change, the current state
is the highest ``Version``), what the console and `andon jobs` show.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from errors import NotFoundError
from jobs.windows import EPOCH, RunTrigger, Window

if TYPE_CHECKING:
    from warehouse import Warehouse

RUNS_TABLE = "andon_job_runs"

RunStatus = Literal["running", "retrying", "succeeded", "failed", "skipped"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "skipped"})


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
