"""The job runner against a real warehouse, with a clock the test moves (no sleeping)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from errors import ConflictError, NotFoundError
from jobs.config import JobSchedule, SchedulerSettings
from jobs.runner import JobContext, JobDefinition, JobRunner
from jobs.windows import Window, floor_time
from scheduler import Scheduler
from warehouse import Warehouse

T0 = datetime(2026, 11, 21, 10, 0, 0)


def _recording(calls: list[Window]) -> Any:
    def job(ctx: JobContext) -> dict[str, Any]:
        calls.append(ctx.window)
        return {}

    return job


class FakeClock:
    """Time that moves only when the test (or a retry wait) says so."""

    def __init__(self, now: datetime) -> None:
        self.current = now
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> bool:
        self.slept.append(seconds)
        self.current += timedelta(seconds=seconds)
        return True

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


def _settings(**jobs: JobSchedule) -> SchedulerSettings:
    return SchedulerSettings(
        max_attempts=3, retry_backoff="30s", retry_backoff_max="2m", max_catchup="1d", jobs=jobs
    )


def _ids() -> Any:
    counter = iter(range(1, 10_000))
    return lambda: f"run_{next(counter):04d}"


def _runner(
    warehouse: Warehouse, jobs: list[JobDefinition], clock: FakeClock, **schedules: JobSchedule
) -> JobRunner:
    return JobRunner(
        jobs=jobs,
        settings=_settings(**schedules),
        warehouse=warehouse,
        clock=clock,
        new_run_id=_ids(),
        host="test",
    )


def _count_events(warehouse: Warehouse) -> Any:
    """A job whose result depends only on its window: events recorded inside it."""
    warehouse.command(
        f"CREATE TABLE IF NOT EXISTS {warehouse.table('events')} (At DateTime64(3)) "
        "ENGINE = MergeTree ORDER BY At"
    )

    def count(ctx: JobContext) -> dict[str, Any]:
        n = ctx.warehouse.scalar(
            f"SELECT count() FROM {ctx.warehouse.table('events')} "
            "WHERE At >= {s:DateTime64(3)} AND At < {e:DateTime64(3)}",
            {"s": ctx.window.start, "e": ctx.window.end},
        )
        return {"events": int(n), "now": ctx.now.isoformat()}

    return count


def test_incremental_job_covers_consecutive_windows_once(warehouse: Warehouse) -> None:
    clock = FakeClock(T0 + timedelta(seconds=5))
    seen: list[Window] = []
    job = JobDefinition("pull", "pull tickets", _recording(seen))
    runner = _runner(warehouse, [job], clock, pull=JobSchedule(every="5m"))

    first = runner.run_scheduled("pull")
    assert first is not None and first.status == "succeeded" and first.trigger == "schedule"
    assert first.window == Window(T0 - timedelta(minutes=5), T0)
    # Firing again inside the same period finds nothing new to cover.
    assert runner.run_scheduled("pull") is None
    clock.advance(minutes=5)
    second = runner.run_scheduled("pull")
    assert second is not None and second.window == Window(T0, T0 + timedelta(minutes=5))
    assert seen == [first.window, second.window]


def test_missed_runs_after_downtime_are_coalesced_into_one(warehouse: Warehouse) -> None:
    clock = FakeClock(T0)
    calls: list[Window] = []
    job = JobDefinition("pull", "pull", _recording(calls))
    runner = _runner(warehouse, [job], clock, pull=JobSchedule(every="5m"))
    assert runner.run_scheduled("pull") is not None

    clock.advance(hours=1, seconds=30)  # andon was down: 12 periods missed
    run = runner.run_scheduled("pull")
    assert run is not None
    assert run.trigger == "catchup"
    assert run.window == Window(T0, T0 + timedelta(hours=1))  # one run, the whole gap
    assert len(calls) == 2

    # A lookback job after downtime runs once, for the latest boundary only.
    hourly = JobDefinition("analyse", "analyse", _recording(calls))
    runner2 = _runner(
        warehouse, [hourly], clock, analyse=JobSchedule(every="1h", lookback="7d", settle="2m")
    )
    clock.current = T0 + timedelta(minutes=3)
    assert runner2.run_scheduled("analyse") is not None
    clock.current = T0 + timedelta(hours=5, minutes=3)
    caught_up = runner2.run_scheduled("analyse")
    assert caught_up is not None and caught_up.trigger == "catchup"
    end = T0 + timedelta(hours=5)
    assert caught_up.window == Window(end - timedelta(days=7), end)
    assert runner2.run_scheduled("analyse") is None


def test_catch_up_is_capped(warehouse: Warehouse) -> None:
    clock = FakeClock(T0)
    job = JobDefinition("pull", "pull", lambda ctx: {})
    runner = _runner(warehouse, [job], clock, pull=JobSchedule(every="5m"))
    runner.run_scheduled("pull")
    clock.advance(days=3)
    run = runner.run_scheduled("pull")
    assert run is not None
    assert run.window.end - run.window.start == timedelta(days=1)  # max_catchup


def test_failure_is_retried_with_backoff_and_every_attempt_recorded(warehouse: Warehouse) -> None:
    clock = FakeClock(T0)
    attempts: list[int] = []

    def flaky(ctx: JobContext) -> dict[str, Any]:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError("support desk timed out")
        return {"pulled": 7}

    runner = _runner(
        warehouse, [JobDefinition("pull", "pull", flaky)], clock, pull=JobSchedule(every="5m")
    )
    run = runner.run_scheduled("pull")
    assert run is not None and run.status == "succeeded" and run.attempt == 3
    assert run.output == {"pulled": 7}
    assert clock.slept == [30.0, 60.0]  # 30s, then doubled
    history = runner.store.history(run.run_id)
    assert [h.status for h in history] == [
        "running", "retrying", "running", "retrying", "running", "succeeded",
    ]  # fmt: skip
    assert "ConnectionError: support desk timed out" in history[1].error
    assert history[1].next_retry_at == T0 + timedelta(seconds=30)


def test_failure_after_the_last_attempt_is_recorded_not_silent(
    warehouse: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(T0)

    def broken(ctx: JobContext) -> dict[str, Any]:
        raise ValueError("cluster table missing")

    runner = _runner(
        warehouse, [JobDefinition("analyse", "a", broken)], clock, analyse=JobSchedule(every="1h")
    )
    with caplog.at_level("ERROR", logger="andon.scheduler"):
        run = runner.run_scheduled("analyse")
    assert run is not None and run.status == "failed" and run.attempt == 3
    assert run.error_summary == "ValueError: cluster table missing"
    assert "Traceback" in run.error
    assert clock.slept == [30.0, 60.0]
    assert any("failed after 3 attempt(s)" in r.message for r in caplog.records)
    stored = runner.store.get(run.run_id)
    assert stored.status == "failed" and stored.finished_at is not None
    assert runner.store.counts_by_status(T0 - timedelta(days=1)) == {"failed": 1}
    # A failed incremental window is covered again by the next scheduled run.
    clock.advance(hours=1)
    assert runner.store.last_scheduled_end("analyse") is None


def test_backoff_is_capped(warehouse: Warehouse) -> None:
    clock = FakeClock(T0)
    settings = SchedulerSettings(
        max_attempts=5,
        retry_backoff="30s",
        retry_backoff_max="1m",
        jobs={"x": JobSchedule(every="1m")},
    )

    def broken(ctx: JobContext) -> dict[str, Any]:
        raise RuntimeError("down")

    runner = JobRunner([JobDefinition("x", "x", broken)], settings, warehouse, clock=clock)
    assert runner.run_now("x").status == "failed"
    assert clock.slept == [30.0, 60.0, 60.0, 60.0]


def test_no_overlap_a_second_firing_is_skipped_and_recorded(warehouse: Warehouse) -> None:
    clock = FakeClock(T0)
    started, release = threading.Event(), threading.Event()

    def slow(ctx: JobContext) -> dict[str, Any]:
        started.set()
        assert release.wait(30)
        return {}

    runner = _runner(
        warehouse, [JobDefinition("slow", "s", slow)], clock, slow=JobSchedule(every="1m")
    )
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(runner.run_now("slow")))
    worker.start()
    assert started.wait(30)
    try:
        assert runner.is_running("slow")
        skipped = runner.run_scheduled("slow")
        assert skipped is not None and skipped.status == "skipped"
        assert "still in progress" in skipped.error
        with pytest.raises(ConflictError, match="running now"):
            runner.run_now("slow")
    finally:
        release.set()
        worker.join(30)
    assert results[0].status == "succeeded"
    statuses = sorted(r.status for r in runner.store.recent(job="slow"))
    assert statuses == ["skipped", "succeeded"]


def test_rerun_by_id_covers_the_same_window_with_the_same_result(warehouse: Warehouse) -> None:
    clock = FakeClock(T0 + timedelta(minutes=1))
    count = _count_events(warehouse)
    warehouse.insert("events", [(T0 - timedelta(minutes=m),) for m in (1, 2, 30, 59, 61)], ["At"])
    runner = _runner(
        warehouse, [JobDefinition("count", "count", count)], clock, count=JobSchedule(every="1h")
    )
    original = runner.run_scheduled("count")
    assert original is not None and original.output["events"] == 4

    # Later data outside the window, and time moves on: the re-run still sees the same window.
    warehouse.insert("events", [(T0 + timedelta(minutes=10),)], ["At"])
    clock.advance(hours=3)
    again = runner.rerun(original.run_id, actor="maria")
    assert again.run_id != original.run_id
    assert again.trigger == "rerun" and again.rerun_of == original.run_id
    assert again.actor == "maria"
    assert again.window == original.window
    assert again.output == original.output
    with pytest.raises(NotFoundError, match="no job run"):
        runner.rerun("run_missing")


def test_manual_run_over_a_chosen_window(warehouse: Warehouse) -> None:
    clock = FakeClock(T0)
    count = _count_events(warehouse)
    warehouse.insert("events", [(T0 - timedelta(days=2),)], ["At"])
    runner = _runner(
        warehouse, [JobDefinition("count", "count", count)], clock, count=JobSchedule(every="1h")
    )
    run = runner.run_now("count", since=T0 - timedelta(days=3), until=T0, actor="cli")
    assert run.trigger == "manual" and run.output["events"] == 1
    # Manual runs do not move the schedule forward.
    assert runner.store.last_scheduled_end("count") is None
    with pytest.raises(NotFoundError, match="known jobs: count"):
        runner.run_now("nope")


def test_runs_left_running_by_a_crash_are_marked_failed(warehouse: Warehouse) -> None:
    clock = FakeClock(T0)
    runner = _runner(
        warehouse, [JobDefinition("x", "x", lambda ctx: {})], clock, x=JobSchedule(every="1m")
    )
    crashed = runner._new_run(runner.job("x"), Window(T0, T0), "schedule", "scheduler", "")
    runner.store.record(crashed.model_copy(update={"version": 1}))
    elsewhere = crashed.model_copy(
        update={"run_id": "run_other_host", "host": "other", "version": 1}
    )
    runner.store.record(elsewhere)
    assert runner.recover_interrupted() == [crashed.run_id]
    run = runner.store.get(crashed.run_id)
    assert run.status == "failed" and "interrupted" in run.error
    assert runner.recover_interrupted() == []
    # Another host's run is left alone until it has been silent for hours.
    clock.advance(hours=7)
    assert runner.recover_interrupted() == ["run_other_host"]


def _setting(event: threading.Event) -> Any:
    def job(ctx: JobContext) -> dict[str, Any]:
        event.set()
        return {"ok": 1}

    return job


def test_apscheduler_catches_up_at_start_after_downtime(warehouse: Warehouse) -> None:
    done = threading.Event()
    runner = JobRunner(
        [JobDefinition("tick", "tick", _setting(done))],
        SchedulerSettings(start_delay="0s", jobs={"tick": JobSchedule(every="1h")}),
        warehouse,
    )
    # The last scheduled run ended three hours ago: andon was down since.
    hour = floor_time(runner.clock.now(), timedelta(hours=1))
    stale = runner._new_run(
        runner.job("tick"), Window(hour - timedelta(hours=4), hour - timedelta(hours=3)),
        "schedule", "scheduler", "",
    )  # fmt: skip
    runner.store.record(stale.model_copy(update={"version": 1, "status": "succeeded"}))
    scheduler = Scheduler(runner)
    scheduler.start()
    try:
        assert done.wait(30), "the catch-up run did not fire on start"
        assert scheduler.running
        assert set(scheduler.next_runs()) == {"tick"}
    finally:
        scheduler.shutdown()
    runs = [r for r in runner.store.recent(job="tick") if r.run_id != stale.run_id]
    assert len(runs) == 1 and runs[0].trigger == "catchup" and runs[0].status == "succeeded"
    assert runs[0].window.start == hour - timedelta(hours=3)


def test_apscheduler_waits_for_the_boundary_when_nothing_was_missed(warehouse: Warehouse) -> None:
    runner = JobRunner(
        [JobDefinition("tick", "tick", lambda ctx: {})],
        SchedulerSettings(jobs={"tick": JobSchedule(every="1d")}),
        warehouse,
    )
    scheduler = Scheduler(runner)
    scheduler.start()
    try:
        next_run = scheduler.next_runs()["tick"]
        # The next UTC day boundary at least a minute (start_delay) from now.
        assert next_run is not None and next_run >= runner.clock.now() + timedelta(minutes=1)
        assert next_run == floor_time(next_run, timedelta(days=1))
        assert next_run - runner.clock.now() <= timedelta(days=1, minutes=1)
    finally:
        scheduler.shutdown()
    assert runner.store.recent(job="tick") == []
