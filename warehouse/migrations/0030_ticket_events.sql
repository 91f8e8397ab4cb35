-- Ticket lifecycle, append-only: one row per event (proposed, evidence_updated, reproposed,
-- approved, auto_approved, rejected, edited, exported), each with the actor, the time, the reason
-- and the whole ticket as it stands after the event (Snapshot, JSON). Nothing is updated in place:
-- the current ticket is argMax(Snapshot, Version) per TicketId, and the rows are its audit trail.
CREATE TABLE IF NOT EXISTS ${db}.andon_ticket_events ${on_cluster} (
    TicketId String,
    Version UInt32,
    At DateTime64(3),
    Actor String,
    Action LowCardinality(String),
    FromStatus LowCardinality(String),
    ToStatus LowCardinality(String),
    Reason String CODEC(ZSTD(1)),
    Details String CODEC(ZSTD(1)),          -- JSON: what changed (fields, figures, export target)
    RunId String,
    Kind LowCardinality(String),
    Priority LowCardinality(String),
    ClusterIds Array(String),
    Snapshot String CODEC(ZSTD(3))          -- JSON of the ticket after this event
) ENGINE = ${replicated}MergeTree
ORDER BY (TicketId, Version);
