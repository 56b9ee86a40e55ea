-- Embed Workflow API history. The definitions themselves live on the compacted
-- headwater.workflows topic, which keeps only each object's last change: these tables keep every
-- version, for analysis.
--
-- One row per accepted change to a workflow (a refused change never becomes one: the sink decides
-- by replaying the topic as every replica does, sinks/workflows.py). A deletion is a row with
-- `deleted` set and the fields of the version it deleted. A change is named by its request id, so
-- the same change written again (a sink restarted before its commit) collapses on merge; query
-- with FINAL for exact counts before that.
CREATE TABLE IF NOT EXISTS workflow_versions
(
    project_id        LowCardinality(String),
    environment       LowCardinality(String),
    workflow_id       String,
    request_id        String COMMENT 'names the change; the state it made is known by it',
    base              Nullable(String) COMMENT 'request id of the state it was computed from',
    at                DateTime64(3, 'UTC') COMMENT 'when the gateway made the change',
    deleted           UInt8,
    key               String,
    user_key          String,
    name              String,
    template_status   LowCardinality(String),
    version           UInt32 COMMENT 'published versions so far (0: never published)',
    last_published_at Nullable(DateTime64(3, 'UTC')),
    definition        String COMMENT 'the workflow object as the API shows it, JSON text'
)
ENGINE = ReplacingMergeTree
ORDER BY (project_id, environment, workflow_id, request_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- What the API asked the workflow engine to do (trigger, execute, stop), one row per command. A
-- command recorded twice (a producer retrying) has the same request id and type, and collapses.
CREATE TABLE IF NOT EXISTS workflow_commands
(
    type             LowCardinality(String),
    request_id       String,
    project_id       LowCardinality(String),
    environment      LowCardinality(String),
    user_key         String,
    at               DateTime64(3, 'UTC'),
    event            Nullable(String) COMMENT 'trigger: the event name',
    all_workflows    UInt8 COMMENT 'trigger: every workflow of the user',
    workflow_ids     Array(String),
    workflow_version Nullable(UInt32) COMMENT 'execute: the published version run',
    stop_event       Nullable(String),
    execution_data   String COMMENT 'JSON text',
    filters          String COMMENT 'stop: what executions must match, JSON text'
)
ENGINE = ReplacingMergeTree
ORDER BY (project_id, environment, request_id, type)
SETTINGS non_replicated_deduplication_window = 10000;
