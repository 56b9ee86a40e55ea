"""Shared settings: unprefixed service variables are honoured, unknown names refused."""

import pytest
from pydantic import ValidationError

from runtime.settings import KafkaSettings


def test_unprefixed_service_variables_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    kafka = KafkaSettings()
    assert kafka.external
    assert kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(partitons=3)  # type: ignore[call-arg]


def test_a_heartbeat_as_slow_as_the_session_is_refused() -> None:
    with pytest.raises(ValidationError, match="heartbeat_interval_ms"):
        KafkaSettings(session_timeout_ms=6_000, heartbeat_interval_ms=6_000)
