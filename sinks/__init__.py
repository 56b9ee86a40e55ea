"""Sinks: load processed events from Kafka into a store, committing only what landed."""

__all__: list[str] = []
