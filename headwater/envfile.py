"""Every setting of every component as a commented env file: `headwater settings`.

`deploy/headwater.env` is this output, kept in sync by a test, so operators have one place that
lists each variable, its default and what it does.
"""

from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings

from engine.settings import EngineSettings
from gateway.settings import GatewaySettings
from processors.settings import ProcessorSettings
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from sinks.settings import SinkSettings

__all__ = ["SETTINGS", "env_names", "render_env_file", "settings_from_env"]

SETTINGS: tuple[type[BaseSettings], ...] = (
    HeadwaterSettings,
    KafkaSettings,
    ClickHouseSettings,
    GatewaySettings,
    ProcessorSettings,
    EngineSettings,
    SinkSettings,
)


def _variables(settings: type[BaseSettings], name: str) -> list[str]:
    """The environment variables a field is read from, the documented one first."""
    aliases = getattr(settings.model_fields[name].validation_alias, "choices", None) or []
    prefix = settings.model_config.get("env_prefix", "")
    return [str(a) for a in aliases] or [f"{prefix}{name}".upper()]


def env_names() -> dict[str, tuple[type[BaseSettings], str]]:
    """Every environment variable Headwater reads: its settings class and field."""
    return {
        variable: (settings, name)
        for settings in SETTINGS
        for name in settings.model_fields
        for variable in _variables(settings, name)
    }


def settings_from_env(env: dict[str, str]) -> dict[type[BaseSettings], BaseSettings]:
    """Each settings class as `env` alone (not this process's environment) configures it, so
    deploy manifests can be checked against the code: an unknown variable raises KeyError, a bad
    value pydantic's ValidationError."""
    known = env_names()
    fields: dict[type[BaseSettings], dict[str, Any]] = {settings: {} for settings in SETTINGS}
    for variable, value in env.items():
        settings, name = known[variable]
        fields[settings][name] = value
    return {settings: _from_values_only(settings)(**values) for settings, values in fields.items()}


def _from_values_only(settings: type[BaseSettings]) -> type[BaseSettings]:
    """`settings`, reading nothing but the values it is given."""

    class FromValuesOnly(settings):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: Any, *others: Any, **named: Any
        ) -> tuple[Any, ...]:
            return (init_settings,)

    return FromValuesOnly


def render_env_file() -> str:
    sections = ["# Headwater settings: every variable, its default, and what it does."]
    for settings in SETTINGS:
        lines = [f"\n# --- {settings.__name__}: {settings.__doc__}"]
        for name, field in settings.model_fields.items():
            env_name, *also = _variables(settings, name)
            lines.append(f"# {field.description}")
            lines.extend(f"# (also read as {alias})" for alias in also)
            lines.append(f"#{env_name}={_env_value(field.default)}")
        sections.append("\n".join(lines))
    return "\n".join(sections) + "\n"


def _env_value(value: object) -> str:
    if value is None:
        return ""
    secret = getattr(value, "get_secret_value", None)
    return str(secret() if secret else value).replace(str(Path.home()), "~")
