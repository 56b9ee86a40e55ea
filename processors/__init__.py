"""Stream processors: the faust app between the raw topic and the events topic.

Each step is a module of plain code over a mapping (`dedupe`, `entry_index`, `identity`,
`split_metrics`); `chain` runs them on one raw record and says what to send. None of them knows
faust: `app` gives them faust tables, wires the chain into agents and sends what it returns.
"""
