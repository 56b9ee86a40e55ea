"""Settings: the operators' env file stays in sync, aliases and unknown names behave."""

import pytest
from pydantic import ValidationError

from headwater.envfile import render_env_file
from runtime.settings import KafkaSettings
from tests.conftest import ROOT


def test_deploy_env_file_lists_every_setting() -> None:
    # After changing a settings class: `headwater settings > deploy/headwater.env`
    assert (ROOT / "deploy" / "headwater.env").read_text() == render_env_file()


def test_unprefixed_service_variables_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    kafka = KafkaSettings()
    assert kafka.external
    assert kafka.bootstrap_servers == "kafka-1:9092,kafka-2:9092"


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(partitons=3)  # type: ignore[call-arg]
