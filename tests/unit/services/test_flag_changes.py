"""``services.flag_changes`` on the fakes: the approval gate for every combination of environment
settings, role and kind of change; dry runs; versions; the audit entry; SDK events only after commit."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from flagward.domain.accounts import Actor, Role
from flagward.domain.errors import ApprovalRequired, Forbidden, InstructionError, InvalidRequest, OptimisticLockError
from flagward.domain.events import ItemKind, SdkItemChanged
from flagward.domain.flags import Flag
from flagward.services import flag_changes, flags, projects
from flagward.services.flag_changes import FlagPatch
from flagward.services.flags import NewFlag
from flagward.services.projects import NewProject
from tests.fakes import FakeUnitOfWork
from tests.unit.services.conftest import World


class Shop:
    """Project ``shop`` (production, test) with flag ``f`` tagged ``tags``, made by an admin."""

    def __init__(self, world: World, tags: tuple[str, ...] = ()) -> None:
        self.world = world
        self.admin = world.member(Role.ADMIN)
        projects.create_project(world.deps, actor=self.admin, new=NewProject(key="shop", name="Shop"))
        flags.create_flag(
            world.deps, actor=self.admin, project_key="shop", new=NewFlag(key="f", name="F", tags=list(tags))
        )
        world.clock.advance(1000)
        world.uow.broker.published.clear()

    def require_approval(self, env_key: str, *, required: bool = False, tags: tuple[str, ...] = ()) -> None:
        for env in self.world.uow.store.environments.values():
            if env.key == env_key:
                env.approval_settings = replace(
                    env.approval_settings, required=required, required_approval_tags=tuple(tags)
                )

    def env_id(self, env_key: str) -> str:
        return next(e.id for e in self.world.uow.store.environments.values() if e.key == env_key)

    @property
    def flag(self) -> Flag:
        return copy.deepcopy(self.world.uow.store.flags["shop", "f"])

    def patch(self, actor: Actor, patch: FlagPatch, **options: Any) -> Flag:
        flag, _ = flag_changes.update_flag(
            self.world.deps, actor=actor, project_key="shop", key="f", patch=patch, **options
        )
        return flag


def on(env: str = "production", comment: str | None = None) -> FlagPatch:
    return FlagPatch("semantic", [{"kind": "turnFlagOn"}], comment, env)


def rename(name: str = "Renamed") -> FlagPatch:
    return FlagPatch("semantic", [{"kind": "updateName", "value": name}])


SETTINGS = {
    "required": {"required": True},
    "tag meets": {"tags": ("risky",)},
    "tag misses": {"tags": ("other",)},
    "none": {},
}


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("role", [Role.WRITER, Role.ADMIN, Role.OWNER])
@pytest.mark.parametrize("change", ["environment", "project"])
def test_the_gate_matrix(world: World, setting: str, role: Role, change: str) -> None:
    shop = Shop(world, tags=("risky",))
    shop.require_approval("production", **SETTINGS[setting])  # type: ignore[arg-type]
    actor = world.member(role)
    gated = setting in ("required", "tag meets") and role is Role.WRITER and change == "environment"
    patch = on() if change == "environment" else rename()
    before, entries = shop.flag, len(world.uow.store.audit)
    if gated:
        with pytest.raises(ApprovalRequired) as info:
            shop.patch(actor, patch)
        assert info.value.message == "Flag configuration updates require approval: action 'updateOn' not allowed"
        assert (shop.flag, len(world.uow.store.audit), world.uow.broker.published) == (before, entries, [])
    else:
        after = shop.patch(actor, patch)
        assert after.version == before.version + 1 and shop.flag == after
        assert len(world.uow.store.audit) == entries + 1


@pytest.mark.parametrize(
    "patch",
    [
        FlagPatch("json", [{"op": "replace", "path": "/environments/production/on", "value": True}]),
        FlagPatch("merge", {"environments": {"production": {"on": True}}}),
        FlagPatch("semantic", [{"kind": "addTags", "values": ["x"]}, {"kind": "turnFlagOn"}], None, "production"),
    ],
    ids=["json", "merge", "semantic with a project-level change"],
)
def test_every_kind_of_patch_is_gated(world: World, patch: FlagPatch) -> None:
    shop = Shop(world)
    shop.require_approval("production", required=True)
    before = shop.flag
    with pytest.raises(ApprovalRequired, match="'updateOn'"):
        shop.patch(world.member(Role.WRITER), patch)
    assert shop.flag == before


def test_the_tags_a_change_removes_still_gate_it(world: World) -> None:
    shop = Shop(world, tags=("risky",))
    shop.require_approval("test", tags=("risky",))
    untag = FlagPatch("semantic", [{"kind": "removeTags", "values": ["risky"]}, {"kind": "turnFlagOn"}], None, "test")
    with pytest.raises(ApprovalRequired):
        shop.patch(world.member(Role.WRITER), untag)
    tag = FlagPatch("semantic", [{"kind": "addTags", "values": ["risky"]}, {"kind": "turnFlagOn"}], None, "test")
    untagged = shop.flag
    untagged.tags = []
    world.uow.store.flags["shop", "f"] = untagged
    with pytest.raises(ApprovalRequired):
        shop.patch(world.member(Role.WRITER), tag)


def test_a_change_elsewhere_is_not_gated(world: World) -> None:
    shop = Shop(world)
    shop.require_approval("production", required=True)
    assert shop.patch(world.member(Role.WRITER), on("test")).environments["test"]["on"] is True


def test_a_dry_run_returns_the_change_and_writes_nothing(world: World) -> None:
    shop = Shop(world)
    before, entries = shop.flag, len(world.uow.store.audit)
    would_be = shop.patch(shop.admin, on(), dry_run=True)
    assert would_be.environments["production"]["on"] is True
    assert would_be.environments["production"]["version"] == before.environments["production"]["version"] + 1
    assert (shop.flag, len(world.uow.store.audit), world.uow.broker.published) == (before, entries, [])


def test_a_dry_run_is_gated_too(world: World) -> None:
    shop = Shop(world)
    shop.require_approval("production", required=True)
    with pytest.raises(ApprovalRequired):
        shop.patch(world.member(Role.WRITER), on(), dry_run=True)


def test_versions(world: World) -> None:
    shop = Shop(world)
    before = shop.flag
    after = shop.patch(shop.admin, on())
    production, test = after.environments["production"], after.environments["test"]
    assert (after.version, production["version"], production["lastModified"]) == (
        before.version + 1,
        before.environments["production"]["version"] + 1,
        world.clock.now,
    )
    assert test == before.environments["test"]
    renamed = shop.patch(shop.admin, rename())
    assert renamed.version == after.version + 1
    assert renamed.environments == after.environments
    add = FlagPatch("semantic", [{"kind": "turnOnClientSideAvailability", "value": "usingEnvironmentId"}])
    visible = shop.patch(shop.admin, add)  # what SDKs receive changed in every environment
    assert {k: c["version"] for k, c in visible.environments.items()} == {
        k: c["version"] + 1 for k, c in renamed.environments.items()
    }


def test_a_no_op_changes_nothing(world: World) -> None:
    shop = Shop(world)
    before, entries = shop.flag, len(world.uow.store.audit)
    off = FlagPatch("semantic", [{"kind": "turnFlagOff"}], None, "production")
    assert shop.patch(shop.admin, off) == before
    assert (shop.flag, len(world.uow.store.audit), world.uow.broker.published) == (before, entries, [])


def test_the_audit_entry(world: World) -> None:
    shop = Shop(world)
    writer = world.member(Role.WRITER)
    shop.patch(writer, on(comment="ship"))
    entry = world.uow.store.audit[-1]
    assert (entry.kind, entry.name, entry.comment, entry.date) == ("flag", "F", "ship", world.clock.now)
    assert [(a.action, a.resource) for a in entry.accesses] == [("updateOn", "proj/shop:env/production:flag/f")]
    assert entry.actor.member_id == writer.member_id and entry.actor.member_role == "writer"
    assert entry.previous is not None and entry.current is not None
    assert set(entry.current["environments"]) == {"production"}
    assert (entry.previous["environments"]["production"]["on"], entry.current["environments"]["production"]["on"]) == (
        False,
        True,
    )
    assert entry.delta == {"environmentKey": "production", "instructions": [{"kind": "turnFlagOn"}]}
    json_patch = [{"op": "replace", "path": "/description", "value": "d"}]
    shop.patch(writer, FlagPatch("json", json_patch, "why"))
    entry = world.uow.store.audit[-1]
    assert (entry.delta, entry.comment, entry.accesses[0].action) == (json_patch, "why", "updateDescription")
    assert entry.accesses[0].resource == "proj/shop:env/*:flag/f"


def test_events_are_published_once_committed(world: World) -> None:
    shop = Shop(world)
    after = shop.patch(shop.admin, on())
    assert world.uow.broker.published == [
        SdkItemChanged(shop.env_id("production"), ItemKind.FLAG, "f", after.environments["production"]["version"])
    ]


def test_nothing_is_published_when_the_commit_fails(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = Shop(world)
    before, entries = shop.flag, len(world.uow.store.audit)

    def fail(self: FakeUnitOfWork) -> None:
        raise OptimisticLockError("the store refused the commit")

    monkeypatch.setattr(FakeUnitOfWork, "commit", fail)
    with pytest.raises(OptimisticLockError):
        shop.patch(shop.admin, on())
    assert (shop.flag, len(world.uow.store.audit), world.uow.broker.published) == (before, entries, [])


def test_a_failing_instruction_changes_nothing(world: World) -> None:
    shop = Shop(world)
    before = shop.flag
    bad = FlagPatch(
        "semantic", [{"kind": "turnFlagOn"}, {"kind": "updateOffVariation", "variationId": "x"}], None, "production"
    )
    with pytest.raises(InstructionError) as info:
        shop.patch(shop.admin, bad)
    assert (info.value.index, info.value.kind) == (1, "updateOffVariation")
    assert (shop.flag, world.uow.broker.published) == (before, [])


def test_a_stale_json_patch_test_is_an_optimistic_lock_error(world: World) -> None:
    shop = Shop(world)
    shop.patch(shop.admin, on())
    stale = [{"op": "test", "path": "/_version", "value": 1}, {"op": "replace", "path": "/name", "value": "x"}]
    with pytest.raises(OptimisticLockError):
        shop.patch(shop.admin, FlagPatch("json", stale))
    assert shop.flag.name == "F"


@pytest.mark.parametrize("path", ["/key", "/_version", "/environments/production/version", "/variations/0/_id"])
def test_read_only_paths_are_refused(world: World, path: str) -> None:
    shop = Shop(world)
    with pytest.raises(InvalidRequest, match="read-only"):
        shop.patch(shop.admin, FlagPatch("json", [{"op": "replace", "path": path, "value": "x"}]))


def test_permissions(world: World) -> None:
    shop = Shop(world)
    reader = world.member(Role.READER)
    for patch in (on(), rename(), FlagPatch("json", [{"op": "replace", "path": "/name", "value": "x"}])):
        with pytest.raises(Forbidden):
            shop.patch(reader, patch)


def test_delete_flag_instruction(world: World) -> None:
    shop = Shop(world)
    delete = FlagPatch("semantic", [{"kind": "deleteFlag"}])
    assert shop.patch(shop.admin, delete, dry_run=True).key == "f"
    assert ("shop", "f") in world.uow.store.flags
    assert shop.patch(world.member(Role.WRITER), delete).key == "f"
    assert ("shop", "f") not in world.uow.store.flags
    assert world.uow.store.audit[-1].accesses[0].action == "deleteFlag"
    assert {e.deleted for e in world.uow.broker.published} == {True}


def test_delete_flag_must_come_alone(world: World) -> None:
    shop = Shop(world)
    both = FlagPatch("semantic", [{"kind": "updateName", "value": "x"}, {"kind": "deleteFlag"}])
    with pytest.raises(InstructionError) as info:
        shop.patch(shop.admin, both)
    assert info.value.index == 1
    assert shop.flag.name == "F"
