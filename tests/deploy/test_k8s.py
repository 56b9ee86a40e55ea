"""The Kubernetes overlays: they render, validate against Kubernetes' and the operators' schemas,
and agree with the code (commands, settings, ports) and with each other (topics, partitions).

Built-in kinds are checked with kubernetes-validate's bundled schemas (strict: an unknown field is
an error); Strimzi's and Altinity's resources against their CRDs in deploy/k8s/crds, made strict
the same way wherever the CRD does not keep unknown fields on purpose."""

from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from engine.app import changelog_topics as engine_changelogs
from engine.settings import EngineSettings
from gateway.settings import GatewaySettings
from headwater.envfile import settings_from_env
from processors.app import changelog_topics
from processors.settings import ProcessorSettings
from runtime.settings import ClickHouseSettings, KafkaSettings
from schemas import topics
from sinks.settings import SinkSettings
from tests.deploy.conftest import DEPLOY, OVERLAYS, Manifest, cli_commands

KUBERNETES = "1.31"
CRDS = DEPLOY / "k8s" / "crds"
BASE = DEPLOY / "k8s" / "base"


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict schema of each served version of each CRD kept here."""
    schemas = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version["served"]:
                schema = _strict(version["schema"]["openAPIV3Schema"])
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def _strict(schema: Any) -> Any:
    """The schema with unknown properties refused, as the API server's strict field validation
    does, except where the CRD keeps unknown fields."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    [found] = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    return found


def config(manifests: list[Manifest]) -> dict[str, str]:
    [config_map] = of_kind(manifests, "ConfigMap")
    return dict(config_map["data"])


