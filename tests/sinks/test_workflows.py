"""The sink's replica of `headwater.workflows`: which changes become versions, and when the
partition must be read again from its beginning. No broker: records are built here."""

from collections.abc import Sequence

import pytest
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from schemas import topics
from schemas.workflows import Change, definition_key
from sinks.base import Source
from sinks.workflows import WorkflowReplay, WorkflowVersion
from tests.sinks.workflow_records import AT, delete, put, workflow


def record(offset: int, key: bytes, value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topics.WORKFLOWS, 0, offset, 0, 0, key, value, None, 0, 0, [])


def decide_all(
    replay: WorkflowReplay, changes: Sequence[tuple[bytes, bytes | None]]
) -> list[WorkflowVersion | None]:
    return [replay.decide(Source(n, key, value)) for n, (key, value) in enumerate(changes)]


def test_accepted_changes_become_versions_and_refused_ones_do_not() -> None:
    first = workflow("w1")
    versions = decide_all(
        WorkflowReplay(),
        [
            put("p", first, "r1"),
            put("p", first | {"name": "Renamed"}, "r2", base="r1"),
            put("p", workflow("w2"), "r3"),  # the key "onboarding" is w1's: taken
            put("p", first, "r4"),  # a new w1 where one is live: exists
            put("p", first, "r5", base="r1"),  # computed from a state that is gone: changed
            delete("p", "w1", "r6", base="r2"),
        ],
    )
    accepted = [(v.request_id, v.base, v.deleted, v.fields.name) for v in versions if v]
    assert accepted == [
        ("r1", None, False, "Onboarding"),
        ("r2", "r1", False, "Renamed"),
        ("r6", "r2", True, "Renamed"),  # a deletion keeps the object it removed
    ]
    assert versions[2:5] == [None, None, None]


def test_a_version_names_its_workflow_and_keeps_the_whole_object() -> None:
    obj = workflow("w1", version=3, template_status="published",
                   last_published_at="2024-04-30T10:00:00Z")  # fmt: skip
    [version] = decide_all(WorkflowReplay(), [put("p", obj, "r1")])
    assert version is not None
    assert (version.project_id, version.environment, version.workflow_id) == ("p", "test", "w1")
    assert version.at == AT and version.workflow == obj
    assert version.fields.version == 3
    assert version.fields.last_published_at is not None
    assert version.fields.last_published_at.isoformat() == "2024-04-30T10:00:00+00:00"


def test_other_kinds_tombstones_foreign_keys_and_repairs_make_no_version() -> None:
    user = Change(op="put", request_id="u", at=AT, object={"key": "u1"})
    key, value = put("p", workflow("w1"), "r1")
    versions = decide_all(
        WorkflowReplay(),
        [
            (definition_key("p", "test", "user", "u1"), user.encode()),
            (b"not a key", value),
            (key, value),
            (key, value),  # the gateway re-publishing the decided state after a refusal
            (key, None),  # a tombstone only forgets
        ],
    )
    assert [v.request_id if v else None for v in versions] == [None, None, "r1", None, None]


def test_an_accepted_workflow_without_the_version_fields_cannot_be_stored() -> None:
    key, value = put("p", workflow("w1") | {"version": "many"}, "r1")
    with pytest.raises(ValidationError):
        WorkflowReplay().decide(Source(0, key, value))


def test_a_fresh_replica_reads_from_the_beginning_writing_only_from_where_the_group_was() -> None:
    """The group had committed offset 2: records 0 and 1 rebuild the replica, so w2's taken key
    is refused at offset 2 though the change that took it is not written again."""
    changes = [put("p", workflow("w1"), "r1"), put("p", workflow("wx", key="x"), "rx"),
               put("p", workflow("w2"), "r2"), put("p", workflow("w3", key="y"), "r3")]  # fmt: skip
    records = [record(n, key, value) for n, (key, value) in enumerate(changes)]
    replay = WorkflowReplay()
    assert replay.admit(records[2:]) is None  # seek to the beginning
    admitted = replay.admit(records)
    assert admitted == records[2:]
    decided = [replay.decide(Source(r.offset, r.key, r.value)) for r in admitted]
    assert [v.request_id if v else None for v in decided] == [None, "r3"]
    assert replay.admit([record(4, *put("p", workflow("w4", key="z"), "r4"))]) is not None


def test_records_read_again_after_a_rewind_or_an_assignment_rebuild_the_replica() -> None:
    changes = [put("p", workflow("w1"), "r1"), delete("p", "w1", "r2")]
    records = [record(n, key, value) for n, (key, value) in enumerate(changes)]
    replay = WorkflowReplay()
    assert replay.admit(records) is None and replay.admit(records) == records
    for r in records:
        replay.decide(Source(r.offset, r.key, r.value))
    assert replay.admit(records[1:]) is None  # a rewound write: the delete is read again
    assert replay.admit(records) == records[1:]
    [deleted] = [replay.decide(Source(r.offset, r.key, r.value)) for r in records[1:]]
    assert deleted is not None and deleted.deleted  # decided as the first time, not "gone"
    replay.restart()
    assert replay.admit([record(2, *put("p", workflow("w5"), "r5"))]) is None
