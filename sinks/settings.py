"""The sink's settings (`HEADWATER_SINK_*`)."""

from pydantic import Field
from pydantic_settings import BaseSettings

from runtime.settings import settings_config

__all__ = ["SinkSettings"]


class SinkSettings(BaseSettings):
    """Batch size and age (whichever comes first flushes), and the sink's own HTTP port."""

    model_config = settings_config("HEADWATER_SINK_")

    group_id: str = Field("headwater-sink", description="Kafka consumer group of the sink.")
    batch_max_rows: int = Field(50_000, ge=1, description="Flush when a batch has this many rows.")
    batch_max_age_ms: int = Field(
        300,
        ge=10,
        description="Flush when a batch's oldest row has been this long in Kafka (counted from "
        "the last flush's start at the earliest).",
    )
    writers: int = Field(
        4,
        ge=1,
        description="ClickHouse connections a flush writes its partitions' batches over at once "
        "(the embedded engine takes one at a time).",
    )
    retry_backoff_ms: int = Field(
        1000, ge=10, description="Wait before retrying a failed write (doubles, up to 30 s)."
    )
    fault_pause_before_commit_ms: int = Field(
        0,
        ge=0,
        description="Fault-injection tests only: wait this long between a written batch and its "
        "offset commit, so a test can kill the sink in that window.",
    )
    host: str = Field("127.0.0.1", description="Listen address of /healthz, /readyz, /metrics.")
    port: int = Field(8081, description="Port of the sink's HTTP endpoints.")
