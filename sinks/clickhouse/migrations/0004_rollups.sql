-- Hot-path roll-ups, kept current by materialized views on `events`. A retried insert carries
-- the same insert_deduplication_token, and inserts deduplicate in dependent views too, so a
-- retried batch is counted once.
CREATE TABLE IF NOT EXISTS events_daily
(
    project_id LowCardinality(String),
    day        Date,
    name       LowCardinality(String),
    events     UInt64
)
ENGINE = SummingMergeTree
ORDER BY (project_id, day, name)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_daily_mv TO events_daily AS
SELECT project_id, toDate(event_time) AS day, name, count() AS events
FROM events
GROUP BY project_id, day, name;

CREATE TABLE IF NOT EXISTS metrics_daily
(
    project_id LowCardinality(String),
    day        Date,
    name       LowCardinality(String),
    metric     LowCardinality(String),
    total      Float64,
    samples    UInt64
)
ENGINE = SummingMergeTree
ORDER BY (project_id, day, name, metric)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS metrics_daily_mv TO metrics_daily AS
SELECT project_id, toDate(event_time) AS day, name, metric, sum(value) AS total, count() AS samples
FROM events
ARRAY JOIN mapKeys(metrics) AS metric, mapValues(metrics) AS value
GROUP BY project_id, day, name, metric;
