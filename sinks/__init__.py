"""Sinks: load processed events from Kafka into a store, committing only what landed.

- `base`: the batching sink every store builds on (`add`, `flush`, abstract `write`).
- `checkpoint`: what is committed when (flush, dead letters acknowledged, `last + 1`), what is
  written again after a crash or a failed write; `offsets`: the marks and ranges it commits.
- `consumer`: the poll loop and rebalances, driving the checkpoint; `dead_letters`: the records
  and rows set aside; `workflows`: the replica that decides which workflow changes are versions.
- `clickhouse/`: the ClickHouse store (clients, rows, errors, migrations, sink).
- `service`: the sink process and its HTTP endpoints; `settings`: `HEADWATER_SINK_*`;
  `metrics`: its Prometheus series (the shared counters and the flush time).
"""

__all__: list[str] = []
