"""``services.copy`` on the fakes: what is copied, versions on the target only, optimistic locking, the
approval gate on the target, segments missing in the target, the audit entry and the SDK event."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from flagward.domain.accounts import Actor, Role
from flagward.domain.copy import CopyAction
from flagward.domain.errors import ApprovalRequired, Forbidden, InvalidRequest, NotFound, OptimisticLockError
from flagward.domain.events import ItemKind, SdkItemChanged
from flagward.domain.flags import Flag
from flagward.services import copy as copy_service
from flagward.services import flag_changes, flags, projects, segments
from flagward.services.copy import CopyEnd
from flagward.services.flag_changes import FlagPatch
from flagward.services.flags import NewFlag
from flagward.services.projects import NewProject
from flagward.services.segments import NewSegment
from tests.unit.services.conftest import World

PRODUCTION, TEST = CopyEnd("production"), CopyEnd("test")


class Shop:
    """Flag ``f`` (variations a, b, c) whose production configuration differs from test's."""

    def __init__(self, world: World, *, segment_in: tuple[str, ...] = ()) -> None:
        self.world = world
        self.admin = world.member(Role.ADMIN)
        deps = world.deps
        projects.create_project(deps, actor=self.admin, new=NewProject(key="shop", name="Shop"))
        for env in segment_in:
            segments.create_segment(
                deps, actor=self.admin, project_key="shop", env_key=env, new=NewSegment(key="vip", name="VIP")
            )
        variations = [{"value": v} for v in ("a", "b", "c")]
        flag, _ = flags.create_flag(
            deps, actor=self.admin, project_key="shop", new=NewFlag(key="f", name="F", variations=variations)
        )
        a, b, c = (v["_id"] for v in flag.variations)
        clauses = [{"attribute": "country", "op": "in", "values": ["SE"]}]
        if segment_in:
            clauses.append({"attribute": "segmentMatch", "op": "segmentMatch", "values": ["vip"]})
        instructions = [
            {"kind": "turnFlagOn"},
            {"kind": "addTargets", "values": ["u1"], "variationId": b},
            {"kind": "addRule", "clauses": clauses, "variationId": c},
            {"kind": "updateFallthroughVariationOrRollout", "variationId": b},
            {"kind": "updateOffVariation", "variationId": a},
        ]
        patch = FlagPatch("semantic", instructions, None, "production")
        flag_changes.update_flag(deps, actor=self.admin, project_key="shop", key="f", patch=patch)
        world.clock.advance(1000)
        world.uow.broker.published.clear()

    @property
    def flag(self) -> Flag:
        return copy.deepcopy(self.world.uow.store.flags["shop", "f"])

    def copy(self, actor: Actor, source: CopyEnd = PRODUCTION, target: CopyEnd = TEST, **options: object) -> Flag:
        flag, _ = copy_service.copy_flag_config(
            self.world.deps,
            actor=actor,
            project_key="shop",
            key="f",
            source=source,
            target=target,
            **options,  # type: ignore[arg-type]
        )
        return flag

    def env_id(self, env_key: str) -> str:
        return next(e.id for e in self.world.uow.store.environments.values() if e.key == env_key)


def _copied(config: dict[str, object]) -> dict[str, object]:
    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "_id"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return {k: strip(config[k]) for k in ("on", "targets", "contextTargets", "rules", "fallthrough", "offVariation")}


def test_copy_everything_versions_the_target_only(world: World) -> None:
    shop = Shop(world)
    before = shop.flag
    after = shop.copy(shop.admin, comment="promote")
    assert _copied(after.environments["test"]) == _copied(after.environments["production"])  # type: ignore[arg-type]
    assert after.environments["production"] == before.environments["production"]
    assert after.environments["test"]["version"] == before.environments["test"]["version"] + 1
    assert after.environments["test"]["lastModified"] == world.clock.now
    assert after.version == before.version + 1 and shop.flag == after


