-- Identity links, one row per identification rather than per (anonymous id, person) pair, so an
-- anonymous id identified as A, then B, then A again keeps all three links and each event can be
-- attributed to the link in force at its own time. Replaces `identity_map` (one row per pair).
CREATE TABLE IF NOT EXISTS identity_links
(
    project_id   LowCardinality(String),
    anonymous_id String,
    person_id    String,
    linked_at    DateTime64(3, 'UTC') COMMENT 'event time of the identification'
)
ENGINE = ReplacingMergeTree
ORDER BY (project_id, anonymous_id, linked_at, person_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS identity_links_mv TO identity_links AS
SELECT project_id, assumeNotNull(anonymous_id) AS anonymous_id, assumeNotNull(user_id) AS person_id,
       event_time AS linked_at
FROM events
WHERE ifNull(anonymous_id, '') != '' AND ifNull(user_id, '') != '';

INSERT INTO identity_links
SELECT project_id, assumeNotNull(anonymous_id), assumeNotNull(user_id), event_time
FROM events
WHERE ifNull(anonymous_id, '') != '' AND ifNull(user_id, '') != '';

DROP VIEW IF EXISTS events_resolved;
DROP VIEW IF EXISTS identity_map_mv;
DROP TABLE IF EXISTS identity_map;

-- Events with the person they belong to now, re-attributed at query time without rewriting rows:
-- 1. the event's user id;
-- 2. else the person the processors resolved (an Embeddables entry, or the user the anonymous id
--    was linked to by then);
-- 3. else the link of its anonymous id in force at the event's time (the latest at or before it);
-- 4. else, for events before any link, the first person the anonymous id was identified as;
-- 5. else the anonymous id or identifier itself.
CREATE VIEW IF NOT EXISTS events_resolved AS
SELECT
    e.*,
    multiIf(
        ifNull(e.user_id, '') != '', assumeNotNull(e.user_id),
        e.person_id != ifNull(e.anonymous_id, ''), e.person_id,
        at_time.linked_person != '', at_time.linked_person,
        first.first_person != '', first.first_person,
        e.person_id
    ) AS resolved_person_id
FROM events AS e
ASOF LEFT JOIN
(
    SELECT project_id AS link_project, anonymous_id AS link_anonymous_id,
           person_id AS linked_person, linked_at
    FROM identity_links
) AS at_time
    ON e.project_id = at_time.link_project
    AND ifNull(e.anonymous_id, '') = at_time.link_anonymous_id
    AND e.event_time >= at_time.linked_at
LEFT JOIN
(
    SELECT project_id AS first_project, anonymous_id AS first_anonymous_id,
           argMin(person_id, linked_at) AS first_person
    FROM identity_links
    GROUP BY project_id, anonymous_id
) AS first
    ON e.project_id = first.first_project AND ifNull(e.anonymous_id, '') = first.first_anonymous_id
SETTINGS join_use_nulls = 0;
