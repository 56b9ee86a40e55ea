"""The shared runtime every component stands on: settings, errors, telemetry, logs, the health
routes, background tasks and Kafka's topics.

It imports only `schemas`; the components (`gateway`, `processors`, `sinks`) import it and
`schemas`, never each other; only `headwater` (the CLI) imports the components.
"""
