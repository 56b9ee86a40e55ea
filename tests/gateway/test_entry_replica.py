"""The entry replica's set of keys, as the request path reads it (following the topic needs the
broker: test_entry_replica_live.py)."""

from gateway.entry_replica import EntryReplica
from runtime.settings import KafkaSettings
from schemas.entry import entry_key


def test_entries_written_and_deleted_are_applied_by_their_key() -> None:
    replica = EntryReplica(KafkaSettings())
    kept, gone = entry_key("p1", "flow", "email", "a@b.c"), entry_key("p1", "flow", "email", "x")
    replica.apply(kept, present=True)
    replica.apply(gone, present=True)
    replica.apply(gone, present=False)
    assert (replica.contains(kept), replica.contains(gone), len(replica)) == (True, False, 1)
    assert not replica.ready  # until it has read the topic up to the end it saw at start
