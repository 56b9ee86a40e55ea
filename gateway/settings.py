"""The gateway's settings (`HEADWATER_GATEWAY_*`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["GatewaySettings"]


class GatewaySettings(BaseSettings):
    """Where the gateway listens and how long it waits for Kafka before answering 503."""

    model_config = SettingsConfigDict(env_prefix="HEADWATER_GATEWAY_", frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Listen address; 0.0.0.0 to accept remote clients.")
    port: int = Field(8080, description="Listen port.")
    workers: int = Field(
        1, ge=1, description="Gateway worker processes (one per core is a good start)."
    )
    produce_timeout_ms: int = Field(
        5000, ge=100, description="How long a request waits for Kafka's ack before answering 503."
    )
    retry_after_s: int = Field(
        5, ge=1, description="The Retry-After (seconds) sent with a 503 when Kafka is unavailable."
    )
    linger_ms: int = Field(
        2, ge=0, description="Producer linger: a short wait that lets concurrent requests batch."
    )
