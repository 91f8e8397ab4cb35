"""Run records: every cycle's id, window, parameters, code version, timings and outputs.

Append-only (`andon_runs`): a run writes a ``running`` row when it starts and a ``succeeded`` or
``failed`` row (a higher version) when it ends; the current state is ``argMax(..., Version)``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from errors import NotFoundError
from warehouse import Warehouse

RUNS_TABLE = "andon_runs"
_COLUMNS = [
    "RunId", "Version", "Status", "WindowStart", "WindowEnd", "StartedAt", "FinishedAt", "Trigger",
    "Parameters", "CodeVersion", "Timings", "Outputs", "Error", "RecordedAt",
]  # fmt: skip


class RunRecord(BaseModel):
    """The current state of one run, as stored."""

    run_id: str
    status: str
    window_start: datetime
    window_end: datetime
    started_at: datetime
    finished_at: datetime | None = None
    trigger: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    code_version: str = ""
    timings: dict[str, float] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str = ""


def new_run_id(since: datetime, until: datetime, now: datetime, parameters: dict[str, Any]) -> str:
    """``run-YYYYmmddTHHMMSS-<hash>``: sortable by start, deterministic for the same inputs."""
    digest = hashlib.sha256(
        json.dumps([since.isoformat(), until.isoformat(), now.isoformat(), parameters],
                   sort_keys=True, default=str).encode()
    ).hexdigest()[:8]  # fmt: skip
    return f"run-{now:%Y%m%dT%H%M%S}-{digest}"


@lru_cache(maxsize=1)
def code_version() -> str:
    """andon's version plus the git commit of the working tree when there is one."""
    try:
        version = metadata.version("andon")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    root = Path(__file__).resolve().parents[1]
    if (root / ".git").exists():
        try:
            sha = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                capture_output=True, text=True, timeout=5, check=True,
            ).stdout.strip()  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            sha = ""
        if sha:
            return f"{version}+g{sha}"
    return version


def record_started(
    wh: Warehouse,
    run_id: str,
    window: tuple[datetime, datetime],
    started_at: datetime,
    *,
    parameters: dict[str, Any],
    trigger: str,
) -> None:
    """Write the ``running`` row of a run."""
    wh.insert(
        RUNS_TABLE,
        [(run_id, 1, "running", window[0], window[1], started_at, None, trigger,
          json.dumps(parameters, sort_keys=True, default=str), code_version(), {}, "{}", "",
          started_at)],
        _COLUMNS,
    )  # fmt: skip


def record_finished(
    wh: Warehouse,
    run_id: str,
    window: tuple[datetime, datetime],
    started_at: datetime,
    finished_at: datetime,
    *,
    parameters: dict[str, Any],
    trigger: str,
    timings: dict[str, float],
    outputs: dict[str, Any],
    error: str = "",
) -> None:
    """Write the final row of a run: ``succeeded``, or ``failed`` with the error."""
    wh.insert(
        RUNS_TABLE,
        [(run_id, 2, "failed" if error else "succeeded", window[0], window[1], started_at,
          finished_at, trigger, json.dumps(parameters, sort_keys=True, default=str),
          code_version(), timings, json.dumps(outputs, sort_keys=True, default=str), error,
          finished_at)],
        _COLUMNS,
    )  # fmt: skip


def _record(row: tuple[Any, ...]) -> RunRecord:
    (run_id, status, w0, w1, started, finished, trigger, params, version, timings, outputs,
     error) = row  # fmt: skip
    return RunRecord(
        run_id=run_id, status=status, window_start=w0, window_end=w1, started_at=started,
        finished_at=finished, trigger=trigger, parameters=json.loads(params or "{}"),
        code_version=version, timings=dict(timings), outputs=json.loads(outputs or "{}"),
        error=error,
    )  # fmt: skip


_SELECT = (
    "SELECT RunId, argMax(Status, Version), argMax(WindowStart, Version), "
    "argMax(WindowEnd, Version), argMax(StartedAt, Version), argMax(FinishedAt, Version), "
    "argMax(Trigger, Version), argMax(Parameters, Version), argMax(CodeVersion, Version), "
    "argMax(Timings, Version), argMax(Outputs, Version), argMax(Error, Version) FROM {table} "
)


def load_runs(wh: Warehouse, limit: int = 50) -> list[RunRecord]:
    """The most recent runs, newest first."""
    rows = wh.rows(
        _SELECT.format(table=wh.table(RUNS_TABLE))
        + "GROUP BY RunId ORDER BY max(StartedAt) DESC, RunId DESC LIMIT {limit:UInt32}",
        {"limit": limit},
    )
    return [_record(r) for r in rows]


def load_run(wh: Warehouse, run_id: str) -> RunRecord:
    """One run's current state; `NotFoundError` if there is no such run."""
    rows = wh.rows(
        _SELECT.format(table=wh.table(RUNS_TABLE)) + "WHERE RunId = {run:String} GROUP BY RunId",
        {"run": run_id},
    )
    if not rows:
        raise NotFoundError(f"no run {run_id!r}")
    return _record(rows[0])
