-- The events table: one row per distinct event. ReplacingMergeTree on the sorting key (which ends
-- with event_id) keeps a replayed event once after merges; query with FINAL for exact counts
-- before that. Inserts carry an insert_deduplication_token (topic, partition, offset range), and
-- the deduplication window makes a retried batch a no-op, materialized views included.
CREATE TABLE IF NOT EXISTS events
(
    event_id         String,
    project_id       LowCardinality(String),
    source_format    LowCardinality(String),
    name             LowCardinality(String),
    event_time       DateTime64(3, 'UTC'),
    received_at      DateTime64(3, 'UTC'),
    is_historical    Bool,
    person_id        String DEFAULT coalesce(user_id, anonymous_id, identifier_value, ''),
    idempotency_key  Nullable(String),
    source_event_id  Nullable(String),
    user_id          Nullable(String),
    anonymous_id     Nullable(String),
    identifier_key   Nullable(String),
    identifier_value Nullable(String),
    embeddable_id    Nullable(String),
    url              Nullable(String),
    context          Map(LowCardinality(String), String),
    properties       String COMMENT 'the event properties as sent, JSON text',
    metrics          Map(LowCardinality(String), Float64),
    dimensions       Map(LowCardinality(String), String),
    user_data        String COMMENT 'person property updates (set / set_once), JSON text',
    schema_version   UInt8,
    -- DateTime64(3) holds 1900-2299 only; a time outside it would be stored as a wrong time.
    CONSTRAINT event_time_supported CHECK event_time >= '1900-01-01' AND event_time < '2300-01-01',
    -- The sink passes records through as JSON lines; ClickHouse checks the envelope of an Event
    -- (a record without it is refused and dead-lettered, never stored with empty fields).
    CONSTRAINT is_event_v1 CHECK schema_version = 1 AND event_id != '' AND project_id != ''
        AND name != '' AND source_format != '' AND toUnixTimestamp64Milli(received_at) > 0
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (project_id, toDate(event_time), name, person_id, event_id)
SETTINGS non_replicated_deduplication_window = 10000;
