"""The ClickHouse sink: each Kafka partition's batch becomes one insert, and a retried batch is
stored once.

Wire format:
- **Events** (`headwater.events`) go in as JSON lines (`JSONEachRow`) that ClickHouse parses
  itself, fields by name, unknown ones skipped, omitted ones from the column defaults; persons,
  identities and the roll-ups follow from them through materialized views.
- **Entries, bot counts, workflow versions, commands and execution steps** (`headwater.entries`,
  `headwater.bots`, `headwater.workflows`, `headwater.workflow-commands`,
  `headwater.workflow-history`), small tables, go in as columnar rows (`rows.py`); executions
  follow from their steps through a materialized view.
- **Every insert is synchronous and carries a deduplication token naming its offset range**
  (`<topic>:<partition>:<first>-<last>`), for the table and its views: the same range written
  again after a crash or a failed write is dropped by ClickHouse, which is what makes the
  checkpoint's "write again" safe.
- **On a cluster** each batch goes through the Distributed `<table>_all` to the one shard its
  partition maps to (`insert_shard_id`), so a retry reaches the deduplication log that saw it.

The same code runs against a ClickHouse server over HTTP and against the embedded engine
(clickhouse-connect's `interface="chdb"`). Both clients are synchronous, and the embedded one must
not be used from two threads at once, so every call goes through one worker thread
(`client.ClientThread`).

Modules: `client` (connecting, the worker thread), `rows` (what a record becomes), `errors`
(which failures are the data's, dead-lettered, and which are retried), `migrate` (the versioned
schema in `migrations/`), `sink` (the sink itself).
"""

__all__: list[str] = []
