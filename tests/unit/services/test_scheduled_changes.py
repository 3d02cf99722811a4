"""Scheduled changes on fakes: how a change executes where approval is required (its creation's
approval, or the bypass of whoever made it there, is its approval; otherwise the scheduler bypasses
nothing), failures recorded with their reason, and expiring targets removed at their date."""

from __future__ import annotations

import pytest

from flagward.domain.accounts import Role
from flagward.domain.errors import ApprovalRequired
from flagward.domain.scheduled_changes import ScheduleStatus
from flagward.services import approvals, expiring_targets, flags, scheduled_change_runs, scheduled_changes, segments
from flagward.services.flag_changes import FlagPatch
from tests.unit.services.approvals_world import FLAG, PRODUCTION, PROJECT, SEGMENT, Shop
from tests.unit.services.conftest import World

HOUR = 3_600_000
ON = {"kind": "turnFlagOn"}


def _schedule(shop: Shop, actor: object, env: str, *instructions: dict[str, object]) -> str:
    view = scheduled_changes.create_change(
        shop.deps,
        actor=actor,  # type: ignore[arg-type]
        project_key=PROJECT,
        flag_key=FLAG,
        env_key=env,
        execution_date=shop.world.clock.now + HOUR,
        instructions=list(instructions),
    )
    return view.change.id


def test_a_writer_cannot_schedule_where_approval_is_required_and_an_admin_can(world: World) -> None:
    shop = Shop(world, required=True)
    with pytest.raises(ApprovalRequired, match="updateScheduledChanges"):
        _schedule(shop, shop.member(), PRODUCTION, ON)
    change_id = _schedule(shop, shop.admin, PRODUCTION, ON)
    assert world.uow.store.scheduled_changes[change_id].approved  # the admin's bypass stands for approval
    world.clock.advance(HOUR)
    assert scheduled_change_runs.run_due(shop.deps) == [change_id]
    assert shop.config()["on"] is True
    assert world.uow.store.scheduled_changes[change_id].status is ScheduleStatus.COMPLETED
    assert scheduled_change_runs.run_due(shop.deps) == []  # once


def test_a_change_made_before_approval_was_required_fails_at_its_date(world: World) -> None:
    shop = Shop(world)
    change_id = _schedule(shop, shop.member(), PRODUCTION, ON)
    shop.settings(required=True)
    world.clock.advance(HOUR)
    assert scheduled_change_runs.run_due(shop.deps) == [change_id]
    stored = world.uow.store.scheduled_changes[change_id]
    assert stored.status is ScheduleStatus.FAILED and "require approval" in str(stored.failure_reason)
    assert shop.config()["on"] is False
    assert "failed to execute" in shop.audit()[-1].title_verb


def test_a_change_created_through_an_approved_request_executes_with_that_approval(world: World) -> None:
    shop = Shop(world, required=True)
    writer, reviewer = shop.member(), shop.member()
    add = {"kind": "addScheduledChanges", "executionDate": world.clock.now + HOUR, "value": [ON]}
    request = shop.approve(shop.request(writer, add), reviewer)
    approvals.apply(shop.deps, actor=writer, request_id=request.id)
    [change] = world.uow.store.scheduled_changes.values()
    assert (change.approved, change.approval_request_id, change.maintainer_id) == (True, request.id, writer.member_id)
    assert shop.config()["on"] is False
    world.clock.advance(HOUR)
    scheduled_change_runs.run_due(shop.deps)
    assert shop.config()["on"] is True
    assert shop.audit()[-1].approval_request_id == request.id


def test_replacing_the_instructions_directly_drops_the_approval_but_rescheduling_keeps_it(world: World) -> None:
    shop = Shop(world, required=True)
    change_id = _schedule(shop, shop.admin, PRODUCTION, ON)
    shop.settings(required=False)  # a writer may now edit it directly
    edit = {"kind": "updateScheduledChangesExecutionDate", "value": world.clock.now + 2 * HOUR}
    scheduled_changes.update_change(
        shop.deps, actor=shop.member(), project_key=PROJECT, flag_key=FLAG, env_key=PRODUCTION, change_id=change_id,
        instructions=[edit],
    )  # fmt: skip
    assert world.uow.store.scheduled_changes[change_id].approved
    replace = {"kind": "replaceScheduledChangesInstructions", "value": [{"kind": "turnFlagOff"}]}
    scheduled_changes.update_change(
        shop.deps, actor=shop.member(), project_key=PROJECT, flag_key=FLAG, env_key=PRODUCTION, change_id=change_id,
        instructions=[replace],
    )  # fmt: skip
    assert not world.uow.store.scheduled_changes[change_id].approved


