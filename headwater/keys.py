"""`headwater keys`: create, list and revoke project credentials in the projects file, and the
development project a fresh data folder gets.

Secrets are printed once and only their hashes are written; a running gateway picks up the change
within `HEADWATER_GATEWAY_PROJECTS_RELOAD_S`. The development project's credentials are printed
once and written to `credentials.env` (mode 0600) for copy-and-paste.

Embed Workflow API keys are minted as a set of four, one per line: `pk_test_…`, `sk_test_…`,
`pk_live_…`, `sk_live_…`; each is listed and revoked on its own. The development project gets only
the test pair (its live keys would be held by no one): `credentials.env` carries them, and a file
written before they existed still loads, without them.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from gateway.projects import (
    KeyKind,
    Project,
    ProjectFile,
    UsermavenKey,
    WorkflowKey,
    hash_secret,
)
from runtime.errors import HeadwaterError
from runtime.settings import HeadwaterSettings

__all__ = [
    "DevCredentials",
    "KeyRow",
    "create_key",
    "ensure_dev_project",
    "list_keys",
    "mint_key",
    "revoke_key",
    "save_projects",
]

DEV_PROJECT_ID = "dev"

_HASH_SHOWN = 12

_ENVIRONMENTS: tuple[Literal["test", "live"], ...] = ("test", "live")


@dataclass(frozen=True)
class KeyRow:
    project_id: str
    kind: KeyKind
    key_id: str  # what `revoke` takes: public token, Usermaven API key, or a hash prefix
    label: str = ""  # which key of a set it is, where the id alone cannot say: `sk_test`


def _load(path: Path) -> list[Project]:
    if not path.exists():
        return []
    return list(ProjectFile.model_validate_json(path.read_bytes()).projects)


def create_key(path: Path, project_id: str, kind: KeyKind) -> str:
    """Mint a key (creating the project if new) and return the credential to hand out."""
    projects = _load(path)
    current = next((p for p in projects if p.id == project_id), Project(id=project_id))
    updated, credential = mint_key(current, kind)
    save_projects(path, [p for p in projects if p.id != project_id] + [updated])
    return credential


def list_keys(path: Path) -> list[KeyRow]:
    return [row for project in _load(path) for row in _rows(project)]


def revoke_key(path: Path, project_id: str, key_id: str) -> KeyRow:
    projects = _load(path)
    project = next((p for p in projects if p.id == project_id), None)
    row = next((r for r in _rows(project) if r.key_id == key_id), None) if project else None
    if project is None or row is None:
        raise HeadwaterError(
            f"no key {key_id!r} in project {project_id!r}; see `headwater keys list`"
        )
    updated = project.model_copy(
        update={
            "vemetric_tokens": [t for t in project.vemetric_tokens if t != key_id],
            "embeddables_key_hashes": [
                h for h in project.embeddables_key_hashes if _hash_id(h) != key_id
            ],
            "usermaven_keys": [k for k in project.usermaven_keys if k.api_key != key_id],
            "workflow_keys": [k for k in project.workflow_keys if _hash_id(k.hash) != key_id],
        }
    )
    save_projects(path, [updated if p.id == project_id else p for p in projects])
    return row


def _rows(project: Project) -> list[KeyRow]:
    return [
        *(KeyRow(project.id, "vemetric", token) for token in project.vemetric_tokens),
        *(KeyRow(project.id, "embeddables", _hash_id(h)) for h in project.embeddables_key_hashes),
        *(KeyRow(project.id, "usermaven", key.api_key) for key in project.usermaven_keys),
        *(
            KeyRow(project.id, "workflows", _hash_id(key.hash), _workflow_label(key))
            for key in project.workflow_keys
        ),
    ]


def _hash_id(digest: str) -> str:
    """How a hashed secret is named in `list` and `revoke`: a prefix of its hash."""
    return digest.removeprefix("sha256:")[:_HASH_SHOWN]


class DevCredentials(BaseModel):
    """What a developer pastes into curl: written to `credentials.env` as shell variables."""

    model_config = ConfigDict(frozen=True)

    project_id: str
    vemetric_token: str
    embeddables_key: str
    usermaven_token: str
    workflows_secret_key: str = ""  # sk_test_…; empty in a file from before workflow keys
    workflows_publishable_key: str = ""  # pk_test_…

    def as_env(self) -> str:
        return (
            f"PROJECT_ID={self.project_id}\n"
            f"VEMETRIC_TOKEN={self.vemetric_token}\n"
            f"EMBEDDABLES_KEY={self.embeddables_key}\n"
            f"USERMAVEN_TOKEN={self.usermaven_token}\n"
            f"WORKFLOWS_SECRET_KEY={self.workflows_secret_key}\n"
            f"WORKFLOWS_PUBLISHABLE_KEY={self.workflows_publishable_key}\n"
        )

    @classmethod
    def from_env(cls, text: str) -> "DevCredentials":
        values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        return cls(
            project_id=values["PROJECT_ID"],
            vemetric_token=values["VEMETRIC_TOKEN"],
            embeddables_key=values["EMBEDDABLES_KEY"],
            usermaven_token=values["USERMAVEN_TOKEN"],
            workflows_secret_key=values.get("WORKFLOWS_SECRET_KEY", ""),
            workflows_publishable_key=values.get("WORKFLOWS_PUBLISHABLE_KEY", ""),
        )


def mint_key(project: Project, kind: KeyKind) -> tuple[Project, str]:
    """A new key of `kind` for the project: the updated project, and the credential to show once
    (only its hash is kept for secret kinds)."""
    if kind == "vemetric":
        token = f"proj_{secrets.token_hex(12)}"
        return project.model_copy(
            update={"vemetric_tokens": [*project.vemetric_tokens, token]}
        ), token
    if kind == "embeddables":
        key = f"rk_{secrets.token_urlsafe(24)}"
        hashes = [*project.embeddables_key_hashes, hash_secret(key)]
        return project.model_copy(update={"embeddables_key_hashes": hashes}), key
    if kind == "workflows":
        return _mint_workflow_keys(project)
    api_key, server_token = secrets.token_hex(8), secrets.token_urlsafe(18)
    usermaven = UsermavenKey(api_key=api_key, server_token_hash=hash_secret(server_token))
    updated = project.model_copy(update={"usermaven_keys": [*project.usermaven_keys, usermaven]})
    return updated, f"{api_key}.{server_token}"


def _mint_workflow_keys(project: Project) -> tuple[Project, str]:
    """A set of four, each environment's publishable and secret key, shown one per line."""
    keys: list[str] = []
    stored: list[WorkflowKey] = []
    for environment in _ENVIRONMENTS:
        for kind in ("pk", "sk"):
            key = f"{kind}_{environment}_{secrets.token_urlsafe(24)}"
            keys.append(key)
            publishable = kind == "pk"
            stored.append(
                WorkflowKey(hash=hash_secret(key), environment=environment, publishable=publishable)
            )
    updated = project.model_copy(update={"workflow_keys": [*project.workflow_keys, *stored]})
    return updated, "\n".join(keys)


