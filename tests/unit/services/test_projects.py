from __future__ import annotations

import pytest

from flagward.domain.accounts import Role
from flagward.domain.errors import Conflict, Forbidden, InvalidRequest, OptimisticLockError
from flagward.services import environments, projects
from flagward.services.environments import NewEnvironment
from flagward.services.projects import NewProject
from tests.unit.services.conftest import World


def test_a_project_without_environments_gets_production_and_test(world: World) -> None:
    admin = world.member(Role.ADMIN)
    _, envs = projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Shop"))
    assert [e.key for e in envs] == ["production", "test"]
    assert all(e.api_key.startswith("sdk-") and e.mobile_key.startswith("mob-") for e in envs)
    assert [e.kind for e in world.uow.store.audit] == ["project"]
    assert world.uow.store.audit[0].accesses[0].action == "createProject"


def test_a_writer_cannot_create_a_project_and_nothing_is_written(world: World) -> None:
    writer = world.member(Role.WRITER)
    with pytest.raises(Forbidden):
        projects.create_project(world.deps, actor=writer, new=NewProject(key="shop", name="Shop"))
    assert world.uow.store.projects == {}
    assert world.uow.store.audit == []


def test_duplicate_project_key_is_a_conflict(world: World) -> None:
    admin = world.member(Role.ADMIN)
    projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Shop"))
    with pytest.raises(Conflict):
        projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Other"))


def test_json_patch_renames_and_a_failed_test_is_an_optimistic_lock_error(world: World) -> None:
    admin = world.member(Role.ADMIN)
    projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Shop"))
    project, _ = projects.patch_project(
        world.deps, actor=admin, key="shop", patch=[{"op": "replace", "path": "/name", "value": "Store"}]
    )
    assert project.name == "Store" and project.version == 2
    with pytest.raises(OptimisticLockError):
        projects.patch_project(
            world.deps,
            actor=admin,
            key="shop",
            patch=[{"op": "test", "path": "/name", "value": "Shop"}, {"op": "replace", "path": "/name", "value": "X"}],
        )
    assert world.uow.store.projects["shop"].name == "Store"


def test_patching_a_read_only_field_is_refused(world: World) -> None:
    admin = world.member(Role.ADMIN)
    projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Shop"))
    with pytest.raises(InvalidRequest, match="read-only"):
        projects.patch_project(
            world.deps, actor=admin, key="shop", patch=[{"op": "replace", "path": "/key", "value": "x"}]
        )


def test_approval_settings_are_validated_on_patch(world: World) -> None:
    admin = world.member(Role.ADMIN)
    projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Shop"))
    env = environments.patch_environment(
        world.deps,
        actor=admin,
        project_key="shop",
        key="production",
        patch=[
            {"op": "replace", "path": "/approvalSettings/minNumApprovals", "value": 2},
            {"op": "replace", "path": "/approvalSettings/required", "value": True},
        ],
    )
    assert env.approval_settings.min_num_approvals == 2 and env.approval_settings.required
    with pytest.raises(InvalidRequest, match="minNumApprovals"):
        environments.patch_environment(
            world.deps,
            actor=admin,
            project_key="shop",
            key="production",
            patch=[{"op": "replace", "path": "/approvalSettings/minNumApprovals", "value": 6}],
        )
    with pytest.raises(InvalidRequest, match="cannot both be set"):
        environments.patch_environment(
            world.deps,
            actor=admin,
            project_key="shop",
            key="production",
            patch=[{"op": "replace", "path": "/approvalSettings/requiredApprovalTags", "value": ["x"]}],
        )


def test_a_new_environment_gives_every_flag_a_configuration(world: World) -> None:
    from flagward.services import flags
    from flagward.services.flags import NewFlag

    admin = world.member(Role.ADMIN)
    projects.create_project(world.deps, actor=admin, new=NewProject(key="shop", name="Shop"))
    flags.create_flag(world.deps, actor=admin, project_key="shop", new=NewFlag(key="f", name="F"))
    environments.create_environment(
        world.deps, actor=admin, project_key="shop", new=NewEnvironment(key="staging", name="Staging", color="00FF00")
    )
    config = world.uow.store.flags["shop", "f"].environments["staging"]
    assert config["on"] is False and config["version"] == 1 and config["offVariation"] == 1


def test_the_last_environment_cannot_be_deleted(world: World) -> None:
    admin = world.member(Role.ADMIN)
    projects.create_project(
        world.deps,
        actor=admin,
        new=NewProject(key="shop", name="Shop", environments=[NewEnvironment(key="only", name="Only", color="000000")]),
    )
    with pytest.raises(InvalidRequest, match="at least one environment"):
        environments.delete_environment(world.deps, actor=admin, project_key="shop", key="only")
