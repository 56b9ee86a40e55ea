"""The HTTP gateway: vendor formats in, normalised events out to Kafka's raw topic."""

__all__: list[str] = []
