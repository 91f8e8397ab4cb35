-- Incidents, append-only: every change (detected, updated by a later run, declared, resolved,
-- reopened) is one event with a version; the current incident is the payload of the highest
-- version (argMax). Nothing is updated in place, so an incident's history is auditable.
CREATE TABLE IF NOT EXISTS ${db}.andon_incident_events ${on_cluster} (
    IncidentId String,
    Version UInt32,
    At DateTime64(3),
    Kind LowCardinality(String),            -- detected | updated | declared | resolved | reopened
    Status LowCardinality(String),          -- open | resolved
    Service LowCardinality(String),
    Route String,
    Signal LowCardinality(String),
    Onset DateTime64(3),
    Actor String,
    Note String CODEC(ZSTD(1)),
    RunId String,
    Payload String CODEC(ZSTD(3))           -- the rca.models.Incident at this version, as JSON
) ENGINE = ${replicated}ReplacingMergeTree(At)
ORDER BY (IncidentId, Version);

-- Briefs: one row per written brief (a new incident version gets a new brief). The structured
-- text, who wrote it (offline writer or model) and the grounding verdict are kept; Markdown,
-- HTML and JSON are rendered from the incident and this text.
CREATE TABLE IF NOT EXISTS ${db}.andon_incident_briefs ${on_cluster} (
    IncidentId String,
    Version UInt32,
    WrittenAt DateTime64(3),
    Writer LowCardinality(String),
    Grounded UInt8,
    GroundingIssues Array(String),
    Text String CODEC(ZSTD(3)),             -- rca.models.BriefText as JSON
    Delivered Array(String)                 -- where it was sent (e.g. "slack")
) ENGINE = ${replicated}ReplacingMergeTree(WrittenAt)
ORDER BY (IncidentId, Version);