def test_an_expiring_target_is_removed_once_at_its_date(world: World) -> None:
    shop = Shop(world, required=True)
    true_id = shop.variation_id(0)
    shop.change(shop.admin, {"kind": "addTargets", "variationId": true_id, "values": ["alice"]}, env=PRODUCTION)
    add = {"kind": "addExpiringTarget", "value": world.clock.now + HOUR, "variationId": true_id, "contextKey": "alice"}
    with pytest.raises(ApprovalRequired):
        expiring_targets.patch_expiring(
            shop.deps, actor=shop.member(), kind="flag", project_key=PROJECT, key=FLAG, env_key=PRODUCTION,
            instructions=[add],
        )  # fmt: skip
    result = expiring_targets.patch_expiring(
        shop.deps, actor=shop.admin, kind="flag", project_key=PROJECT, key=FLAG, env_key=PRODUCTION,
        instructions=[add],
    )  # fmt: skip
    assert result.errors == [] and result.items[0].approved
    assert expiring_targets.run_due(shop.deps) == []  # not yet
    world.clock.advance(HOUR)
    assert expiring_targets.run_due(shop.deps) == [result.items[0].id]
    assert shop.config()["targets"] == []
    assert world.uow.store.expiring_targets == {}
    assert expiring_targets.run_due(shop.deps) == []
    assert world.uow.broker.published  # SDKs are told


def test_a_writer_may_not_bypass_with_a_service_role(world: World) -> None:
    shop = Shop(world, required=True)
    with pytest.raises(ApprovalRequired):
        _schedule(shop, shop.member(Role.WRITER), PRODUCTION, ON)


def test_deleting_the_flag_drops_its_pending_changes_and_expiries(world: World) -> None:
    shop = Shop(world)
    true_id = shop.variation_id(0)
    _schedule(shop, shop.admin, PRODUCTION, ON)
    shop.change(shop.admin, {"kind": "addTargets", "variationId": true_id, "values": ["alice"]}, env=PRODUCTION)
    add = {"kind": "addExpiringTarget", "value": world.clock.now + HOUR, "variationId": true_id, "contextKey": "alice"}
    expiring_targets.patch_expiring(
        shop.deps, actor=shop.admin, kind="flag", project_key=PROJECT, key=FLAG, env_key=PRODUCTION, instructions=[add]
    )
    flags.delete_flag(shop.deps, actor=shop.admin, project_key=PROJECT, key=FLAG)
    assert world.uow.store.scheduled_changes == {} and world.uow.store.expiring_targets == {}


def test_a_segment_inclusion_expires_and_an_unapproved_one_fails_where_approval_became_required(world: World) -> None:
    shop = Shop(world)
    for env in (PRODUCTION, "staging"):
        segments.patch_segment(
            shop.deps,
            actor=shop.admin,
            project_key=PROJECT,
            env_key=env,
            key=SEGMENT,
            patch=FlagPatch("semantic", [{"kind": "addIncludedTargets", "contextKind": "user", "values": ["carol"]}]),
        )
    add = {
        "kind": "addExpiringTarget",
        "targetType": "included",
        "contextKey": "carol",
        "value": world.clock.now + HOUR,
    }
    ids = {
        env: expiring_targets.patch_expiring(
            shop.deps, actor=shop.member(), kind="segment", project_key=PROJECT, key=SEGMENT, env_key=env,
            instructions=[add],
        ).items[0].id
        for env in (PRODUCTION, "staging")
    }  # fmt: skip
    shop.settings(PRODUCTION, segment=True, required=True)
    world.clock.advance(HOUR)
    assert sorted(expiring_targets.run_due(shop.deps)) == sorted(ids.values())
    store = world.uow.store
    assert store.segments[PROJECT, "staging", SEGMENT].included == []
    assert store.segments[PROJECT, PRODUCTION, SEGMENT].included == ["carol"]
    failed = store.expiring_targets[ids[PRODUCTION]]
    assert failed.failure_reason == "approval is required"
    assert expiring_targets.run_due(shop.deps) == []  # a failed one is not retried
