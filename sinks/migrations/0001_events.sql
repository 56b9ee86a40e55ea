-- The events table: one row per distinct event. ReplacingMergeTree on event_id keeps a replayed
-- event once (after merges; query with FINAL for exact counts before that).
CREATE TABLE IF NOT EXISTS events
(
    event_id         String,
    project_id       LowCardinality(String),
    source_format    LowCardinality(String),
    name             LowCardinality(String),
    event_time       DateTime64(3, 'UTC'),
    received_at      DateTime64(3, 'UTC'),
    is_historical    Bool,
    idempotency_key  Nullable(String),
    source_event_id  Nullable(String),
    user_id          Nullable(String),
    anonymous_id     Nullable(String),
    identifier_key   Nullable(String),
    identifier_value Nullable(String),
    url              Nullable(String),
    context          Map(LowCardinality(String), String),
    properties       String COMMENT 'the event properties as sent, JSON text',
    metrics          Map(LowCardinality(String), Float64),
    dimensions       Map(LowCardinality(String), String),
    user_data        String COMMENT 'person property updates (set / set_once), JSON text',
    schema_version   UInt8
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (project_id, toDate(event_time), name, event_id)
