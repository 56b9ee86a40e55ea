-- What the workflow engine did, from headwater.workflow-history (schemas/executions.py `Step`):
-- every step of every execution, and one row per execution with its status.
--
-- One row per step. The engine reports a step again when it repeats itself after a crash, with
-- the same step id: the sorting key ends with it, so the repeat collapses on merge; query with
-- FINAL for exact counts before that.
CREATE TABLE IF NOT EXISTS workflow_steps
(
    project_id   LowCardinality(String),
    environment  LowCardinality(String),
    workflow_id  String,
    version      UInt32 COMMENT 'the published version the execution runs (0: a never published draft)',
    execution_id String,
    step_id      String COMMENT 'stable: a step reported twice has the same id',
    user_key     String COMMENT 'the workflow''s owner',
    person_id    Nullable(String) COMMENT 'the person whose event started the execution',
    node_id      String COMMENT 'the node; empty for the execution''s own steps',
    kind         LowCardinality(String) COMMENT 'started, entered, waiting, succeeded, failed, attempt, stopped, finished',
    at           DateTime64(3, 'UTC'),
    attempt      UInt32 COMMENT 'attempt: which one',
    status       Nullable(UInt16) COMMENT 'attempt: the HTTP status, if any',
    detail       String COMMENT 'failed, attempt, stopped: why, or what came back'
)
ENGINE = ReplacingMergeTree
ORDER BY (project_id, environment, workflow_id, execution_id, step_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- One row per execution, kept by a materialized view from its steps rather than written by the
-- sink: a step alone does not know the rest (a `finished` step does not carry when the execution
-- started), so each step adds a partial row and merges combine them column by column. A status
-- only moves forward (running, then finished or stopped: an execution ends once), so the
-- furthest status is the latest one whatever order the steps arrive in, and a repeated step
-- changes nothing. Query with FINAL (or GROUP BY execution_id with the same functions) to see
-- each execution as one row:
--   SELECT status, count() FROM workflow_executions FINAL GROUP BY status
CREATE TABLE IF NOT EXISTS workflow_executions
(
    project_id   LowCardinality(String),
    environment  LowCardinality(String),
    workflow_id  String,
    execution_id String,
    version      SimpleAggregateFunction(any, UInt32)
        COMMENT 'the published version it runs (0: a never published draft)',
    user_key     SimpleAggregateFunction(any, String) COMMENT 'the workflow''s owner',
    person_id    SimpleAggregateFunction(any, Nullable(String))
        COMMENT 'the person whose event started it',
    started_at   SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    status       SimpleAggregateFunction(max, Enum8('running' = 1, 'finished' = 2, 'stopped' = 3))
        COMMENT 'the furthest it got: running until a finished or stopped step',
    ended_at     SimpleAggregateFunction(max, Nullable(DateTime64(3, 'UTC')))
        COMMENT 'when it finished or was stopped',
    updated      SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
        COMMENT 'its latest step: when anything last happened to it'
)
ENGINE = AggregatingMergeTree
ORDER BY (project_id, environment, workflow_id, execution_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS workflow_executions_mv TO workflow_executions AS
SELECT
    project_id,
    environment,
    workflow_id,
    execution_id,
    version,
    user_key,
    person_id,
    if(kind = 'started', at, NULL) AS started_at,
    multiIf(kind = 'finished', 'finished', kind = 'stopped', 'stopped', 'running') AS status,
    if(kind IN ('finished', 'stopped'), at, NULL) AS ended_at,
    at AS updated
FROM workflow_steps;

-- Commands now also come from the processors (`event`: an event matched a published workflow's
-- trigger or stop event), and each names the executions it starts. Rows written before this
-- migration read `starts` as empty.
ALTER TABLE workflow_commands
    ADD COLUMN IF NOT EXISTS starts Array(String)
        COMMENT 'the executions it starts, each as workflow_id:version' AFTER workflow_ids;

ALTER TABLE workflow_commands COMMENT COLUMN event 'trigger, event: the event name';
