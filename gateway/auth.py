"""Which project a request belongs to: its credential, resolved against the projects.

A format only says where its vendor puts the credential and how that vendor refuses a bad one (a
`Credential` with its `Refusal`); resolving it is the same for every format, here. The vendors
disagree on the refusal, so it is data: Vemetric answers 400 `Invalid!` naming `projectToken`,
Usermaven 401 naming `token`, Embeddables 401 naming `X-Api-Key`, and 403 when the key is good but
belongs to another project than the one in the path.
"""

from dataclasses import dataclass
from typing import Literal

from gateway.errors import Forbidden, GatewayError
from gateway.projects import Project, ProjectRegistry

__all__ = ["Credential", "CredentialKind", "Refusal", "authenticate"]

CredentialKind = Literal[
    "vemetric_token",  # Vemetric's public project token
    "usermaven_token",  # Usermaven's API key with its server token (server-to-server)
    "usermaven_api_key",  # Usermaven's public API key alone (the browser tracker)
    "embeddables_key",  # an Embeddables `rk_` key
]


@dataclass(frozen=True, slots=True)
class Refusal:
    """How a vendor refuses a credential: the error (so its status), the field it names, and why
    for a missing and for an unknown one."""

    error: type[GatewayError]
    field: str
    missing: str
    unknown: str


@dataclass(slots=True)  # made per request: not frozen, see gateway/formats/__init__.py
class Credential:
    """What a request authenticates with, as its format found it."""

    kind: CredentialKind
    key: str  # empty when the request sent none
    refusal: Refusal
    secret: str | None = None  # the server token a `usermaven_token` needs (empty when not sent)
    project_id: str | None = None  # the project the path names: a key of another one is refused

    @property
    def missing(self) -> bool:
        return not self.key or self.secret == ""


def authenticate(credential: Credential, registry: ProjectRegistry) -> Project:
    """The credential's project, or the vendor's refusal (403 for another project's key)."""
    refusal = credential.refusal
    if credential.missing:
        raise refusal.error.at(refusal.field, refusal.missing)
    match credential.kind:
        case "vemetric_token":
            project = registry.by_vemetric_token(credential.key)
        case "usermaven_token":
            project = registry.by_usermaven_token(credential.key, credential.secret or "")
        case "usermaven_api_key":
            project = registry.by_usermaven_api_key(credential.key)
        case "embeddables_key":
            project = registry.by_embeddables_key(credential.key)
    if project is None:
        raise refusal.error.at(refusal.field, refusal.unknown)
    if credential.project_id is not None and project.id != credential.project_id:
        raise Forbidden.at(refusal.field, "this key belongs to another project")
    return project
