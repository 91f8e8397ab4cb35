-- Scheduled and manual job runs, append-only: every state change of a run (started, retrying,
-- succeeded, failed, skipped) is a new row with a higher Version. The current state of a run is
-- argMax(..., Version) per RunId; the history of a run is all its rows.
CREATE TABLE IF NOT EXISTS ${db}.andon_job_runs ${on_cluster} (
    RunId String,
    Version UInt64,                         -- grows with every event of the same run
    Job LowCardinality(String),
    Status LowCardinality(String),          -- running | retrying | succeeded | failed | skipped
    Trigger LowCardinality(String),         -- schedule | catchup | manual | rerun
    RerunOf String,                         -- the run id this one repeats ('' otherwise)
    WindowStart DateTime64(3),              -- the data window the run covers, [start, end)
    WindowEnd DateTime64(3),
    Attempt UInt16,                         -- 1 for the first try, 2.. for retries
    MaxAttempts UInt16,
    ScheduledFor DateTime64(3),
    StartedAt DateTime64(3),
    FinishedAt Nullable(DateTime64(3)),
    DurationMs Nullable(UInt64),
    NextRetryAt Nullable(DateTime64(3)),
    Error String CODEC(ZSTD(1)),
    Output String CODEC(ZSTD(3)),           -- JSON summary the job returned
    Parameters String CODEC(ZSTD(1)),       -- JSON of the settings the job ran with
    Actor String,                           -- who asked: scheduler, a console user, an API token
    CodeVersion LowCardinality(String),
    Host LowCardinality(String),
    RecordedAt DateTime64(3)
) ENGINE = ${replicated}MergeTree()
PARTITION BY toYYYYMM(StartedAt)
ORDER BY (Job, RunId, Version);
