-- Person properties, one row per (person, key, operation): `set` keeps the latest value in event
-- time, `set_once` the earliest (version is minus the event time). The `persons` view resolves
-- them: the latest `set` wins; without one, the first `set_once`.
CREATE TABLE IF NOT EXISTS person_properties
(
    project_id LowCardinality(String),
    person_id  String,
    key        String,
    op         Enum8('set' = 1, 'set_once' = 2),
    value      String COMMENT 'JSON text of the value',
    event_time DateTime64(3, 'UTC'),
    version    Int64 COMMENT 'set: event time in ms; set_once: minus that'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, person_id, key, op)
SETTINGS non_replicated_deduplication_window = 10000;

-- Fed from the events' `user_data` JSON by ClickHouse itself (the raw JSON text of each value).
CREATE MATERIALIZED VIEW IF NOT EXISTS person_properties_set_mv TO person_properties AS
SELECT project_id, person_id, kv.1 AS key, 'set' AS op, kv.2 AS value, event_time,
       toUnixTimestamp64Milli(event_time) AS version
FROM events
ARRAY JOIN JSONExtractKeysAndValuesRaw(user_data, 'set') AS kv;

CREATE MATERIALIZED VIEW IF NOT EXISTS person_properties_set_once_mv TO person_properties AS
SELECT project_id, person_id, kv.1 AS key, 'set_once' AS op, kv.2 AS value, event_time,
       -toUnixTimestamp64Milli(event_time) AS version
FROM events
ARRAY JOIN JSONExtractKeysAndValuesRaw(user_data, 'set_once') AS kv;

CREATE VIEW IF NOT EXISTS persons AS
SELECT
    project_id,
    person_id,
    CAST((groupArray(key), groupArray(value)), 'Map(String, String)') AS properties,
    max(updated_at) AS updated_at
FROM
(
    SELECT
        project_id,
        person_id,
        key,
        if(countIf(op = 'set') > 0,
           argMaxIf(value, event_time, op = 'set'),
           argMinIf(value, event_time, op = 'set_once')) AS value,
        max(event_time) AS updated_at
    FROM person_properties
    GROUP BY project_id, person_id, key
)
GROUP BY project_id, person_id;

-- anonymous_id -> person links from every event that carries both, versioned by the event time
-- of the identification: the latest link of an anonymous id is the one queries attribute its
-- events to.
CREATE TABLE IF NOT EXISTS identity_map
(
    project_id   LowCardinality(String),
    anonymous_id String,
    person_id    String,
    linked_at    DateTime64(3, 'UTC'),
    version      UInt64 COMMENT 'event time in ms of the identification'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, anonymous_id, person_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS identity_map_mv TO identity_map AS
SELECT project_id, assumeNotNull(anonymous_id) AS anonymous_id, assumeNotNull(user_id) AS person_id,
       event_time AS linked_at, toUInt64(toUnixTimestamp64Milli(event_time)) AS version
FROM events
WHERE ifNull(anonymous_id, '') != '' AND ifNull(user_id, '') != '';

-- Events with the person they belong to now: the user id if the event has one, else the person
-- its anonymous id was (last) identified as, else the anonymous id or identifier. History is
-- re-attributed at query time, without rewriting events.
CREATE VIEW IF NOT EXISTS events_resolved AS
SELECT
    e.*,
    coalesce(e.user_id, nullIf(m.resolved, ''), e.anonymous_id, e.identifier_value, '') AS resolved_person_id
FROM events AS e
LEFT JOIN
(
    SELECT project_id, anonymous_id, argMax(person_id, version) AS resolved
    FROM identity_map
    GROUP BY project_id, anonymous_id
) AS m ON e.project_id = m.project_id AND ifNull(e.anonymous_id, '') = m.anonymous_id;
