-- Where each pull collector stopped (e.g. Zendesk's incremental export cursor). Append-only:
-- every pull adds a row, the latest (argMax by UpdatedAt) is where the next pull resumes.
CREATE TABLE IF NOT EXISTS ${db}.andon_collector_cursors ${on_cluster} (
    Collector LowCardinality(String),       -- e.g. zendesk:https://acme.zendesk.com
    Cursor String,
    UpdatedAt DateTime64(3),
    Stored UInt64,                          -- tickets stored by the pull that ended here
    Note String
) ENGINE = ${replicated}MergeTree()
ORDER BY (Collector, UpdatedAt);