def _workflow_label(key: WorkflowKey) -> str:
    """The key's prefix without its trailing underscore: `pk_test`, `sk_live`, ..."""
    return f"{'pk' if key.publishable else 'sk'}_{key.environment}"


def save_projects(path: Path, projects: list[Project]) -> None:
    """Write the projects file atomically, so a running gateway never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(ProjectFile(projects=projects).model_dump_json(indent=2) + "\n")
    temporary.replace(path)


def ensure_dev_project(settings: HeadwaterSettings) -> tuple[DevCredentials | None, bool]:
    """Create the development project in a fresh data folder.

    Returns its credentials (None when the folder has projects but no dev credentials file) and
    whether they were created by this call.
    """
    projects_file, credentials_file = settings.projects_path, settings.credentials_file
    if projects_file.exists():
        if credentials_file.exists():
            return DevCredentials.from_env(credentials_file.read_text()), False
        return None, False
    project = Project(id=DEV_PROJECT_ID)
    project, vemetric_token = mint_key(project, "vemetric")
    project, embeddables_key = mint_key(project, "embeddables")
    project, usermaven_token = mint_key(project, "usermaven")
    project, workflow_keys = mint_key(project, "workflows")
    publishable_key, secret_key, *_ = workflow_keys.splitlines()
    test_keys = [k for k in project.workflow_keys if k.environment == "test"]
    project = project.model_copy(update={"workflow_keys": test_keys})
    credentials = DevCredentials(
        project_id=DEV_PROJECT_ID,
        vemetric_token=vemetric_token,
        embeddables_key=embeddables_key,
        usermaven_token=usermaven_token,
        workflows_secret_key=secret_key,
        workflows_publishable_key=publishable_key,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _write_private(credentials_file, credentials.as_env())
    save_projects(projects_file, [project])
    return credentials, True


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
