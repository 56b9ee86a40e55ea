"""deploy/compose: the file is valid Compose (the Compose Specification's JSON schema, kept in
tests/fixtures from compose-spec/compose-spec), and every Headwater service runs a CLI command
with variables the code reads, on the ports its settings give; the load balancer and the
healthchecks use those ports too."""

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from engine.settings import EngineSettings
from gateway.settings import GatewaySettings
from headwater.envfile import settings_from_env
from processors.settings import ProcessorSettings
from runtime.settings import ClickHouseSettings, KafkaSettings
from sinks.settings import SinkSettings
from tests.conftest import FIXTURES
from tests.deploy.conftest import DEPLOY, cli_commands

COMPOSE = DEPLOY / "compose"
COMPOSE_TEXT = (COMPOSE / "compose.yaml").read_text()
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, from `env`."""

    def value(match: re.Match[str]) -> str:
        name, fallback = match[1], match[2] or ""
        if name in env:
            return env[name]
        assert ":?" not in match[0], f"compose needs {name}: {fallback}"
        return fallback

    return _VARIABLE.sub(value, text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    text = interpolate((COMPOSE / "compose.yaml").read_text(), {"CLICKHOUSE_PASSWORD": "secret"})
    return dict(yaml.safe_load(text))


def headwater_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("headwater:")
    }


def test_the_file_is_valid_compose(compose: dict[str, Any]) -> None:
    schema = json.loads((FIXTURES / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(compose)


def test_the_password_must_be_set() -> None:
    with pytest.raises(AssertionError, match="CLICKHOUSE_PASSWORD"):
        interpolate((COMPOSE / "compose.yaml").read_text(), {})


def test_services_run_cli_commands_with_settings_the_code_reads(compose: dict[str, Any]) -> None:
    services = headwater_services(compose)
    assert set(services) == {"topics", "migrate", "gateway", "processors", "engine", "sink"}
    for name, service in services.items():
        [command, *_] = service["command"]
        assert command in cli_commands(), f"{name} runs `headwater {command}`"
        settings_from_env({k: str(v) for k, v in service["environment"].items()})


def test_ports_healthchecks_and_the_load_balancer_agree_with_the_settings(
    compose: dict[str, Any],
) -> None:
    services = headwater_services(compose)

    def settings(name: str) -> Any:
        return settings_from_env({k: str(v) for k, v in services[name]["environment"].items()})

    ports = {
        "gateway": settings("gateway")[GatewaySettings].port,
        "sink": settings("sink")[SinkSettings].port,
        "processors": settings("processors")[ProcessorSettings].metrics_port,
        "engine": settings("engine")[EngineSettings].metrics_port,
    }
    for name, port in ports.items():
        assert services[name]["expose"] == [str(port)], name
        assert f"127.0.0.1:{port}/" in " ".join(services[name]["healthcheck"]["test"]), name
    listening = (
        settings("gateway")[GatewaySettings].host,
        settings("sink")[SinkSettings].host,
        settings("processors")[ProcessorSettings].metrics_host,
        settings("engine")[EngineSettings].metrics_host,
    )
    assert listening == ("0.0.0.0",) * 4, "other containers must reach them"
    haproxy = (COMPOSE / "haproxy.cfg").read_text()
    assert f" gateway:{ports['gateway']} " in haproxy
    assert "option httpchk GET /readyz" in haproxy


def test_components_reach_the_kafka_and_clickhouse_services(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    for name, service in headwater_services(compose).items():
        env = {k: str(v) for k, v in service["environment"].items()}
        settings = settings_from_env(env)
        assert (
            f"PLAINTEXT://{settings[KafkaSettings].bootstrap}"
            == kafka["KAFKA_ADVERTISED_LISTENERS"]
        ), name
        clickhouse = settings[ClickHouseSettings]
        assert clickhouse.server_url == "http://clickhouse:8123", name
        server = compose["services"]["clickhouse"]["environment"]
        assert (clickhouse.database, clickhouse.username) == (
            server["CLICKHOUSE_DB"],
            server["CLICKHOUSE_USER"],
        ), name


def test_only_the_engine_reads_the_signing_key_and_it_must_be_there(
    compose: dict[str, Any],
) -> None:
    """Every engine replica, and every container re-created later, signs with the same key: the
    one the file's comment makes into engine.env, under a name the engine reads."""
    engine_env = {"path": "./engine.env", "required": True}
    readers = [
        name
        for name, service in headwater_services(compose).items()
        if engine_env in service.get("env_file", [])
    ]
    assert readers == ["engine"]
    made = re.search(r'echo "(\w+)=\$\(openssl rand -hex 32\)" > engine\.env', COMPOSE_TEXT)
    assert made is not None
    engine = settings_from_env({made[1]: "k" * 64})[EngineSettings]
    assert isinstance(engine, EngineSettings) and engine.signing_key is not None
    assert engine.signing_key.get_secret_value() == "k" * 64
