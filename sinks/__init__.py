"""Sinks: take processed events off Kafka and load them into a store, committing only what landed."""

__all__: list[str] = []
