"""``services.segments`` on the fakes: create, patch (semantic, JSON, merge) with versions, audit entries
and SDK events after commit; dry runs; deleting is refused while a flag or a segment uses it; segment
approval settings gate targeting changes."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from flagward.domain.accounts import Actor, Role
from flagward.domain.errors import Conflict, Forbidden, InstructionError, InvalidRequest, NotFound, OptimisticLockError
from flagward.domain.events import ItemKind, SdkItemChanged
from flagward.domain.segments import Segment
from flagward.services import flag_changes, flags, projects, segments
from flagward.services.flag_changes import FlagPatch
from flagward.services.flags import NewFlag
from flagward.services.projects import NewProject
from flagward.services.segments import NewSegment
from tests.unit.services.conftest import World


class Shop:
    """Project ``shop`` with segment ``s`` in production."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.admin = world.member(Role.ADMIN)
        projects.create_project(world.deps, actor=self.admin, new=NewProject(key="shop", name="Shop"))
        self.create("s")
        world.clock.advance(1000)
        world.uow.broker.published.clear()

    def create(self, key: str, env: str = "production") -> Segment:
        segment, _ = segments.create_segment(
            self.world.deps,
            actor=self.admin,
            project_key="shop",
            env_key=env,
            new=NewSegment(key=key, name=key.upper()),
        )
        return segment

    def segment(self, key: str = "s") -> Segment:
        return copy.deepcopy(self.world.uow.store.segments["shop", "production", key])

    def patch(self, actor: Actor, patch: FlagPatch, key: str = "s", dry_run: bool = False) -> Segment:
        return segments.patch_segment(
            self.world.deps,
            actor=actor,
            project_key="shop",
            env_key="production",
            key=key,
            patch=patch,
            dry_run=dry_run,
        )

    def delete(self, actor: Actor, key: str = "s") -> None:
        segments.delete_segment(self.world.deps, actor=actor, project_key="shop", env_key="production", key=key)

    def env_id(self, env_key: str = "production") -> str:
        return next(e.id for e in self.world.uow.store.environments.values() if e.key == env_key)


def include(*keys: str) -> FlagPatch:
    return FlagPatch("semantic", [{"kind": "addIncludedUsers", "values": list(keys)}], "why")


def test_create(world: World) -> None:
    shop = Shop(world)
    segment = shop.segment()
    assert (segment.key, segment.name, segment.version, segment.included, segment.rules) == ("s", "S", 1, [], [])
    assert world.uow.store.audit[-1].accesses[0].action == "createSegment"
    with pytest.raises(Conflict):
        shop.create("s")
    assert shop.create("s", env="test").key == "s"  # keys are per environment
    with pytest.raises(NotFound):
        shop.create("x", env="nowhere")


def test_a_change_is_versioned_audited_and_published_after_commit(world: World) -> None:
    shop = Shop(world)
    writer = world.member(Role.WRITER)
    after = shop.patch(writer, include("alice"))
    assert (after.included, after.version, after.last_modified) == (["alice"], 2, world.clock.now)
    assert shop.segment() == after
    entry = world.uow.store.audit[-1]
    assert [(a.action, a.resource) for a in entry.accesses] == [
        ("updateIncluded", "proj/shop:env/production:segment/s")
    ]
    assert (entry.comment, entry.actor.member_id) == ("why", writer.member_id)
    assert entry.delta == {"instructions": [{"kind": "addIncludedUsers", "values": ["alice"]}]}
    assert entry.previous is not None and entry.current is not None
    assert (entry.previous["included"], entry.current["included"]) == ([], ["alice"])
    assert world.uow.broker.published == [SdkItemChanged(shop.env_id(), ItemKind.SEGMENT, "s", 2)]


def test_json_and_merge_patch(world: World) -> None:
    shop = Shop(world)
    json_patch = [{"op": "test", "path": "/version", "value": 1}, {"op": "add", "path": "/excluded/-", "value": "bob"}]
    assert shop.patch(shop.admin, FlagPatch("json", json_patch)).excluded == ["bob"]
    with pytest.raises(OptimisticLockError):
        shop.patch(shop.admin, FlagPatch("json", json_patch))
    merged = shop.patch(shop.admin, FlagPatch("merge", {"name": "Renamed"}))
    assert (merged.name, merged.version) == ("Renamed", 3)
    for path in ("/key", "/version", "/salt"):
        with pytest.raises(InvalidRequest):
            shop.patch(shop.admin, FlagPatch("json", [{"op": "replace", "path": path, "value": "x"}]))


