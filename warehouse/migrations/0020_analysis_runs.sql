-- Analysis runs, append-only: one row per state change of a run (running, then succeeded or
-- failed), with a version; the current state is argMax(..., Version). Nothing is updated in place.
CREATE TABLE IF NOT EXISTS ${db}.andon_runs ${on_cluster} (
    RunId String,
    Version UInt32,                         -- 1 running, 2 finished
    Status LowCardinality(String),          -- running | succeeded | failed
    WindowStart DateTime64(9),
    WindowEnd DateTime64(9),
    StartedAt DateTime64(3),
    FinishedAt Nullable(DateTime64(3)),
    Trigger LowCardinality(String),         -- cli | scheduler | api | test
    Parameters String CODEC(ZSTD(1)),       -- JSON: the settings the run used
    CodeVersion String,
    Timings Map(String, Float64),           -- stage -> seconds
    Outputs String CODEC(ZSTD(1)),          -- JSON: counts and ids of what the run produced
    Error String,
    RecordedAt DateTime64(3)
) ENGINE = ${replicated}ReplacingMergeTree(RecordedAt)
ORDER BY (RunId, Version);

-- Friction clusters, one row per cluster per run (append-only; a run never rewrites another's).
-- Payload is the full analysis.models.Cluster as JSON; the other columns are for filtering.
CREATE TABLE IF NOT EXISTS ${db}.andon_clusters ${on_cluster} (
    RunId String,
    ClusterId String,
    Rank UInt32,
    Kind LowCardinality(String),
    Flow String,
    Step String,
    Segment Map(String, String),
    Metric LowCardinality(String),
    Value Float64,
    Baseline Float64,
    AffectedSessions UInt64,
    AffectedUsers UInt64,
    LostConversions Float64,
    Score Float64,
    Confidence LowCardinality(String),
    Title String,
    WindowStart DateTime64(9),
    WindowEnd DateTime64(9),
    Payload String CODEC(ZSTD(3)),
    CreatedAt DateTime64(3)
) ENGINE = ${replicated}ReplacingMergeTree(CreatedAt)
ORDER BY (RunId, ClusterId);

-- Support-ticket themes found by a run (the ticket ids of each theme, for linking and the console).
CREATE TABLE IF NOT EXISTS ${db}.andon_ticket_themes ${on_cluster} (
    RunId String,
    ThemeId String,
    Label String,
    TopTerms Array(String),
    RepresentativeTicketId String,
    Tickets UInt64,
    TicketIds Array(String),
    Trend Nullable(Float64),
    LinkedClusterIds Array(String),
    CreatedAt DateTime64(3)
) ENGINE = ${replicated}ReplacingMergeTree(CreatedAt)
ORDER BY (RunId, ThemeId);
