"""Stream processors: the faust app between the raw topic and the events topic.

Each concern is a module of plain code over a mapping (`dedupe`, `identity`, `entries`,
`split_metrics`), testable without Kafka; `processors/app.py` gives them faust tables and wires
them into agents.
"""
