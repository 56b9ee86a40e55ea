"""Projects and their credentials, as the gateway checks them.

Kept in `projects.json` under the data folder (written by `headwater keys`), or given inline in
`HEADWATER_PROJECTS`. Vemetric project tokens are public (send-only) and stored as they are; secret
keys (Embeddables `rk_` keys, Usermaven server tokens) are stored only as SHA-256 hashes: they are
random 144+ bit strings, so a fast hash is enough to make a leaked file useless. Keys are minted
and revoked by `headwater keys` (headwater/keys.py).

Embed Workflow API keys come four to a set, a publishable `pk_` and a secret `sk_` key for each of
`test` and `live`. All four are stored hashed, the publishable ones too: those are meant for
browsers and so not secret, but hashing costs nothing and keeps one rule (every key a caller
presents is looked up by its hash), and a leaked file still lets no one act as the project's pages.
"""

import hashlib
import hmac
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime.settings import HeadwaterSettings

__all__ = [
    "KeyKind",
    "Project",
    "ProjectFile",
    "ProjectRegistry",
    "ProjectSource",
    "UsermavenKey",
    "WorkflowKey",
    "hash_secret",
]

KeyKind = Literal["vemetric", "embeddables", "usermaven", "workflows"]

log = logging.getLogger(__name__)


def hash_secret(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


class UsermavenKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: str
    server_token_hash: str


class WorkflowKey(BaseModel):
    """One Embed Workflow API key: `pk_test_…`, `sk_test_…`, `pk_live_…` or `sk_live_…`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hash: str
    environment: Literal["test", "live"]
    publishable: bool


class Project(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    vemetric_tokens: list[str] = Field(default_factory=list)
    embeddables_key_hashes: list[str] = Field(default_factory=list)
    usermaven_keys: list[UsermavenKey] = Field(default_factory=list)
    workflow_keys: list[WorkflowKey] = Field(default_factory=list)
    rate_limit_per_s: float | None = Field(
        None, ge=0, description="Events per second this project may send; 0 = no limit."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Web origins (`https://shop.example`) whose pages may send this project's "
        "browser events; empty: any origin. Server-to-server endpoints ignore it.",
    )

    def allows_origin(self, origin: str | None) -> bool:
        """A request with no Origin header is not from a page's script (a server, a beacon from
        the same site, curl): only pages from other origins are held to the list."""
        return not self.allowed_origins or origin is None or origin in self.allowed_origins


class ProjectFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    projects: list[Project]


class ProjectRegistry:
    """Answers "which project does this credential belong to?" in O(1)."""

    def __init__(self, projects: list[Project]) -> None:
        self.projects = projects
        self._by_id = {p.id: p for p in projects}
        self._by_vemetric_token = {t: p for p in projects for t in p.vemetric_tokens}
        self._by_embeddables_hash = {h: p for p in projects for h in p.embeddables_key_hashes}
        self._by_usermaven_key = {k.api_key: (p, k) for p in projects for k in p.usermaven_keys}
        self._by_workflow_hash = {k.hash: (p, k) for p in projects for k in p.workflow_keys}

    @classmethod
    def load(cls, path: Path) -> "ProjectRegistry":
        if not path.exists():
            return cls([])
        return cls(ProjectFile.model_validate_json(path.read_bytes()).projects)

    def by_id(self, project_id: str) -> Project | None:
        return self._by_id.get(project_id)

    def by_vemetric_token(self, token: str) -> Project | None:
        return self._by_vemetric_token.get(token)

    def by_embeddables_key(self, key: str) -> Project | None:
        return self._by_embeddables_hash.get(hash_secret(key))

    def by_workflow_key(self, key: str) -> tuple[Project, WorkflowKey] | None:
        """The project of an Embed Workflow API key, and which of its four keys it is."""
        return self._by_workflow_hash.get(hash_secret(key))

    def by_usermaven_api_key(self, api_key: str) -> Project | None:
        """The project of a public API key alone: the browser tracker can only send with it."""
        found = self._by_usermaven_key.get(api_key)
        return found[0] if found is not None else None

    def by_usermaven_token(self, api_key: str, server_token: str) -> Project | None:
        found = self._by_usermaven_key.get(api_key)
        if found is None:
            return None
        project, key = found
        return (
            project
            if hmac.compare_digest(key.server_token_hash, hash_secret(server_token))
            else None
        )


class ProjectSource:
    """The current registry, from `HEADWATER_PROJECTS` or the projects file.

    `refresh()` re-reads the file when it changed, so keys made with `headwater keys` work on a
    running gateway within seconds. A file that fails to parse keeps the last good registry.
    """

    def __init__(self, path: Path | None, inline: str | None = None) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        if inline is not None:
            self.registry = ProjectRegistry(ProjectFile.model_validate_json(inline).projects)
        else:
            self.registry = ProjectRegistry([])
            self.refresh()

    @classmethod
    def from_settings(cls, settings: HeadwaterSettings) -> "ProjectSource":
        if settings.projects is not None:
            return cls(None, settings.projects)
        return cls(settings.projects_path)

    @classmethod
    def of(cls, projects: list[Project]) -> "ProjectSource":
        return cls(None, ProjectFile(projects=projects).model_dump_json())

    def refresh(self) -> bool:
        """Reload if the file changed since the last look; True when the registry changed."""
        if self.path is None:
            return False
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self.registry = ProjectRegistry.load(self.path)
        except (OSError, ValidationError) as exc:
            log.error(
                "projects file unreadable; keeping the last good one", extra={"error": str(exc)}
            )
            return False
        return True
