"""Usermaven events, as the server-to-server API and the browser tracker send them, and their
translation into `Event`s (see the package's docstring for the decisions)."""

import dataclasses
import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from gateway.errors import InvalidPayload
from gateway.event_record import EventRecord, event_record, user_data
from gateway.formats import RequestParts
from gateway.projects import Project
from gateway.validation import Id, Limits, check_properties, problems_of

__all__ = ["Batch", "BrowserEvent", "Company", "User", "UsermavenEvent", "translate"]

IDENTIFY = "user_identify"
# Page and device context the seed shows at the top level of an event.
CONTEXT_FIELDS = (
    "page_title", "doc_path", "doc_host", "doc_search", "referer", "vp_size",
    "screen_resolution", "user_agent", "user_language", "doc_encoding", "src",
)  # fmt: skip
_EPOCH, _MAX_FUTURE = datetime(1970, 1, 1, tzinfo=UTC), timedelta(days=1)


class _Traits(BaseModel):
    """Person or company attributes: known ones typed, any others kept as custom ones."""

    model_config = ConfigDict(extra="allow")
    NOT_TRAITS: ClassVar[set[str]] = {"custom"}

    id: Id | None = None
    created_at: StrictStr | None = None
    custom: dict[str, Any] | None = None

    def traits(self) -> dict[str, Any]:
        known = self.model_dump(exclude=self.NOT_TRAITS, exclude_none=True)
        return {**known, **(self.custom or {})}


class Company(_Traits):
    name: StrictStr | None = None


class User(_Traits):
    NOT_TRAITS: ClassVar[set[str]] = {"custom", "id", "anonymous_id", "company"}

    anonymous_id: Id | None = None
    email: StrictStr | None = None
    first_name: StrictStr | None = None
    last_name: StrictStr | None = None
    company: Company | None = None  # the tracker keeps the company given to `id()` here


class UsermavenEvent(BaseModel):
    """One server-to-server event. Unknown fields are ignored; known ones strictly typed."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    # Fields held to the depth and key limits (as are the browser's extra ones: `_check_limits`).
    LIMITED: ClassVar[tuple[str, ...]] = ("event_attributes", "ids", "user", "company")

    api_key: StrictStr | None = None
    event_id: Id | None = None
    event_type: StrictStr = Field(min_length=1)
    timestamp_ms: StrictInt | None = Field(None, alias="_timestamp", gt=0)
    ids: dict[str, Id | None] | None = None
    user: User | None = None
    company: Company | None = None
    event_attributes: dict[str, Any] | None = None
    url: StrictStr | None = None
    page_title: StrictStr | None = None
    doc_path: StrictStr | None = None
    doc_host: StrictStr | None = None
    doc_search: StrictStr | None = None
    referer: StrictStr | None = None
    vp_size: StrictStr | None = None
    screen_resolution: StrictStr | None = None
    user_agent: StrictStr | None = None
    user_language: StrictStr | None = None
    doc_encoding: StrictStr | None = None
    src: StrictStr | None = None

    def client_time(self) -> tuple[str, datetime] | None:
        """The event's time as the client sent it, and the field it came in; None if not sent."""
        if self.timestamp_ms is None:
            return None
        try:
            return "_timestamp", datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)
        except (OverflowError, ValueError, OSError) as exc:
            raise InvalidPayload.at("_timestamp", "not a UTC time in milliseconds") from exc

    def event_context(self) -> dict[str, str]:
        context = {name: getattr(self, name) for name in CONTEXT_FIELDS}
        ids = {f"ids.{k}": v for k, v in (self.ids or {}).items() if v is not None}
        return {k: v for k, v in context.items() if v is not None} | ids

    def event_properties(self) -> dict[str, Any]:
        return self.event_attributes or {}