def pod_specs(manifests: list[Manifest]) -> dict[str, dict[str, Any]]:
    return {
        m["metadata"]["name"]: m["spec"]["template"]["spec"]
        for m in manifests
        if m["kind"] in ("Deployment", "StatefulSet", "Job")
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_validates(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    for manifest in rendered[overlay]:
        key = (manifest["apiVersion"], manifest["kind"])
        if key in crd_schemas():
            jsonschema.Draft7Validator(crd_schemas()[key]).validate(manifest)
        else:
            kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


def test_validation_catches_a_misspelt_field() -> None:
    gateway = yaml.safe_load((BASE / "gateway.yaml").read_text().split("---")[0])
    gateway["spec"]["replica"] = gateway["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError, match="'replica' was unexpected"):
        kubernetes_validate.validate(gateway, KUBERNETES, strict=True)
    topic = yaml.safe_load((BASE / "kafka-topics.yaml").read_text().split("---")[1])
    topic["spec"]["partition"] = topic["spec"].pop("partitions")
    with pytest.raises(jsonschema.ValidationError, match="'partition' was unexpected"):
        jsonschema.Draft7Validator(crd_schemas()[("kafka.strimzi.io/v1", "KafkaTopic")]).validate(
            topic
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_is_settings_the_code_reads(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    settings = settings_from_env(config(rendered[overlay]))  # unknown names, bad values: raise
    kafka, clickhouse = settings[KafkaSettings], settings[ClickHouseSettings]
    [strimzi] = of_kind(rendered[overlay], "Kafka")
    [chi] = of_kind(rendered[overlay], "ClickHouseInstallation")
    assert kafka.bootstrap == f"{strimzi['metadata']['name']}-kafka-bootstrap:9092"
    assert clickhouse.server_url == f"http://clickhouse-{chi['metadata']['name']}:8123"
    cluster_names = [c["name"] for c in chi["spec"]["configuration"]["clusters"]]
    layout = chi["spec"]["configuration"]["clusters"][0]["layout"]
    if layout["shardsCount"] * layout["replicasCount"] > 1:
        assert clickhouse.cluster in cluster_names, "a cluster needs Replicated tables"
        keepers = of_kind(rendered[overlay], "ClickHouseKeeperInstallation")
        hosts = [n["host"] for n in chi["spec"]["configuration"]["zookeeper"]["nodes"]]
        assert hosts == [f"keeper-{k['metadata']['name']}" for k in keepers]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_containers_run_cli_commands_on_the_ports_their_settings_give(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    settings = settings_from_env(config(rendered[overlay]))
    ports = {
        "gateway": settings[GatewaySettings].port,
        "sink": settings[SinkSettings].port,
        "process": settings[ProcessorSettings].metrics_port,
        "engine": settings[EngineSettings].metrics_port,
        "migrate": None,
    }
    for name, pod in pod_specs(rendered[overlay]).items():
        [container] = pod["containers"]
        command = container["args"][0]
        assert command in cli_commands(), f"{name} runs `headwater {command}`"
        declared = [p["containerPort"] for p in container.get("ports", [])]
        assert declared == ([ports[command]] if ports[command] else []), name
        for env in container.get("env", []):
            settings_from_env({env["name"]: "x" * 32})  # a name the code reads


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_carry_what_pods_mount(rendered: dict[str, list[Manifest]], overlay: str) -> None:
    wanted = {
        ref["secretKeyRef"]["key"]
        for pod in pod_specs(rendered[overlay]).values()
        for env in pod["containers"][0].get("env", [])
        if (ref := env.get("valueFrom"))
    } | {
        item["key"]
        for pod in pod_specs(rendered[overlay]).values()
        for volume in pod.get("volumes", [])
        for item in volume.get("secret", {}).get("items", [])
    }
    assert wanted == {"clickhouse-password", "projects.json", "engine-signing-key"}
    secrets = of_kind(rendered[overlay], "Secret")
    if overlay == "dev":  # prod's Secret is made by the operator (deploy/README.md, "Secrets")
        assert set(secrets[0]["data"]) == wanted
    else:
        assert secrets == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_topics_are_the_topology_with_the_configured_partitions(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    settings = settings_from_env(config(rendered[overlay]))
    kafka = settings[KafkaSettings]
    changelogs = changelog_topics(settings[ProcessorSettings].app_id) + engine_changelogs(
        settings[EngineSettings].app_id
    )
    declared = {t["spec"]["topicName"]: t["spec"] for t in of_kind(rendered[overlay], "KafkaTopic")}
    assert set(declared) == set(topics.ALL) | set(changelogs)
    for name, spec in declared.items():
        partitions = 1 if name in topics.SINGLE_PARTITION else kafka.partitions
        assert (spec["partitions"], spec["replicas"]) == (partitions, kafka.replication_factor), (
            name
        )
        compacted = name in topics.COMPACTED or name in changelogs
        assert (spec["config"].get("cleanup.policy") == "compact") == compacted, name
    [pool] = of_kind(rendered[overlay], "KafkaNodePool")
    assert kafka.replication_factor <= pool["spec"]["replicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workers_are_no_more_than_partitions(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    kafka = settings_from_env(config(rendered[overlay]))[KafkaSettings]
    for name in ("headwater-processors", "headwater-engine"):
        workers = named(rendered[overlay], "StatefulSet", name)
        assert 1 <= workers["spec"]["replicas"] <= kafka.partitions, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_is_reachable_from_outside(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    policies = of_kind(rendered[overlay], "NetworkPolicy")
    assert any(p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] for p in policies)
    open_to_all = [
        p["spec"]["podSelector"]
        for p in policies
        for rule in p["spec"].get("ingress", [])
        if "from" not in rule
    ]
    assert open_to_all == [{"matchLabels": {"app.kubernetes.io/name": "headwater-gateway"}}]


def test_crds_kept_here_are_the_ones_the_manifests_use() -> None:
    assert {kind for _, kind in crd_schemas()} == {
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "ClickHouseInstallation",
        "ClickHouseKeeperInstallation",
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_engine_pod_signs_with_the_secrets_key(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    """One master key for every replica, from the Secret (a key generated per pod, on its own
    volume, would give receivers a different secret per partition)."""
    [container] = pod_specs(rendered[overlay])["headwater-engine"]["containers"]
    [signing] = [e for e in container["env"] if e["name"] == "HEADWATER_ENGINE_SIGNING_KEY"]
    secret = {"name": "headwater", "key": "engine-signing-key"}
    assert signing["valueFrom"]["secretKeyRef"] == secret
    assert "HEADWATER_ENGINE_SIGNING_KEY" not in config(rendered[overlay])
