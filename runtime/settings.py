"""Settings shared by every component: where data lives, and how to reach Kafka and ClickHouse.

Each is read from `HEADWATER_*` environment variables once, at the entry point, and passed down.
`KAFKA_BOOTSTRAP` and `CLICKHOUSE_URL` (without the prefix) are honoured too: when either is set,
that external service is used and the local stack starts nothing in its place.
"""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "ClickHouseSettings",
    "FaustWorkerSettings",
    "HeadwaterSettings",
    "KafkaSettings",
    "settings_config",
]


def settings_config(prefix: str) -> SettingsConfigDict:
    """The configuration every Headwater settings class shares: read from `prefix`-ed variables,
    frozen once loaded, unknown names refused."""
    return SettingsConfigDict(env_prefix=prefix, frozen=True, extra="forbid", populate_by_name=True)


class HeadwaterSettings(BaseSettings):
    """Where Headwater keeps its state and how loudly it logs."""

    model_config = settings_config("HEADWATER_")

    data_dir: Path = Field(
        Path(".headwater"),
        description="One folder for all local state: broker logs, ClickHouse data, projects. "
        "Example: /var/lib/headwater",
    )
    cache_dir: Path = Field(
        Path("~/.cache/headwater"),
        description="Downloads that can be shared between data folders (the Kafka jars).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", description="Log level of every component; logs are JSON lines on stderr."
    )
    projects: str | None = Field(
        None,
        description="Projects and their hashed keys as JSON (the shape of projects.json); "
        "when set, the projects file is not read. `headwater keys` writes that file.",
    )
    projects_file: Path | None = Field(
        None,
        description="The projects file, reloaded when it changes; unset: projects.json in the "
        "data folder. In Kubernetes, a file of a mounted Secret (keys rotate without restarts).",
    )

    @property
    def projects_path(self) -> Path:
        return self.projects_file or self.data_dir / "projects.json"

    @property
    def sink_holder_file(self) -> Path:
        """Where a sink holding the embedded ClickHouse store says how to reach it."""
        return self.data_dir / "sink.json"

    @property
    def credentials_file(self) -> Path:
        """The development project's credentials, as shell variables (mode 0600)."""
        return self.data_dir / "credentials.env"


class KafkaSettings(BaseSettings):
    """How to reach Kafka, the local broker's ports, and how soon a group sees a consumer die."""

    model_config = settings_config("HEADWATER_KAFKA_")

    bootstrap: str | None = Field(
        None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP", "HEADWATER_KAFKA_BOOTSTRAP"),
        description="Bootstrap servers of an external cluster, e.g. kafka-1:9092,kafka-2:9092. "
        "Unset: Headwater runs a local single-node broker.",
    )
    port: int = Field(19092, description="Client port of the local broker.")
    controller_port: int = Field(19093, description="KRaft controller port of the local broker.")
    partitions: int = Field(4, ge=1, description="Partitions of each topic Headwater creates.")
    replication_factor: int = Field(
        1, ge=1, description="Replication factor of each topic Headwater creates."
    )
    heap: str = Field("512m", description="JVM heap of the local broker (-Xmx).")
    session_timeout_ms: int = Field(
        6_000,
        ge=1,
        description="How long the broker waits for a heartbeat before it declares a consumer "
        "(processors, engine, sink) dead and hands its partitions to the others, or to its "
        "restarted self: most of the pause after a crash (docs/pipeline.md, Recovery). 6 s is "
        "the lowest a broker accepts unless its group.min.session.timeout.ms is lowered.",
    )
    heartbeat_interval_ms: int = Field(
        1_000,
        ge=1,
        description="How often a consumer heartbeats, and so how soon the live ones hear that a "
        "rebalance has begun; below session_timeout_ms (a third of it or less).",
    )
    rebalance_timeout_ms: int = Field(
        30_000,
        ge=1,
        le=40_000,
        description="How long a rebalance waits for the live consumers to rejoin: the time each "
        "has to write and commit what it holds first (a crashed one is not waited for past "
        "session_timeout_ms). At most aiokafka's 40 s request timeout, which a JoinGroup waits "
        "under.",
    )

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> "KafkaSettings":
        """A heartbeat as slow as the session would let a live consumer be declared dead
        between two heartbeats."""
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be below session_timeout_ms")
        return self

    @property
    def external(self) -> bool:
        return self.bootstrap is not None

    @property
    def bootstrap_servers(self) -> str:
        return self.bootstrap or f"127.0.0.1:{self.port}"


class ClickHouseSettings(BaseSettings):
    """How to reach ClickHouse: a server over HTTP, or the engine embedded in the sink."""

    model_config = settings_config("HEADWATER_CLICKHOUSE_")

    url: str | None = Field(
        None,
        validation_alias=AliasChoices("CLICKHOUSE_URL", "HEADWATER_CLICKHOUSE_URL"),
        description="HTTP(S) URL of a ClickHouse server, e.g. https://ch.example.com:8443. "
        "Unset: the local ClickHouse chosen by `mode`.",
    )
    mode: Literal["embedded", "server"] = Field(
        "embedded",
        description="Local ClickHouse when no url is set: `embedded` runs the engine inside the "
        "sink (no server); `server` runs a local ClickHouse HTTP server from the same engine.",
    )
    http_port: int = Field(18123, description="HTTP port of the local ClickHouse server.")
    tcp_port: int = Field(
        18124, description="Native TCP port of the local ClickHouse server (required, unused)."
    )
    database: str = Field("default", description="Database that holds Headwater's tables.")
    cluster: str | None = Field(
        None,
        description="A sharded, replicated ClickHouse: the cluster's name in the servers' "
        "remote_servers. Migrations then create every table ON CLUSTER as Replicated*MergeTree, "
        "with a Distributed `<table>_all` to query it whole, and the sink writes each Kafka "
        "partition to one shard. Unset: one server, plain tables.",
    )
    username: str = Field("default", description="User for a ClickHouse server.")
    password: SecretStr = Field(SecretStr(""), description="Password for a ClickHouse server.")

    @property
    def embedded(self) -> bool:
        return self.url is None and self.mode == "embedded"

    @property
    def server_url(self) -> str:
        """The HTTP URL to use when ClickHouse is a server (external or local)."""
        return self.url or f"http://127.0.0.1:{self.http_port}"


class FaustWorkerSettings(BaseSettings):
    """What the faust workers (processors, engine) set alike: RocksDB's memory per table
    partition, and where their Prometheus /metrics listens. Each subclass has its own prefix
    and metrics port."""

    rocksdb_write_buffer_mb: int = Field(
        8,
        gt=0,
        description="RocksDB memtable size per table partition (two at most, then flushed to"
        " disk); faust's default is 64 MB, three at most.",
    )
    rocksdb_block_cache_mb: int = Field(
        16,
        gt=0,
        description="RocksDB block cache per table partition (faust's default: 2 GiB). What is"
        " not cached is read from disk, through the OS page cache.",
    )
    metrics_host: str = Field("127.0.0.1", description="Listen address of /metrics.")
