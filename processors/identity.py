"""Identity resolution: which person an event belongs to.

- An event with a user id belongs to that user. If it also carries an anonymous id (Usermaven
  `user_identify`, Vemetric `/i`, or any producer's record with both), it links that anonymous id
  to the user as of the event's time.
- An event with only an anonymous id belongs to the user its anonymous id was linked to at or
  before the event's time, if this worker knows that link; otherwise it stays with the anonymous
  id, and ClickHouse attributes it at query time (`events_resolved`, an as-of join on the links).
- An Embeddables event belongs to its entry (`entry_id`), resolved before this step.

One anonymous id identified as two users (a shared device, a logout and another login): each link
holds from its own time on. Events in between belong to the first user, events after the second
link to the second, and events before any link to the first user that anonymous id became. Here
only the latest link is kept, so an event older than it is left for the query-time answer.

The links live in a table (RocksDB with a changelog) keyed by project and anonymous id. Records
are keyed by the anonymous id first (`Event.kafka_key`), so an identify call and the visitor's
other events are on one partition, in order, and the link is local to the worker that needs it.
"""

import orjson

from processors.records import KeyValues
from schemas.event import Event

__all__ = ["IdentityLinks", "link_key"]


def link_key(project_id: str, anonymous_id: str) -> bytes:
    return orjson.dumps([project_id, anonymous_id])


class IdentityLinks:
    """The latest anonymous id -> user link of each visitor, by event time."""

    def __init__(self, table: KeyValues) -> None:
        self._table = table

    def resolve(self, event: Event) -> Event:
        """Record the link the event carries, and return it with its `person_id` set."""
        return event.model_copy(update={"person_id": self._person(event)})

    def _person(self, event: Event) -> str:
        if event.person_id:  # an Embeddables entry, or set by a producer that knows better
            return event.person_id
        if event.user_id:
            if event.anonymous_id:
                self._link(event, event.anonymous_id, event.user_id)
            return event.user_id
        if event.anonymous_id:
            return self._linked_user(event, event.anonymous_id) or event.anonymous_id
        return event.identifier_value or ""

    def _link(self, event: Event, anonymous_id: str, user_id: str) -> None:
        key = link_key(event.project_id, anonymous_id)
        linked_at = _epoch_ms(event)
        stored = self._table.get(key)
        if stored is not None:
            linked_user, stored_at = orjson.loads(stored)
            if linked_user == user_id and stored_at <= linked_at:
                return  # linked already: identified users send both ids on every event
            if linked_user != user_id and stored_at > linked_at:
                return  # an out-of-order identify: the later link stays the current one
        self._table[key] = orjson.dumps([user_id, linked_at])

    def _linked_user(self, event: Event, anonymous_id: str) -> str | None:
        stored = self._table.get(link_key(event.project_id, anonymous_id))
        if stored is None:
            return None
        user_id, linked_at = orjson.loads(stored)
        return str(user_id) if _epoch_ms(event) >= linked_at else None


def _epoch_ms(event: Event) -> int:
    return int(event.event_time.timestamp() * 1000)
