"""Projects and their credentials, as the gateway checks them.

Kept in `projects.json` under the data folder. Vemetric project tokens are public (send-only) and
stored as they are; secret keys (Embeddables `rk_` keys, Usermaven server tokens) are stored only
as SHA-256 hashes. A fresh data folder gets a development project whose credentials are printed
once and written to `credentials.env` (mode 0600) for copy-and-paste.
"""

import hashlib
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from headwater.settings import HeadwaterSettings

__all__ = [
    "DevCredentials",
    "Project",
    "ProjectRegistry",
    "ensure_dev_project",
    "hash_secret",
]

DEV_PROJECT_ID = "dev"


def hash_secret(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


class UsermavenKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: str
    server_token_hash: str


class Project(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    vemetric_tokens: list[str] = Field(default_factory=list)
    embeddables_key_hashes: list[str] = Field(default_factory=list)
    usermaven_keys: list[UsermavenKey] = Field(default_factory=list)


class ProjectFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    projects: list[Project]


class ProjectRegistry:
    """Answers "which project does this credential belong to?" in O(1)."""

    def __init__(self, projects: list[Project]) -> None:
        self._by_vemetric_token = {t: p for p in projects for t in p.vemetric_tokens}

    @classmethod
    def load(cls, path: Path) -> "ProjectRegistry":
        if not path.exists():
            return cls([])
        return cls(ProjectFile.model_validate_json(path.read_bytes()).projects)

    def by_vemetric_token(self, token: str) -> Project | None:
        return self._by_vemetric_token.get(token)


class DevCredentials(BaseModel):
    """What a developer pastes into curl: written to `credentials.env` as shell variables."""

    model_config = ConfigDict(frozen=True)

    project_id: str
    vemetric_token: str
    embeddables_key: str
    usermaven_token: str

    def as_env(self) -> str:
        return (
            f"PROJECT_ID={self.project_id}\n"
            f"VEMETRIC_TOKEN={self.vemetric_token}\n"
            f"EMBEDDABLES_KEY={self.embeddables_key}\n"
            f"USERMAVEN_TOKEN={self.usermaven_token}\n"
        )

    @classmethod
    def from_env(cls, text: str) -> "DevCredentials":
        values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        return cls(
            project_id=values["PROJECT_ID"],
            vemetric_token=values["VEMETRIC_TOKEN"],
            embeddables_key=values["EMBEDDABLES_KEY"],
            usermaven_token=values["USERMAVEN_TOKEN"],
        )


def ensure_dev_project(settings: HeadwaterSettings) -> tuple[DevCredentials | None, bool]:
    """Create the development project in a fresh data folder.

    Returns its credentials (None when the folder has projects but no dev credentials file) and
    whether they were created by this call.
    """
    projects_file, credentials_file = settings.projects_file, settings.credentials_file
    if projects_file.exists():
        if credentials_file.exists():
            return DevCredentials.from_env(credentials_file.read_text()), False
        return None, False
    usermaven_api_key, server_token = secrets.token_hex(8), secrets.token_urlsafe(18)
    credentials = DevCredentials(
        project_id=DEV_PROJECT_ID,
        vemetric_token=f"proj_{secrets.token_hex(12)}",
        embeddables_key=f"rk_{secrets.token_urlsafe(24)}",
        usermaven_token=f"{usermaven_api_key}.{server_token}",
    )
    project = Project(
        id=DEV_PROJECT_ID,
        vemetric_tokens=[credentials.vemetric_token],
        embeddables_key_hashes=[hash_secret(credentials.embeddables_key)],
        usermaven_keys=[
            UsermavenKey(api_key=usermaven_api_key, server_token_hash=hash_secret(server_token))
        ],
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _write_private(credentials_file, credentials.as_env())
    projects_file.write_text(ProjectFile(projects=[project]).model_dump_json(indent=2) + "\n")
    return credentials, True


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
