-- Error events: derived from span exception events and ERROR logs, or sent by Sentry SDKs.
-- ErrorId is deterministic (a span exported twice yields the same id), and the table replaces
-- on it, so duplicates never change a count; readers count uniqExact(ErrorId).
CREATE TABLE IF NOT EXISTS ${db}.andon_errors ${on_cluster} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    ErrorId String,
    Fingerprint LowCardinality(String),
    Source LowCardinality(String),          -- span_event | log | sentry
    ExceptionType LowCardinality(String),
    ExceptionMessage String CODEC(ZSTD(1)),
    Stacktrace String CODEC(ZSTD(3)),
    Culprit String CODEC(ZSTD(1)),          -- top in-app frame, e.g. "shop/cart.py in add_item"
    ServiceName LowCardinality(String),
    ServiceVersion LowCardinality(String),  -- service.version or Sentry release
    Environment LowCardinality(String),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    SessionId String CODEC(ZSTD(1)),
    UserId String CODEC(ZSTD(1)),
    Route String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    IngestedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ${replicated}ReplacingMergeTree(IngestedAt)
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, Fingerprint, toDateTime(Timestamp), ErrorId)
${ttl};

-- Support tickets, one row per distinct version of a ticket (append-only: an update adds a row,
-- so history is kept; the same content twice is one row). Text is redacted before it lands here.
CREATE TABLE IF NOT EXISTS ${db}.andon_support_tickets ${on_cluster} (
    Source LowCardinality(String),          -- csv | jsonl | zendesk | webhook | <name>
    TicketId String,
    ContentHash String,                     -- hash of the redacted content: same content, same row
    CreatedAt DateTime64(3),
    UpdatedAt DateTime64(3),
    Subject String CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(3)),
    Channel LowCardinality(String),
    Tags Array(String),
    UserId String,
    SessionId String,
    EmailHash String,                       -- salted hash of the requester email, for joins
    Status LowCardinality(String),
    Priority LowCardinality(String),
    IngestedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ${replicated}ReplacingMergeTree(IngestedAt)
ORDER BY (Source, TicketId, ContentHash);

-- Merged pull requests (current state: FINAL, or argMax(..., IngestedAt) by Repo, Number).
CREATE TABLE IF NOT EXISTS ${db}.andon_pull_requests ${on_cluster} (
    Repo String,
    Number UInt64,
    Title String,
    Author String,
    MergedAt DateTime64(3),
    MergeCommitSha String,
    Files Array(String),
    Url String,
    Labels Array(String),
    Source LowCardinality(String),          -- jsonl | github | cli
    ContentHash String,                     -- same content again: not stored twice
    IngestedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ${replicated}ReplacingMergeTree(IngestedAt)
ORDER BY (Repo, Number);

-- Deployments (declared, from GitHub, or inferred from a new service.version in traces).
-- A status update (deployment_status) adds a row with the same DeploymentId: read with FINAL or
-- argMax(..., IngestedAt) to get the latest.
CREATE TABLE IF NOT EXISTS ${db}.andon_deployments ${on_cluster} (
    DeploymentId String,
    Service LowCardinality(String),
    Version String,
    CommitSha String,
    Environment LowCardinality(String),
    StartedAt DateTime64(3),
    FinishedAt Nullable(DateTime64(3)),
    Status LowCardinality(String),          -- success | failure | in_progress | inferred ...
    Repo String,
    Source LowCardinality(String),          -- jsonl | github | cli | inferred
    ContentHash String,                     -- a status update is a new row; the same one is not
    IngestedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ${replicated}ReplacingMergeTree(IngestedAt)
ORDER BY DeploymentId;

-- CI gate verdicts (QA, security, performance ...) with their measurements.
CREATE TABLE IF NOT EXISTS ${db}.andon_gate_verdicts ${on_cluster} (
    VerdictId String,                       -- deterministic: same event, same id
    Gate LowCardinality(String),
    Verdict LowCardinality(String),         -- pass | fail | waived
    Repo String,
    PrNumber UInt64,                        -- 0 when the verdict names a commit only
    CommitSha String,
    At DateTime64(3),
    Environment LowCardinality(String),
    Measurements Map(String, Float64),
    Details String,
    Source LowCardinality(String),          -- jsonl | github | cli
    ContentHash String,
    IngestedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ${replicated}ReplacingMergeTree(IngestedAt)
ORDER BY VerdictId;