def test_a_semantic_patch_is_all_or_nothing(world: World) -> None:
    shop = Shop(world)
    before = shop.segment()
    both = FlagPatch(
        "semantic", [{"kind": "addIncludedUsers", "values": ["a"]}, {"kind": "addExcludedUsers", "values": ["a"]}]
    )
    with pytest.raises(InstructionError) as info:
        shop.patch(shop.admin, both)
    assert (info.value.index, info.value.kind) == (1, "addExcludedUsers")
    assert (shop.segment(), world.uow.broker.published) == (before, [])


def test_a_dry_run_writes_nothing(world: World) -> None:
    shop = Shop(world)
    before, entries = shop.segment(), len(world.uow.store.audit)
    assert shop.patch(shop.admin, include("eve"), dry_run=True).included == ["eve"]
    assert (shop.segment(), len(world.uow.store.audit), world.uow.broker.published) == (before, entries, [])


def test_a_segment_used_by_a_flag_cannot_be_deleted(world: World) -> None:
    shop = Shop(world)
    flag, _ = flags.create_flag(world.deps, actor=shop.admin, project_key="shop", new=NewFlag(key="f", name="F"))
    clause = {"attribute": "segmentMatch", "op": "segmentMatch", "values": ["s"]}
    add = FlagPatch(
        "semantic",
        [{"kind": "addRule", "clauses": [clause], "variationId": flag.variations[0]["_id"]}],
        None,
        "production",
    )
    after, _ = flag_changes.update_flag(world.deps, actor=shop.admin, project_key="shop", key="f", patch=add)
    world.uow.broker.published.clear()
    entries = len(world.uow.store.audit)
    with pytest.raises(InvalidRequest, match="used by flags f"):
        shop.delete(shop.admin)
    assert (shop.segment().key, len(world.uow.store.audit), world.uow.broker.published) == ("s", entries, [])
    assert segments.get_segment(world.deps, actor=shop.admin, project_key="shop", env_key="production", key="s")[1] == [
        "f"
    ]
    remove = FlagPatch(
        "semantic",
        [{"kind": "removeRule", "ruleId": after.environments["production"]["rules"][0]["_id"]}],
        None,
        "production",
    )
    flag_changes.update_flag(world.deps, actor=shop.admin, project_key="shop", key="f", patch=remove)
    shop.delete(shop.admin)
    assert ("shop", "production", "s") not in world.uow.store.segments
    assert world.uow.store.audit[-1].accesses[0].action == "deleteSegment"
    assert world.uow.broker.published[-1] == SdkItemChanged(shop.env_id(), ItemKind.SEGMENT, "s", 2, deleted=True)


def test_a_segment_used_by_another_segment_cannot_be_deleted(world: World) -> None:
    shop = Shop(world)
    shop.create("outer")
    nested = {"attribute": "segmentMatch", "op": "segmentMatch", "values": ["s"], "negate": False}
    shop.patch(shop.admin, FlagPatch("semantic", [{"kind": "addRule", "clauses": [nested]}]), key="outer")
    with pytest.raises(InvalidRequest, match="used by segments outer"):
        shop.delete(shop.admin)


def test_a_recreated_segment_continues_its_versions(world: World) -> None:
    shop = Shop(world)
    shop.patch(shop.admin, include("a"))
    shop.delete(shop.admin)
    assert shop.create("s").version == 4  # deleted at 3: SDKs must see a newer version


def test_segment_approval_settings_gate_targeting_changes(world: World) -> None:
    shop = Shop(world)
    for env in world.uow.store.environments.values():
        if env.key == "production":
            env.segment_approval_settings = replace(env.segment_approval_settings, required=True)
    writer = world.member(Role.WRITER)
    with pytest.raises(Forbidden, match="approval is required"):
        shop.patch(writer, include("a"))
    assert shop.patch(writer, FlagPatch("semantic", [{"kind": "updateName", "value": "N"}])).name == "N"
    assert shop.patch(world.member(Role.ADMIN), include("a")).included == ["a"]


def test_readers_cannot_change_segments(world: World) -> None:
    shop = Shop(world)
    reader = world.member(Role.READER)
    with pytest.raises(Forbidden):
        shop.patch(reader, include("a"))
    with pytest.raises(Forbidden):
        shop.delete(reader)
    with pytest.raises(Forbidden):
        segments.create_segment(
            world.deps, actor=reader, project_key="shop", env_key="production", new=NewSegment("x", "X")
        )
