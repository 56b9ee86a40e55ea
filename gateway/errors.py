"""Gateway errors: each maps to one HTTP answer in the vendor's own shape."""

from headwater.errors import HeadwaterError

__all__ = ["InvalidPayload", "KafkaUnavailable"]


class InvalidPayload(HeadwaterError):
    """The request cannot become an event: bad JSON, a missing field, a wrong type, ..."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class KafkaUnavailable(HeadwaterError):
    """Kafka did not acknowledge in time; the client should retry later."""

    retriable = True
