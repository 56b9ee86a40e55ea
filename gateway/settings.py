"""The gateway's settings (`HEADWATER_GATEWAY_*`)."""

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from runtime.settings import settings_config

__all__ = ["GatewaySettings"]

_MIB = 1024 * 1024


class GatewaySettings(BaseSettings):
    """Where the gateway listens, what it accepts, and how long it waits for Kafka."""

    model_config = settings_config("HEADWATER_GATEWAY_")

    host: str = Field("127.0.0.1", description="Listen address; 0.0.0.0 to accept remote clients.")
    port: int = Field(8080, description="Listen port.")
    tls_cert_file: Path | None = Field(
        None,
        description="PEM certificate (chain) to serve HTTPS with, for clients that speak only "
        "https (the Vemetric Node SDK) when no TLS-terminating proxy is in front. Needs "
        "`tls_key_file`. Unset: plain HTTP.",
    )
    tls_key_file: Path | None = Field(
        None, description="PEM private key of `tls_cert_file` (unencrypted)."
    )
    trusted_proxies: str = Field(
        "",
        description="Proxies in front of the gateway whose X-Forwarded-For names the client: "
        "comma-separated IPs or CIDRs, * for any. Empty: the connecting address is the client "
        "(the Vemetric visitor hash uses it, so set this behind a load balancer).",
    )
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
    max_pending_events: int = Field(
        100_000,
        ge=1,
        description="Events waiting for Kafka's ack, per process, before new requests get 503.",
    )
    max_body_bytes: int = Field(
        5 * _MIB, ge=1024, description="Largest request body, after gzip inflation (else 413)."
    )
    max_bulk_events: int = Field(
        10_000, ge=1, description="Most events in one bulk (Usermaven array) request."
    )
    max_json_depth: int = Field(
        16, ge=2, description="Deepest nesting allowed inside event properties (else 400)."
    )
    max_properties: int = Field(
        1000, ge=1, description="Most keys (at any depth) in one event's properties (else 400)."
    )
    rate_limit_per_s: float = Field(
        0,
        ge=0,
        description="Events per second per project across all workers; 0 = no limit. "
        "A project's own `rate_limit_per_s` in the projects file overrides it.",
    )
    rate_limit_burst_s: float = Field(
        2, gt=0, description="How many seconds of the rate a project may send in one burst."
    )
    kafka_check_interval_s: float = Field(
        2, gt=0, description="How often /readyz's view of Kafka reachability is refreshed."
    )
    workflows_write_wait_s: float = Field(
        5,
        gt=0,
        description="Embed Workflow API: how long a write waits for Kafka and this process's "
        "replica to apply it (else 503), and a request for the answer of a concurrent one with "
        "the same Idempotency-Key (else 409).",
    )
    workflows_idempotency_lease_s: float = Field(
        60,
        gt=0,
        description="Embed Workflow API: how long an Idempotency-Key stays claimed by a request "
        "that has not finished (a crashed process's claim is taken over after it).",
    )
    projects_reload_s: float = Field(
        2, gt=0, description="How often the projects file is checked for changed keys."
    )

    @model_validator(mode="after")
    def _tls_needs_both(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("set both tls_cert_file and tls_key_file, or neither")
        return self

    @property
    def local_url(self) -> str:
        """The gateway's address as seen from this machine (for readiness checks and banners)."""
        scheme = "https" if self.tls_cert_file else "http"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"{scheme}://{host}:{self.port}"
