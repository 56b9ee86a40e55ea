"""The processors' settings (`HEADWATER_PROCESSORS_*`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ProcessorSettings"]


class ProcessorSettings(BaseSettings):
    """The faust worker's identity and where it reports metrics."""

    model_config = SettingsConfigDict(
        env_prefix="HEADWATER_PROCESSORS_", frozen=True, extra="forbid"
    )

    app_id: str = Field(
        "headwater-processors",
        description="Faust app id: the consumer group and the prefix of its internal topics.",
    )
    metrics_port: int = Field(
        8082, ge=0, description="Port of the Prometheus /metrics endpoint (0 turns it off)."
    )
    metrics_host: str = Field("127.0.0.1", description="Listen address of /metrics.")