def test_the_audit_entry_and_the_event(world: World) -> None:
    shop = Shop(world)
    after = shop.copy(shop.admin, comment="promote")
    entry = world.uow.store.audit[-1]
    actions = [a.action for a in entry.accesses]
    assert actions[0] == "copyFlagConfigTo"
    assert set(actions[1:]) == {"updateOn", "updateTargets", "updateRules", "updateFallthrough", "updateOffVariation"}
    assert {a.resource for a in entry.accesses} == {"proj/shop:env/test:flag/f"}
    assert entry.comment == "promote"
    assert entry.delta == {"source": {"key": "production"}, "target": {"key": "test"}}
    assert world.uow.broker.published == [
        SdkItemChanged(shop.env_id("test"), ItemKind.FLAG, "f", after.environments["test"]["version"])
    ]


def test_included_and_excluded_actions(world: World) -> None:
    shop = Shop(world)
    before = shop.flag.environments["test"]
    only_on = shop.copy(shop.admin, included=[CopyAction.UPDATE_ON]).environments["test"]
    assert only_on["on"] is True and (only_on["rules"], only_on["targets"]) == (before["rules"], before["targets"])
    rest = shop.copy(shop.admin, excluded=[CopyAction.UPDATE_RULES]).environments["test"]
    assert rest["rules"] == [] and rest["offVariation"] == 0 and rest["targets"] != []
    with pytest.raises(InvalidRequest, match="both"):
        shop.copy(shop.admin, included=[CopyAction.UPDATE_ON], excluded=[CopyAction.UPDATE_RULES])


@pytest.mark.parametrize("side", ["source", "target"])
def test_a_stale_version_on_either_side_is_refused(world: World, side: str) -> None:
    shop = Shop(world)
    before = shop.flag
    env = "production" if side == "source" else "test"
    stale = CopyEnd(env, before.environments[env]["version"] - 1)
    ends = {"source": PRODUCTION, "target": TEST, side: stale}
    with pytest.raises(OptimisticLockError):
        shop.copy(shop.admin, **ends)
    assert (shop.flag, world.uow.broker.published) == (before, [])
    current = CopyEnd(env, before.environments[env]["version"])
    assert shop.copy(shop.admin, **{**ends, side: current}).environments["test"]["on"] is True


@pytest.mark.parametrize("role", [Role.WRITER, Role.ADMIN, Role.OWNER])
def test_the_gate_applies_to_the_target(world: World, role: Role) -> None:
    shop = Shop(world)
    for env in world.uow.store.environments.values():
        if env.key == "test":
            env.approval_settings = replace(env.approval_settings, required=True)
    actor = world.member(role)
    before = shop.flag
    if role is Role.WRITER:
        with pytest.raises(ApprovalRequired, match="Flag configuration updates require approval"):
            shop.copy(actor)
        assert (shop.flag, world.uow.broker.published) == (before, [])
        # The gated environment may still be the source.
        assert shop.copy(actor, source=TEST, target=PRODUCTION).environments["production"]["on"] is False
    else:
        assert shop.copy(actor).environments["test"]["on"] is True


def test_rules_with_a_segment_missing_in_the_target_fail_naming_it(world: World) -> None:
    shop = Shop(world, segment_in=("production",))
    before = shop.flag
    with pytest.raises(InvalidRequest, match="segment 'vip' does not exist in environment 'test'"):
        shop.copy(shop.admin)
    assert shop.flag == before
    assert shop.copy(shop.admin, excluded=[CopyAction.UPDATE_RULES]).environments["test"]["rules"] == []


def test_a_segment_in_both_environments_copies(world: World) -> None:
    shop = Shop(world, segment_in=("production", "test"))
    rules = shop.copy(shop.admin).environments["test"]["rules"]
    assert rules[0]["clauses"][1]["values"] == ["vip"]


def test_an_identical_configuration_is_a_no_op(world: World) -> None:
    shop = Shop(world)
    shop.copy(shop.admin)
    before, entries = shop.flag, len(world.uow.store.audit)
    world.uow.broker.published.clear()
    assert shop.copy(shop.admin) == before
    assert (shop.flag, len(world.uow.store.audit), world.uow.broker.published) == (before, entries, [])


def test_refusals(world: World) -> None:
    shop = Shop(world)
    with pytest.raises(Forbidden):
        shop.copy(world.member(Role.READER))
    with pytest.raises(InvalidRequest, match="different"):
        shop.copy(shop.admin, target=PRODUCTION)
    with pytest.raises(NotFound):
        shop.copy(shop.admin, target=CopyEnd("nowhere"))
