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
