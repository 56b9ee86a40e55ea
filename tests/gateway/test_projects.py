"""The gateway's projects: which project a credential belongs to, which page origins a project
accepts, and a projects file picked up again when it changes (and only when it parses)."""

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.projects import Project, ProjectRegistry, ProjectSource, WorkflowKey, hash_secret
from headwater.keys import mint_key, save_projects
from runtime.settings import HeadwaterSettings

Credentials = dict[str, str]
WORKFLOW_KINDS = ("pk_test", "sk_test", "pk_live", "sk_live")
Lookup = Callable[[ProjectRegistry, Credentials], Project | None]


def acme_with_every_kind_of_key() -> tuple[Project, Credentials]:
    project, credentials = Project(id="acme"), {}
    for kind in ("vemetric", "embeddables", "usermaven", "workflows"):
        project, credentials[kind] = mint_key(project, kind)
    api_key, server_token = credentials["usermaven"].split(".")
    workflow_keys = dict(zip(WORKFLOW_KINDS, credentials["workflows"].splitlines(), strict=True))
    return project, credentials | workflow_keys | {"api_key": api_key, "server_token": server_token}


def project_of(found: tuple[Project, WorkflowKey] | None) -> Project | None:
    return found[0] if found is not None else None


@pytest.fixture
def registry_and_credentials() -> tuple[ProjectRegistry, Credentials]:
    acme, credentials = acme_with_every_kind_of_key()
    other, _ = mint_key(Project(id="other"), "vemetric")
    return ProjectRegistry([other, acme]), credentials


FINDS_ACME: dict[str, Lookup] = {
    "vemetric token": lambda r, c: r.by_vemetric_token(c["vemetric"]),
    "embeddables key": lambda r, c: r.by_embeddables_key(c["embeddables"]),
    "usermaven api key": lambda r, c: r.by_usermaven_api_key(c["api_key"]),
    "usermaven token": lambda r, c: r.by_usermaven_token(c["api_key"], c["server_token"]),
    "workflow key": lambda r, c: project_of(r.by_workflow_key(c["sk_live"])),
    "id": lambda r, c: r.by_id("acme"),
}

FINDS_NOTHING: dict[str, Lookup] = {
    "unknown vemetric token": lambda r, c: r.by_vemetric_token("proj_unknown"),
    "a secret kind's key as a token": lambda r, c: r.by_vemetric_token(c["embeddables"]),
    "the stored hash as a key": lambda r, c: r.by_embeddables_key(hash_secret(c["embeddables"])),
    "unknown embeddables key": lambda r, c: r.by_embeddables_key("rk_unknown"),
    "unknown usermaven api key": lambda r, c: r.by_usermaven_api_key("unknown"),
    "wrong server token": lambda r, c: r.by_usermaven_token(c["api_key"], "wrong"),
    "server token of no api key": lambda r, c: r.by_usermaven_token("unknown", c["server_token"]),
    "unknown workflow key": lambda r, c: project_of(r.by_workflow_key("sk_test_unknown")),
    "a stored workflow key hash": lambda r, c: project_of(
        r.by_workflow_key(hash_secret(c["sk_test"]))
    ),
    "the four keys at once": lambda r, c: project_of(r.by_workflow_key(c["workflows"])),
    "unknown id": lambda r, c: r.by_id("nobody"),
}


@pytest.mark.parametrize("lookup", FINDS_ACME.values(), ids=FINDS_ACME.keys())
def test_each_credential_finds_its_project(
    registry_and_credentials: tuple[ProjectRegistry, Credentials], lookup: Lookup
) -> None:
    found = lookup(*registry_and_credentials)
    assert found is not None and found.id == "acme"


@pytest.mark.parametrize("lookup", FINDS_NOTHING.values(), ids=FINDS_NOTHING.keys())
def test_an_unknown_credential_finds_no_project(
    registry_and_credentials: tuple[ProjectRegistry, Credentials], lookup: Lookup
) -> None:
    assert lookup(*registry_and_credentials) is None


def test_each_workflow_key_is_found_with_its_environment_and_kind(
    registry_and_credentials: tuple[ProjectRegistry, Credentials],
) -> None:
    registry, credentials = registry_and_credentials
    described = {}
    for kind in WORKFLOW_KINDS:
        found = registry.by_workflow_key(credentials[kind])
        assert found is not None
        project, key = found
        described[kind] = (project.id, key.environment, key.publishable)
    assert described == {
        "pk_test": ("acme", "test", True),
        "sk_test": ("acme", "test", False),
        "pk_live": ("acme", "live", True),
        "sk_live": ("acme", "live", False),
    }


