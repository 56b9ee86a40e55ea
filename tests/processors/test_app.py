"""The faust app as created, before it starts (no broker is needed to read its topology)."""

from pathlib import Path

from processors.app import changelog_topics, create_app
from processors.settings import ProcessorSettings
from runtime.settings import KafkaSettings
from runtime.telemetry import ComponentMetrics


def test_changelog_topics_are_the_ones_faust_declares_for_the_tables(tmp_path: Path) -> None:
    settings = ProcessorSettings(app_id="an-app")
    faust_app = create_app(settings, KafkaSettings(), tmp_path, ComponentMetrics("processors"))
    declared = [table.changelog_topic.get_topic_name() for table in faust_app.tables.values()]
    assert sorted(changelog_topics("an-app")) == sorted(declared)
