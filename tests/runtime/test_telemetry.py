"""Component counters: one series per (component, topic, partition), rendered in Prometheus
text, and summed over worker processes that share a multiprocess folder."""

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.telemetry import ComponentMetrics
from tests.helpers import environment

SPEC_COUNTERS = ("events_received", "events_sent", "events_dropped", "duplicates", "errors")


def series(name: str, component: str, topic: str = "", partition: str = "") -> bytes:
    labels = f'component="{component}",partition="{partition}",topic="{topic}"'
    return f"headwater_{name}_total{{{labels}}}".encode()


def test_every_counter_of_the_spec_is_exported() -> None:
    rendered = ComponentMetrics("sink").render()
    for name in SPEC_COUNTERS:
        assert f"# TYPE headwater_{name}_total counter".encode() in rendered


def test_inc_bumps_the_series_of_its_topic_and_partition() -> None:
    metrics = ComponentMetrics("processors")
    metrics.inc(metrics.events_received, "headwater.raw", 3)
    metrics.inc(metrics.events_received, "headwater.raw", 3, n=4)
    metrics.inc(metrics.events_received, "headwater.raw", "1")
    metrics.inc(metrics.errors)
    rendered = metrics.render()
    assert series("events_received", "processors", "headwater.raw", "3") + b" 5.0" in rendered
    assert series("events_received", "processors", "headwater.raw", "1") + b" 1.0" in rendered
    assert series("errors", "processors") + b" 1.0" in rendered
    assert b"headwater_events_sent_total{" not in rendered  # no series until counted


def test_each_component_counts_in_a_registry_of_its_own() -> None:
    first, second = ComponentMetrics("gateway"), ComponentMetrics("gateway")
    first.inc(first.events_sent, "headwater.raw", 0, n=2)
    assert series("events_sent", "gateway", "headwater.raw", "0") + b" 2.0" in first.render()
    assert b"headwater_events_sent_total{" not in second.render()


COUNT_IN_A_WORKER = (
    "import sys; from runtime.telemetry import ComponentMetrics; "
    "metrics = ComponentMetrics('gateway'); "
    "metrics.inc(metrics.events_received, 'headwater.raw', 0, n=int(sys.argv[1]))"
)


def test_workers_sharing_a_multiprocess_folder_are_rendered_as_their_sum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The folder must be set before a worker makes its counters, as `headwater gateway` does.
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count in ("2", "3"):
        subprocess.run(
            [sys.executable, "-c", COUNT_IN_A_WORKER, count], env=environment(shared), check=True
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    rendered = ComponentMetrics("gateway").render()
    assert series("events_received", "gateway", "headwater.raw", "0") + b" 5.0" in rendered
