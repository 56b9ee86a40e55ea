"""A real single-node Apache Kafka broker (KRaft, combined broker + controller) for local use.

Its jars come from Maven Central (`kafka-pom.xml`, resolved once into the cache folder) and run on
the machine's Java 17+. Storage is formatted on first start; data stays under the data folder.
"""

import shutil
import socket
import subprocess
from importlib.resources import files
from pathlib import Path

from headwater.stack.process import ManagedProcess
from runtime.errors import HeadwaterError, MissingPrerequisite
from runtime.settings import HeadwaterSettings, KafkaSettings

__all__ = ["KAFKA_VERSION", "LocalKafka", "port_open"]

KAFKA_VERSION = "4.1.1"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class LocalKafka:
    """The local broker: install (jars), format (storage), start, stop."""

    def __init__(self, settings: HeadwaterSettings, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self.home = settings.data_dir.resolve() / "kafka"
        self.libs = settings.cache_dir.expanduser().resolve() / f"kafka-{KAFKA_VERSION}" / "libs"
        self.process = ManagedProcess(
            name="kafka",
            argv=[
                _require("java"),
                f"-Xmx{kafka.heap}",
                "-Xms128m",
                "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.yaml'}",
                "-cp",
                f"{self.libs}/*",
                "kafka.Kafka",
                str(self.home / "server.properties"),
            ],
            workdir=self.home,
            is_ready=self._ready,
            startup_timeout=90.0,
        )

    def start(self) -> bool:
        """Install, format and start the broker unless it runs already; True if started now."""
        if self.process.pid() is None:
            self.install()
            self._configure()
            self._format_storage()
        return self.process.start()

    def stop(self) -> bool:
        return self.process.stop()

    def install(self) -> None:
        """Resolve the broker's jars into the cache folder (once; Maven keeps its own cache)."""
        if any(self.libs.glob("kafka_2.13-*.jar")):
            return
        pom = files("headwater.stack").joinpath("kafka-pom.xml")
        self.libs.parent.mkdir(parents=True, exist_ok=True)
        staging = self.libs.with_name("libs.partial")
        shutil.rmtree(staging, ignore_errors=True)
        _run(
            [
                _require("mvn"),
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
            ],
            what="resolving the Kafka jars from Maven Central",
        )
        staging.rename(self.libs)

    def _configure(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        log_config = files("headwater.stack").joinpath("kafka-log4j2.yaml").read_text()
        (self.home / "log4j2.yaml").write_text(log_config)
        (self.home / "server.properties").write_text(self._server_properties())

    def _server_properties(self) -> str:
        port, cport = self._kafka.port, self._kafka.controller_port
        listeners = f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}"
        properties = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{cport}",
            "listeners": listeners,
            "advertised.listeners": listeners,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.home / "data"),
            "num.partitions": str(self._kafka.partitions),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        return "".join(f"{key}={value}\n" for key, value in properties.items())

    def _format_storage(self) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        java = [_require("java"), "-cp", f"{self.libs}/*", "kafka.tools.StorageTool"]
        cluster_id = _run([*java, "random-uuid"], what="creating a cluster id").split()[-1]
        config = str(self.home / "server.properties")
        _run(
            [*java, "format", "--standalone", "-g", "-t", cluster_id, "-c", config],
            what="formatting the broker's storage",
        )

    def _ready(self) -> bool:
        return port_open(self._kafka.port) and "Kafka Server started" in _read(
            self.process.log_file
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise MissingPrerequisite(
            f"`{tool}` was not found: the local Kafka broker needs Java 17+ and Maven "
            "(or point KAFKA_BOOTSTRAP at a running cluster)."
        )
    return path


def _run(argv: list[str], what: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise HeadwaterError(f"failed {what} (exit {result.returncode}):\n{tail}")
    return result.stdout
