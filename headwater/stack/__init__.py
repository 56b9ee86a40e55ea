"""The local infrastructure: which services Headwater must run itself, given the settings.

Kafka runs locally unless `KAFKA_BOOTSTRAP` names a cluster; a ClickHouse server runs locally only
when `HEADWATER_CLICKHOUSE_MODE=server` and no `CLICKHOUSE_URL` is set (the embedded engine needs
no process of its own: the sink opens it).
"""

from dataclasses import dataclass
from typing import Protocol

from headwater.errors import ServiceFailed
from headwater.stack.clickhouse import LocalClickHouse
from headwater.stack.kafka import LocalKafka
from headwater.stack.process import ManagedProcess
from runtime.settings import ClickHouseSettings, HeadwaterSettings, KafkaSettings

__all__ = ["ServiceStatus", "Stack"]


class LocalService(Protocol):
    process: ManagedProcess

    def start(self) -> bool: ...

    def stop(self) -> bool: ...


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    where: str


class Stack:
    """Starts, stops and reports the local services the settings call for."""

    def __init__(
        self, settings: HeadwaterSettings, kafka: KafkaSettings, clickhouse: ClickHouseSettings
    ) -> None:
        self._kafka = kafka
        self._clickhouse = clickhouse
        self._services: dict[str, LocalService] = {}
        if not kafka.external:
            self._services["kafka"] = LocalKafka(settings, kafka)
        if clickhouse.url is None and clickhouse.mode == "server":
            self._services["clickhouse"] = LocalClickHouse(settings, clickhouse)

    def up(self) -> list[str]:
        """Start what is not running yet (in order); return the names this call started."""
        started = []
        try:
            for name, service in self._services.items():
                if service.start():
                    started.append(name)
        except ServiceFailed:
            self.down(started)
            raise
        return started

    def down(self, names: list[str] | None = None) -> list[str]:
        """Stop the named services (all by default), last started first."""
        stopped = []
        for name in reversed(list(self._services)):
            if (names is None or name in names) and self._services[name].stop():
                stopped.append(name)
        return stopped

    def status(self) -> list[ServiceStatus]:
        rows = [
            ServiceStatus(
                name,
                (pid := service.process.pid()) is not None,
                pid,
                self._where(name),
            )
            for name, service in self._services.items()
        ]
        if self._kafka.external:
            rows.append(ServiceStatus("kafka", True, None, f"external {self._where('kafka')}"))
        if self._clickhouse.url is not None:
            rows.append(ServiceStatus("clickhouse", True, None, f"external {self._clickhouse.url}"))
        elif self._clickhouse.embedded:
            rows.append(
                ServiceStatus("clickhouse", True, None, "embedded in the sink (no process)")
            )
        return rows

    def _where(self, name: str) -> str:
        if name == "kafka":
            return self._kafka.bootstrap_servers
        return self._clickhouse.server_url