def test_every_workflow_key_is_stored_only_as_its_hash() -> None:
    acme, credentials = acme_with_every_kind_of_key()
    stored = acme.model_dump_json()
    assert not any(credentials[kind] in stored for kind in WORKFLOW_KINDS)
    assert [k.hash for k in acme.workflow_keys] == [
        hash_secret(credentials[kind]) for kind in WORKFLOW_KINDS
    ]


SHOP = "https://shop.example"


@pytest.mark.parametrize(
    ("allowed", "origin", "allows"),
    [
        ([], "https://anywhere.example", True),
        ([], None, True),
        ([SHOP], SHOP, True),
        ([SHOP, "https://www.shop.example"], "https://www.shop.example", True),
        ([SHOP], None, True),  # no Origin header: not a page's script
        ([SHOP], "https://evil.example", False),
        ([SHOP], "http://shop.example", False),
        ([SHOP], "https://shop.example:8443", False),
        ([SHOP], "https://sub.shop.example", False),
    ],
)
def test_a_project_allows_any_origin_or_exactly_those_listed(
    allowed: list[str], origin: str | None, allows: bool
) -> None:
    assert Project(id="acme", allowed_origins=allowed).allows_origin(origin) is allows


def test_a_changed_file_is_picked_up_by_refresh(tmp_path: Path) -> None:
    path = tmp_path / "projects.json"
    acme, credentials = acme_with_every_kind_of_key()
    save_projects(path, [acme])
    source = ProjectSource(path)
    assert source.registry.by_vemetric_token(credentials["vemetric"]) == acme
    assert not source.refresh()  # unchanged: nothing reloaded

    updated, token = mint_key(acme, "vemetric")
    save_projects(path, [updated])
    assert source.refresh()
    assert source.registry.by_vemetric_token(token) == updated


def test_a_missing_file_is_no_projects_until_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "projects.json"
    source = ProjectSource(path)
    assert source.registry.projects == [] and not source.refresh()
    save_projects(path, [Project(id="acme")])
    assert source.refresh()
    assert source.registry.by_id("acme") is not None


@pytest.mark.parametrize(
    "spoil",
    [
        lambda path: path.write_text('{"projects": [{"id": "acme"'),
        lambda path: path.write_text('{"projects": [{"id": "acme", "typo_tokens": []}]}'),
        lambda path: path.write_text('{"projects": [{"id": ""}]}'),
        lambda path: (path.unlink(), path.mkdir()),  # stat works, reading does not
    ],
    ids=["truncated", "unknown field", "empty id", "unreadable"],
)
def test_a_spoiled_file_keeps_the_last_good_registry_until_fixed(
    tmp_path: Path, spoil: Callable[[Path], object]
) -> None:
    path = tmp_path / "projects.json"
    acme, credentials = acme_with_every_kind_of_key()
    save_projects(path, [acme])
    source = ProjectSource(path)
    spoil(path)
    assert not source.refresh()
    assert source.registry.by_vemetric_token(credentials["vemetric"]) == acme

    if path.is_dir():
        path.rmdir()
    save_projects(path, [Project(id="fixed")])
    assert source.refresh()
    assert source.registry.by_id("fixed") is not None and source.registry.by_id("acme") is None


def test_inline_projects_win_over_the_file_and_never_reload(tmp_path: Path) -> None:
    save_projects(tmp_path / "projects.json", [Project(id="from-file")])
    inline = '{"projects": [{"id": "inline", "vemetric_tokens": ["proj_x"]}]}'
    source = ProjectSource.from_settings(
        HeadwaterSettings(data_dir=tmp_path, projects=inline, projects_file=None)
    )
    assert source.registry.by_vemetric_token("proj_x") == source.registry.by_id("inline")
    assert source.registry.by_id("from-file") is None and not source.refresh()


def test_without_inline_projects_the_data_folders_file_is_read(tmp_path: Path) -> None:
    save_projects(tmp_path / "projects.json", [Project(id="from-file")])
    settings = HeadwaterSettings(data_dir=tmp_path, projects=None, projects_file=None)
    assert ProjectSource.from_settings(settings).registry.by_id("from-file") is not None


def test_a_source_of_projects_in_hand_holds_exactly_them() -> None:
    acme, credentials = acme_with_every_kind_of_key()
    registry = ProjectSource.of([acme]).registry
    assert registry.projects == [acme]
    assert registry.by_usermaven_token(credentials["api_key"], credentials["server_token"]) == acme
