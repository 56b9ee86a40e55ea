-- Embeddables entries, as on the compacted headwater.entries topic: the row with the highest
-- version (the record's offset) is the current state; `deleted` marks a tombstone.
CREATE TABLE IF NOT EXISTS entries
(
    project_id       LowCardinality(String),
    embeddable_id    String,
    identifier_key   String,
    identifier_value String,
    entry_id         String,
    updated_at       DateTime64(3, 'UTC'),
    deleted          Bool,
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, embeddable_id, identifier_key, identifier_value)
SETTINGS non_replicated_deduplication_window = 10000;

-- Events from known bots, kept out of `events` and counted per day and user agent.
CREATE TABLE IF NOT EXISTS bot_events
(
    project_id    LowCardinality(String),
    day           Date,
    source_format LowCardinality(String),
    user_agent    String,
    events        UInt64
)
ENGINE = SummingMergeTree
ORDER BY (project_id, day, source_format, user_agent)
SETTINGS non_replicated_deduplication_window = 10000;
