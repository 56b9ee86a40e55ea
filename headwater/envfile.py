"""Every setting of every component as a commented env file: `headwater settings`.

`deploy/headwater.env` is this output, kept in sync by a test, so operators have one place that
lists each variable, its default and what it does.
"""

from pathlib import Path

from pydantic_settings import BaseSettings

from gateway.settings import GatewaySettings
from headwater.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings
from processors.settings import ProcessorSettings
from sinks.settings import SinkSettings

__all__ = ["SETTINGS", "render_env_file"]

SETTINGS: tuple[type[BaseSettings], ...] = (
    HeadwaterSettings,
    KafkaSettings,
    ClickHouseSettings,
    GatewaySettings,
    ProcessorSettings,
    SinkSettings,
)


def render_env_file() -> str:
    sections = ["# Headwater settings: every variable, its default, and what it does."]
    for settings in SETTINGS:
        prefix = settings.model_config.get("env_prefix", "")
        lines = [f"\n# --- {settings.__name__}: {settings.__doc__}"]
        for name, field in settings.model_fields.items():
            aliases = getattr(field.validation_alias, "choices", None) or []
            env_name, *also = [str(a) for a in aliases] or [f"{prefix}{name}".upper()]
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
