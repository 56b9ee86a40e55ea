"""Dedupe: which events share an identity, how long a sighting lasts, and the sweep that deletes
expired ones."""

from datetime import timedelta

from processors.dedupe import SeenSet, Sweeper, event_identity
from tests.factories import NOW, make_event
from tests.processors.state import dict_slice

WINDOW_MS = 60_000


def test_identity_precedence() -> None:
    keyed = make_event(idempotency_key="k1", source_event_id="s1")
    assert event_identity(keyed) == event_identity(keyed.model_copy(update={"url": "other"}))
    assert event_identity(keyed) != event_identity(keyed.model_copy(update={"event_id": "e2"}))

    sourced = make_event(source_format="usermaven", source_event_id="s1")
    assert event_identity(sourced) == event_identity(
        sourced.model_copy(update={"event_id": "e2", "name": "renamed"})
    )


def test_a_fingerprint_only_where_the_format_carries_its_own_timestamp() -> None:
    for fields in ({"source_format": "embeddables"}, {"source_format": "direct"},
                   {"source_format": "usermaven", "is_historical": True}):  # fmt: skip
        event = make_event(**fields)
        retry = event.model_copy(update={"event_id": "e2", "received_at": NOW + timedelta(1)})
        assert event_identity(event) == event_identity(retry), fields
        later = event.model_copy(update={"event_id": "e2", "event_time": NOW + timedelta(1)})
        assert event_identity(event) != event_identity(later), fields
    vemetric = make_event(source_format="vemetric")
    assert event_identity(vemetric) != event_identity(vemetric.model_copy(update={"event_id": "x"}))


def seen_after(*events_at_offsets: tuple[object, int]) -> tuple[SeenSet, dict[bytes, bytes]]:
    table: dict[bytes, bytes] = {}
    seen = SeenSet(table, WINDOW_MS)
    for event, offset in events_at_offsets:
        seen.remember(event_identity(event), event, offset)  # type: ignore[arg-type]
    return seen, table


def test_a_repeat_inside_the_window_is_a_duplicate_but_a_replay_of_the_same_record_is_not() -> None:
    event = make_event(idempotency_key="k1")
    seen, _ = seen_after((event, 10))
    identity = event_identity(event)
    assert seen.is_duplicate(identity, event, 11)
    assert not seen.is_duplicate(identity, event, 10)  # the same record, read again after a crash
    late = event.model_copy(update={"received_at": NOW + timedelta(milliseconds=WINDOW_MS)})
    assert not seen.is_duplicate(identity, late, 11)


def test_life_keys_never_expire_and_the_sweep_deletes_only_expired_sightings() -> None:
    forever, short = make_event(idempotency_key="life-1"), make_event(idempotency_key="k2")
    seen, table = seen_after((forever, 1), (short, 2))
    much_later_ms = int((NOW + timedelta(days=3650)).timestamp() * 1000)
    assert seen.expire(list(table.items()), much_later_ms) == 1
    assert list(table) == [event_identity(forever)]
    far = forever.model_copy(update={"received_at": NOW + timedelta(days=3650)})
    assert seen.is_duplicate(event_identity(forever), far, 99)


def test_a_fingerprint_is_the_same_as_before_unset_existed_while_it_is_empty() -> None:
    # the digest this event had before `user_data.unset` was added: sightings stored then match
    event = make_event(user_data={"set": {"plan": "pro"}})
    assert event_identity(event).hex() == "cf83d60d8932c57cfe5b415675938f2f"
    removal = make_event(user_data={"set": {"plan": "pro"}, "unset": ["name"]})
    assert event_identity(removal) != event_identity(event)


def test_the_sweeper_deletes_expired_sightings_a_slice_at_a_time_by_the_partitions_clock() -> None:
    events = [make_event(idempotency_key=f"k{i}") for i in range(3)]
    seen, table = seen_after(*((event, offset) for offset, event in enumerate(events)))
    sweeper = Sweeper(seen, dict_slice(table), every=2, slice_size=2)
    sweeper.step(0)
    sweeper.step(0)  # a sweep is due, but nothing was handed on yet: no clock, no sweep
    assert len(table) == 3
    sweeper.advance(0, events[0].model_copy(update={"received_at": NOW + timedelta(hours=1)}))
    sweeper.advance(0, events[0])  # an older event does not turn the clock back
    sweeper.step(0)
    sweeper.step(0)
    assert len(table) == 1  # the first slice of two
    sweeper.step(0)
    sweeper.step(0)
    assert table == {}  # the rest, then it starts over


def test_a_sweep_keeps_a_sighting_renewed_after_its_slice_was_read() -> None:
    # the worker's slices come from RocksDB while the batch's writes are still waiting
    old = make_event(idempotency_key="k")
    renewed = old.model_copy(update={"received_at": NOW + timedelta(hours=1)})
    seen, table = seen_after((old, 1))
    stale = list(table.items())
    seen.remember(event_identity(renewed), renewed, 2)
    assert seen.expire(stale, int((NOW + timedelta(minutes=30)).timestamp() * 1000)) == 0
    assert len(table) == 1
    assert seen.expire(table.items(), int((NOW + timedelta(hours=2)).timestamp() * 1000)) == 1
