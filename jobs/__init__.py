"""andon's scheduled jobs, apart from the APScheduler wiring (which is `scheduler.py`).

- `jobs.config`: durations and the ``[scheduler]`` settings (`SchedulerSettings`, `JobSchedule`);
- `jobs.windows`: time and data windows, pure (`plan_window`, `floor_time`, `backoff_delay`);
- `jobs.records`: durable run records in ``andon_job_runs`` (`JobRun`, `RunStore`);
- `jobs.runner`: `JobRunner`, which runs, retries, records and re-runs jobs;
- `jobs.andon_jobs`: the five jobs `andon serve` schedules (`andon_jobs`).
"""