class BrowserEvent(UsermavenEvent):
    """One browser tracker event: the server-to-server fields and its own. Unknown top-level
    fields are the properties set with `usermaven.set()`, kept as the event's properties."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    LIMITED: ClassVar[tuple[str, ...]] = (*UsermavenEvent.LIMITED, "autocapture_attributes", "utm")

    utc_time: AwareDatetime | None = None
    local_tz_offset: StrictInt | StrictFloat | None = None
    namespace: StrictStr | None = None
    utm: dict[str, StrictStr] | None = None
    autocapture_attributes: dict[str, Any] | None = None

    def client_time(self) -> tuple[str, datetime] | None:
        sent = super().client_time()
        if sent is not None or self.utc_time is None:
            return sent
        try:
            return "utc_time", self.utc_time.astimezone(UTC)
        except OverflowError as exc:  # e.g. year 1 at +05:00
            raise InvalidPayload.at("utc_time", "not a time in UTC's range") from exc

    def event_context(self) -> dict[str, str]:
        context = super().event_context() | {f"utm.{k}": v for k, v in (self.utm or {}).items()}
        if self.namespace is not None:
            context["namespace"] = self.namespace
        if self.local_tz_offset is not None:
            context["local_tz_offset"] = str(self.local_tz_offset)
        return context

    def event_properties(self) -> dict[str, Any]:
        attributes = self.autocapture_attributes or {}
        return {**(self.model_extra or {}), **attributes, **super().event_properties()}


_NO_USER = User()


@dataclasses.dataclass(frozen=True, slots=True)
class Batch:
    """What the elements of one request share: with an element, all that `translate` needs."""

    project_id: str
    api_key: str
    received_at: datetime
    limits: Limits
    event_id: Callable[[int, str | None], str]  # (index, the source's own id) -> event id
    idempotency_key: str | None = None
    browser: bool = False
    cookieless_id: str | None = None  # the anonymous id of a visitor sent without one

    @classmethod
    def of(cls, parts: RequestParts, project: Project, api_key: str, browser: bool) -> "Batch":
        return cls(
            project.id, api_key, parts.received_at, parts.limits,
            functools.partial(parts.event_id, project.id), parts.idempotency_key, browser,
            parts.cookieless_id(project.id) if browser else None,
        )  # fmt: skip


def translate(element: Any, index: int, batch: Batch) -> EventRecord:
    """One element as an event, or InvalidPayload naming what is wrong (LimitExceeded when only
    a limit is). Pure, so a replayed dead letter becomes what the endpoint would make of it now."""
    if not isinstance(element, dict):
        raise InvalidPayload.at("body", "each event must be a JSON object")
    model = BrowserEvent if batch.browser else UsermavenEvent
    try:
        return _event(model.model_validate(element), element, index, batch)
    except ValidationError as exc:
        raise InvalidPayload(problems_of(exc)) from exc


def _event(
    payload: UsermavenEvent, element: dict[str, Any], index: int, batch: Batch
) -> EventRecord:
    if payload.api_key is not None and payload.api_key != batch.api_key:
        raise InvalidPayload.at("api_key", "does not match the token's API key")
    user_id, anonymous_id, person = _user(payload, batch)
    _check_limits(payload, element, batch.limits)
    return event_record(
        event_id=batch.event_id(index, payload.event_id or None),
        project_id=batch.project_id,
        source_format="usermaven",
        name=payload.event_type,
        event_time=_event_time(payload.client_time(), batch.received_at),
        received_at=batch.received_at,
        is_historical=payload.timestamp_ms is not None,
        idempotency_key=batch.idempotency_key,
        source_event_id=payload.event_id or None,
        user_id=user_id,
        anonymous_id=anonymous_id,
        url=payload.url,
        context=payload.event_context(),
        properties=payload.event_properties(),
        user_data=user_data(person),
    )


def _user(payload: UsermavenEvent, batch: Batch) -> tuple[str | None, str | None, dict[str, Any]]:
    """The user id and anonymous id (both on `user_identify`, which links the two), and the
    person's properties, with their company unless none is known (the tracker's `{}`)."""
    user = payload.user or _NO_USER
    user_id = user.id or None
    anonymous_id = user.anonymous_id or (None if user_id else batch.cookieless_id)
    if not (user_id or anonymous_id):
        raise InvalidPayload.at("user", "needs an id or an anonymous_id")
    if payload.event_type == IDENTIFY and not user_id:
        raise InvalidPayload.at("user.id", f"required for {IDENTIFY}")
    traits = user.traits()
    for company in (payload.company, user.company):
        if company is not None and (company_traits := company.traits()):
            traits["company"] = company_traits
            break
    return user_id, anonymous_id, traits


def _check_limits(payload: UsermavenEvent, element: dict[str, Any], limits: Limits) -> None:
    trees = {name: element.get(name) for name in payload.LIMITED}
    if payload.model_extra:  # the browser's top-level properties
        trees["top-level properties"] = payload.model_extra
    check_properties(trees, limits)


def _event_time(sent: tuple[str, datetime] | None, received_at: datetime) -> datetime:
    if sent is None:
        return received_at
    field, event_time = sent
    if not _EPOCH < event_time <= received_at + _MAX_FUTURE:
        raise InvalidPayload.at(field, "not between 1970 and a day from now (a clock? not ms?)")
    return event_time
