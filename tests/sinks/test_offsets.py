"""The sink's commit metadata: marks and pending ranges survive a round trip."""

from sinks.offsets import CommitMetadata, GroupMember, source_of


def test_commit_metadata_round_trips() -> None:
    for metadata in (
        CommitMetadata(),
        CommitMetadata({0: 41, 3: 7}),
        CommitMetadata({2: 5}, (100, 180)),
        CommitMetadata({}, (0, 0)),
        CommitMetadata(
            {2: 5},
            (100, 180),
            (GroupMember(1, 40, 90, {}), GroupMember(2, 100, 180, {2: 5, 7: 3})),
        ),
    ):
        assert CommitMetadata.parse(metadata.encode()) == metadata


def test_other_metadata_means_no_marks() -> None:
    for text in (
        None,
        "",
        "written by another tool",
        "headwater-source x:y",
        "headwater-pending 1 2 - 0=1-2",
    ):
        assert CommitMetadata.parse(text) == CommitMetadata()


def test_source_of_reads_the_header() -> None:
    assert source_of([("other", b"1"), ("headwater-source", b"3:1200")]) == (3, 1200)
    assert source_of(()) == (-1, -1)
