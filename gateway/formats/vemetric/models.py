"""Vemetric's request bodies, as the seed documents them and its own clients send them.

Unknown fields are ignored, known ones strictly typed. `Token`, `Allow-Cookies` and the `V-` keys
are what a tracker's beacon carries in the body instead of headers.
"""

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictStr

__all__ = ["Body", "IdentifyUser", "PageLeave", "ResetUser", "TrackEvent", "UpdateUser", "UserData"]

# `userIdentifier` (the SDKs) names the user as `identifier` (the seed) does; `identifier` wins.
_IDENTIFIER = AliasChoices("identifier", "userIdentifier")


class UserData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    set: dict[str, Any] = Field(default_factory=dict)
    set_once: dict[str, Any] = Field(default_factory=dict, alias="setOnce")
    unset: list[StrictStr] = Field(default_factory=list)


class Body(BaseModel):
    """Fields every Vemetric body may have."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    projectToken: StrictStr | None = Field(None, min_length=1)
    token: StrictStr | None = Field(None, alias="Token", min_length=1)
    allow_cookies: StrictStr | bool | None = Field(None, alias="Allow-Cookies")
    sdk: StrictStr | None = Field(None, alias="V-SDK")
    sdk_version: StrictStr | None = Field(None, alias="V-SDK-Version")
    hub_host: StrictStr | None = Field(None, alias="V-Host")
    displayName: StrictStr | None = None
    identifier: StrictStr | None = Field(None, validation_alias=_IDENTIFIER, min_length=1)
    contextId: StrictStr | None = None


class TrackEvent(Body):
    """The body of `POST /e`."""

    name: StrictStr = Field(min_length=1)
    url: StrictStr | None = None
    customData: dict[str, Any] | None = None
    userData: UserData | None = None


class IdentifyUser(Body):
    """The body of `POST /i`."""

    identifier: StrictStr = Field(min_length=1, validation_alias=_IDENTIFIER)
    avatarUrl: StrictStr | None = None
    data: UserData | None = None


class UpdateUser(Body):
    """The body of `POST /u`. The identifier is optional (the SDKs send it when they know it)."""

    avatarUrl: StrictStr | None = None
    data: UserData | None = None


class PageLeave(Body):
    """The body of `POST /l`, sent by the tracker's beacon when a page is left."""

    url: StrictStr | None = None


class ResetUser(Body):
    """The body of `POST /r` (the tracker sends none: the token comes in its header)."""
