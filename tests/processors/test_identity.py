"""Identity: links by event time, and the person each event gets."""

from datetime import timedelta

from processors.identity import IdentityLinks
from tests.factories import NOW, make_event


def test_events_after_a_link_get_the_user_and_events_before_it_keep_the_anonymous_id() -> None:
    links = IdentityLinks({})
    link = links.resolve(make_event(anonymous_id="a1", user_id="u1"))
    after = links.resolve(make_event(anonymous_id="a1", event_time=NOW + timedelta(seconds=1)))
    before = links.resolve(make_event(anonymous_id="a1", event_time=NOW - timedelta(seconds=1)))
    assert (link.person_id, after.person_id, before.person_id) == ("u1", "u1", "a1")


def test_a_second_user_takes_over_from_its_time_and_an_older_link_does_not_override() -> None:
    links = IdentityLinks({})
    links.resolve(make_event(anonymous_id="a1", user_id="u1"))
    links.resolve(make_event(anonymous_id="a1", user_id="u2", event_time=NOW + timedelta(1)))
    links.resolve(make_event(anonymous_id="a1", user_id="u0", event_time=NOW - timedelta(1)))
    late = links.resolve(make_event(anonymous_id="a1", event_time=NOW + timedelta(2)))
    between = links.resolve(make_event(anonymous_id="a1", event_time=NOW + timedelta(hours=1)))
    assert (late.person_id, between.person_id) == ("u2", "a1")  # `between`: left to the query


def test_without_user_or_anonymous_id_the_identifier_names_the_person() -> None:
    resolved = IdentityLinks({}).resolve(make_event(identifier_value="x@y.z"))
    assert resolved.person_id == "x@y.z"


class _CountingTable(dict[bytes, bytes]):
    writes = 0

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_an_identified_user_sending_both_ids_writes_the_link_once_from_its_earliest_time() -> None:
    table = _CountingTable()
    links = IdentityLinks(table)
    for seconds in (10, 20, 0, 30):  # the one at 0 arrives late and moves the link earlier
        links.resolve(
            make_event(anonymous_id="a1", user_id="u1", event_time=NOW + timedelta(seconds=seconds))
        )
    early = links.resolve(make_event(anonymous_id="a1", event_time=NOW + timedelta(seconds=5)))
    assert (table.writes, early.person_id) == (2, "u1")
