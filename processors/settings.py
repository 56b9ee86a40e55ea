"""The processors' settings (`HEADWATER_PROCESSORS_*`)."""

from pydantic import Field

from runtime.settings import FaustWorkerSettings, settings_config

__all__ = ["ProcessorSettings"]


class ProcessorSettings(FaustWorkerSettings):
    """The faust worker's identity, its state, and where it reports metrics."""

    model_config = settings_config("HEADWATER_PROCESSORS_")

    app_id: str = Field(
        "headwater-processors",
        description="Faust app id: the consumer group and the prefix of its internal topics.",
    )
    dedupe_window_s: int = Field(
        86_400,
        gt=0,
        description="How long an event's identity is remembered (by its received_at); a repeat"
        " inside it is dropped. Idempotency keys starting with `life-` never expire.",
    )
    sweep_every: int = Field(
        64,
        gt=0,
        description="Every this many events of a partition, the worker deletes the expired"
        " identities among the next `sweep_slice` it holds, so the state on disk stays about one"
        " window.",
    )
    sweep_slice: int = Field(256, gt=0, description="Identities examined per sweep step.")
    entry_wait_ms: int = Field(
        2_000,
        ge=0,
        description="An Embeddables event whose entry is missing waits up to this long for the"
        " entries the worker has not read yet before it is dead-lettered as ENTRY_NOT_FOUND.",
    )
    metrics_port: int = Field(
        8082, ge=0, description="Port of the Prometheus /metrics endpoint (0 turns it off)."
    )
