"""The parameters each Embed Workflow API request takes, with their types.

JSON bodies are validated strictly (a string where the seed says boolean is an error); form
bodies and query strings, whose values are all text, are validated in pydantic's lax mode, so
`auto_start=false` and `delay_n=2` mean what they say. Unknown parameters are errors naming the
parameter: a typo should not be a silent no-op. `expand` is accepted everywhere.

Where the vendor's own client library differs from the seed, both are accepted: `workflow_hashids`
for `workflow_ids`, and an explicit `null` in a user upsert unsets the attribute.
"""

from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

__all__ = [
    "EXPANDABLE",
    "ExecuteParams",
    "FetchParams",
    "ListParams",
    "StopParams",
    "TriggerParams",
    "UserParams",
    "WorkflowParams",
    "split_list",
]

Key = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^\S+$")]
# Workflow attributes `expand[]` may name: they become the event trigger object.
EXPANDABLE = ("event_trigger", "event_trigger_draft")


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    expand: list[str] = Field(default_factory=list, description="Attributes to expand.")

    @field_validator("expand", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("expand")
    @classmethod
    def _expandable(cls, names: list[str]) -> list[str]:
        unknown = sorted(set(names) - set(EXPANDABLE))
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: only {', '.join(EXPANDABLE)} expand")
        return names


class _Scoped(_Params):
    user_key: Key = Field("main", description="The user the request is scoped to.")


class FetchParams(_Scoped):
    id_type: Literal["id", "key"] = "id"


class ListParams(_Scoped):
    starting_after: str | None = Field(None, description="Cursor: the page after this id.")
    ending_before: str | None = Field(None, description="Cursor: the page before this id.")


class WorkflowParams(FetchParams):
    """Create and update. `name` is required on create (checked there); on update every
    attribute is optional and only those given change (the draft, unless published)."""

    name: str | None = Field(None, min_length=1, max_length=255)
    key: Key | None = None
    template: dict[str, Any] | None = None
    auto_start: bool | None = None
    template_status: Literal["draft", "published"] | None = None
    event_trigger: str | None = Field(None, max_length=255)
    stop_event: str | None = Field(None, max_length=255)
    trigger_conditions: dict[str, Any] | None = None


class ExecuteParams(FetchParams):
    execution_data: dict[str, Any] = Field(default_factory=dict)


class TriggerParams(_Scoped):
    event: str | None = Field(None, min_length=1, max_length=255)
    all_workflows: bool = False
    workflow_ids: str | list[str] | None = Field(
        None, validation_alias=AliasChoices("workflow_ids", "workflow_hashids")
    )
    workflow_keys: str | list[str] | None = None
    execution_data: dict[str, Any] = Field(default_factory=dict)


class StopParams(_Scoped):
    stop_event: str = Field(min_length=1, max_length=255)
    filters: dict[str, Any] = Field(default_factory=dict)


class UserConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    primary_color: str | None = Field(None, max_length=64)
    logo_url: str | None = Field(None, max_length=2048)
    user_data: dict[str, Any] | None = None


class UserParams(_Params):
    """Only the attributes given change; an explicit null unsets one."""

    name: str | None = Field(None, max_length=255)
    email: str | None = Field(None, max_length=320)
    groups: list[str] | None = None
    config: UserConfig | None = None
    user_data_schema: list[dict[str, Any]] | None = None


def split_list(value: str | list[str] | None) -> list[str]:
    """The seed's comma-separated ids or keys (a JSON array of them is accepted too)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [item.strip() for item in items if item.strip()]
