"""`headwater keys`: create, list and revoke project credentials in the projects file.

Secrets are printed once and only their hashes are written; a running gateway picks up the change
within `HEADWATER_GATEWAY_PROJECTS_RELOAD_S`.
"""

from dataclasses import dataclass
from pathlib import Path

from gateway.projects import KeyKind, Project, ProjectFile, mint_key, save_projects
from runtime.errors import HeadwaterError

__all__ = ["KeyRow", "create_key", "list_keys", "revoke_key"]

_HASH_SHOWN = 12


@dataclass(frozen=True)
class KeyRow:
    project_id: str
    kind: KeyKind
    key_id: str  # what `revoke` takes: public token, Usermaven API key, or a hash prefix


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
        }
    )
    save_projects(path, [updated if p.id == project_id else p for p in projects])
    return row


def _rows(project: Project) -> list[KeyRow]:
    return [
        *(KeyRow(project.id, "vemetric", token) for token in project.vemetric_tokens),
        *(KeyRow(project.id, "embeddables", _hash_id(h)) for h in project.embeddables_key_hashes),
        *(KeyRow(project.id, "usermaven", key.api_key) for key in project.usermaven_keys),
    ]


def _hash_id(digest: str) -> str:
    """How a hashed secret is named in `list` and `revoke`: a prefix of its hash."""
    return digest.removeprefix("sha256:")[:_HASH_SHOWN]
