-- Person property removals (`user_data.unset`, a list of keys), and `persons` honouring them in
-- event time. For each (person, key):
-- 1. the value comes from the latest `set`; the key has no `set`, from the earliest `set_once`;
-- 2. the key is present only if that operation is later in event time than the latest `unset` of
--    the key (at the same millisecond, the unset wins); otherwise it is absent from `properties`.
-- So set, unset, set again: present with the last value; an unset that arrives late but happened
-- before the latest set removes nothing. Limits, both from keeping one row per (key, op):
-- - once a key has a `set`, `set_once` never counts for it, even after an unset: send a `set`;
-- - only the earliest `set_once` is kept, so after an unset newer than it, a later `set_once`
--   cannot bring the key back: send a `set`.
-- A key that was only ever unset is not listed. A person whose keys are all removed is listed
-- with empty properties.
--
-- Unsets get their own table rather than a third `op` of `person_properties`: widening its Enum8
-- takes an ALTER, which migrate applies on the connected shard only, and which the Distributed
-- `person_properties_all` of a cluster would not see.
CREATE TABLE IF NOT EXISTS person_property_unsets
(
    project_id LowCardinality(String),
    person_id  String,
    key        String,
    event_time DateTime64(3, 'UTC'),
    version    Int64 COMMENT 'event time in ms: the latest unset of a key is kept'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, person_id, key)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS person_property_unsets_mv TO person_property_unsets AS
SELECT project_id, person_id, key, event_time, toUnixTimestamp64Milli(event_time) AS version
FROM events
ARRAY JOIN JSONExtract(user_data, 'unset', 'Array(String)') AS key;

-- Unsets stored before this migration (a sink not yet migrated behind processors that emit
-- them). Idempotent: a row the view also wrote has the same sorting key and version. On a
-- cluster, like every data statement, it covers the shard migrate is connected to.
INSERT INTO person_property_unsets
SELECT project_id, person_id, key, event_time, toUnixTimestamp64Milli(event_time)
FROM events
ARRAY JOIN JSONExtract(user_data, 'unset', 'Array(String)') AS key;

DROP VIEW IF EXISTS persons;

CREATE VIEW IF NOT EXISTS persons AS
SELECT
    project_id,
    person_id,
    CAST((groupArrayIf(key, present), groupArrayIf(value, present)), 'Map(String, String)')
        AS properties,
    max(updated_at) AS updated_at
FROM
(
    SELECT
        project_id,
        person_id,
        key,
        maxIfOrNull(event_time, op = 'set') AS set_at,
        minIfOrNull(event_time, op = 'set_once') AS set_once_at,
        maxIfOrNull(event_time, op = 'unset') AS unset_at,
        coalesce(set_at, set_once_at) AS value_at,
        if(set_at IS NOT NULL,
           argMaxIf(value, event_time, op = 'set'),
           argMinIf(value, event_time, op = 'set_once')) AS value,
        unset_at IS NULL OR value_at > unset_at AS present,
        max(event_time) AS updated_at
    FROM
    (
        SELECT project_id, person_id, key, toString(op) AS op, value, event_time
        FROM person_properties
        UNION ALL
        SELECT project_id, person_id, key, 'unset' AS op, '' AS value, event_time
        FROM person_property_unsets
    )
    GROUP BY project_id, person_id, key
    HAVING value_at IS NOT NULL
)
GROUP BY project_id, person_id;
