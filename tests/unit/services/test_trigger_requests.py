"""Setting a flag trigger up through an approval request, on the fakes: ``addTrigger`` creates it when
the approved request is applied (audited with the request's id, its secret shown to no one until the
requester cycles it); ``enableTrigger`` / ``replaceTriggerActionInstructions`` with ``operatingOnId``
change one; instructions are checked when the request is made, and the rights to set triggers up are
the requester's and the applier's."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain.accounts import Actor, Role
from flagward.domain.approvals import Status
from flagward.domain.audit import AuditAction
from flagward.domain.builtin_roles import actor_access
from flagward.domain.errors import ApprovalRequired, Forbidden, InstructionError, InvalidRequest
from flagward.domain.policy import Effect, Statement
from flagward.domain.triggers import TriggerLimits
from flagward.services import approvals, triggers
from flagward.services.approval_apply import ApprovalApplyFailed
from flagward.services.triggers import NewTrigger
from tests.unit.services.approvals_world import FLAG, PRODUCTION, PROJECT, Shop
from tests.unit.services.conftest import World

ON = [{"kind": "turnFlagOn"}]
ADD = {"kind": "addTrigger", "integrationKey": "datadog", "instructions": ON, "comment": "p99 alert"}
LIMITS = TriggerLimits(window_ms=10_000, per_address=100, per_trigger=100)


def _patch(shop: Shop, actor: Actor, trigger_id: str, *instructions: dict[str, Any]) -> triggers.TriggerEdit:
    return triggers.patch_trigger(
        shop.deps,
        actor=actor,
        project_key=PROJECT,
        flag_key=FLAG,
        env_key=PRODUCTION,
        trigger_id=trigger_id,
        instructions=list(instructions),
    )


def _admin_trigger(shop: Shop) -> triggers.Created:
    return triggers.create_trigger(
        shop.deps,
        actor=shop.admin,
        project_key=PROJECT,
        flag_key=FLAG,
        env_key=PRODUCTION,
        new=NewTrigger(integration_key="generic-trigger", instructions=ON),
    )


def _fire(shop: Shop, secret: str) -> triggers.Fired:
    return triggers.fire_trigger(shop.deps, secret=secret, address="192.0.2.1", limits=LIMITS)


def test_an_approved_add_trigger_creates_it_and_the_requester_cycles_its_url(world: World) -> None:
    shop = Shop(world, required=True)
    writer, reviewer = shop.member(), shop.member()
    request = shop.approve(shop.request(writer, ADD), reviewer)
    assert world.uow.store.triggers == {}  # nothing until it is applied
    approvals.apply(shop.deps, actor=writer, request_id=request.id)

    (trigger,) = world.uow.store.triggers.values()
    assert (trigger.environment_key, trigger.integration_key, trigger.instructions) == (PRODUCTION, "datadog", (ON[0],))
    assert (trigger.enabled, trigger.maintainer_id, trigger.comment) == (True, writer.member_id, "p99 alert")
    created = next(e for e in shop.audit() if AuditAction.CREATE_TRIGGER in [a.action for a in e.accesses])
    assert created.approval_request_id == request.id and created.actor.member_id == writer.member_id
    assert trigger.secret_hash not in str(created.current)

    # Nobody was shown the secret: cycling the URL (never gated) gives the requester a working one.
    cycled = _patch(shop, writer, trigger.id, {"kind": "cycleTriggerUrl"})
    assert cycled.secret is not None
    assert _fire(shop, cycled.secret).acted and shop.config()["on"] is True
    assert shop.audit()[-1].actor.token_name == f"flag trigger {trigger.id} (datadog)"


def test_an_approved_request_enables_a_disabled_trigger(world: World) -> None:
    shop = Shop(world, required=True)
    writer, reviewer = shop.member(), shop.member()
    created = _admin_trigger(shop)
    _patch(shop, writer, created.trigger.id, {"kind": "disableTrigger"})
    with pytest.raises(ApprovalRequired, match="operatingOnId"):
        _patch(shop, writer, created.trigger.id, {"kind": "enableTrigger"})
    with pytest.raises(InvalidRequest, match="operatingOnId is required"):
        shop.request(writer, {"kind": "enableTrigger"})

    request = shop.request(writer, {"kind": "enableTrigger"}, operating_on_id=created.trigger.id)
    approvals.apply(shop.deps, actor=writer, request_id=shop.approve(request, reviewer).id)
    stored = world.uow.store.triggers[created.trigger.id]
    assert stored.enabled and stored.version == 3
    assert shop.audit()[-2].approval_request_id == request.id  # the trigger's update, then the request's apply
    assert _fire(shop, created.secret).acted


def test_an_approved_request_replaces_an_enabled_triggers_action(world: World) -> None:
    shop = Shop(world, required=True)
    writer, reviewer = shop.member(), shop.member()
    created = _admin_trigger(shop)
    swap = {"kind": "replaceTriggerActionInstructions", "value": [{"kind": "turnFlagOff"}]}
    with pytest.raises(ApprovalRequired):
        _patch(shop, writer, created.trigger.id, swap)
    request = shop.request(writer, swap, operating_on_id=created.trigger.id)
    approvals.apply(shop.deps, actor=writer, request_id=shop.approve(request, reviewer).id)
    assert world.uow.store.triggers[created.trigger.id].instructions == ({"kind": "turnFlagOff"},)


@pytest.mark.parametrize(
    ("instructions", "operating_on", "named"),
    [
        ([{**ADD, "instructions": [{"kind": "updateFallthroughVariationOrRollout"}]}], None, "(addTrigger)"),
        ([{**ADD, "integrationKey": ""}], None, "(addTrigger)"),
        ([{**ADD, "secret": "mine"}], None, "(addTrigger)"),
        ([ADD, {"kind": "turnFlagOn"}], None, "(turnFlagOn)"),
        ([ADD], "0" * 24, "operatingOnId"),
        ([{"kind": "cycleTriggerUrl"}], "TRIGGER", "(cycleTriggerUrl)"),
        ([{"kind": "disableTrigger"}], "TRIGGER", "(disableTrigger)"),
        ([{"kind": "replaceTriggerActionInstructions", "value": "off"}], "TRIGGER", "replaceTriggerAction"),
        ([{"kind": "enableTrigger"}], "0" * 24, "unknown flag trigger"),
        ([{"kind": "enableTrigger"}], "TRIGGER", "would not change"),  # it is enabled already
    ],
)
def test_bad_trigger_instructions_are_refused_when_the_request_is_made(
    world: World, instructions: list[dict[str, Any]], operating_on: str | None, named: str
) -> None:
    shop = Shop(world, required=True)
    trigger_id = _admin_trigger(shop).trigger.id
    target = trigger_id if operating_on == "TRIGGER" else operating_on
    with pytest.raises(InvalidRequest) as refused:
        shop.request(shop.member(), *instructions, operating_on_id=target)
    assert named in refused.value.message
    if "(" in named:
        assert isinstance(refused.value, InstructionError)
    assert world.uow.store.approvals == {}


def _custom(world: World, *actions: str) -> Actor:
    member = world.member(Role.NO_ACCESS)
    statements = (
        Statement(Effect.ALLOW, resources=("proj/*",), actions=("viewProject",)),
        Statement(Effect.ALLOW, resources=("proj/*:env/*",), actions=("viewEnvironment",)),
        Statement(Effect.ALLOW, resources=("proj/*:env/*:flag/*",), actions=actions),
    )
    return Actor(
        kind=member.kind,
        role=Role.NO_ACCESS,
        member_id=member.member_id,
        member_email=member.member_email,
        access=actor_access(Role.NO_ACCESS, (statements,), member_id=member.member_id),
    )


def test_requester_and_applier_need_the_right_to_set_triggers_up(world: World) -> None:
    shop = Shop(world, required=True)
    requester = _custom(world, "createApprovalRequest")
    with pytest.raises(Forbidden, match="createTriggers"):
        shop.request(requester, ADD)

    writer, reviewer = shop.member(), shop.member()
    request = shop.approve(shop.request(writer, ADD), reviewer)
    applier = _custom(world, "applyApprovalRequest")
    with pytest.raises(Forbidden, match="createTriggers"):
        approvals.apply(shop.deps, actor=applier, request_id=request.id)
    assert shop.stored(request.id).status is Status.PENDING and world.uow.store.triggers == {}


def test_a_request_whose_trigger_was_deleted_fails(world: World) -> None:
    shop = Shop(world, required=True)
    writer, reviewer = shop.member(), shop.member()
    created = _admin_trigger(shop)
    _patch(shop, writer, created.trigger.id, {"kind": "disableTrigger"})
    request = shop.request(writer, {"kind": "enableTrigger"}, operating_on_id=created.trigger.id)
    shop.approve(request, reviewer)
    triggers.delete_trigger(
        shop.deps, actor=writer, project_key=PROJECT, flag_key=FLAG, env_key=PRODUCTION, trigger_id=created.trigger.id
    )
    with pytest.raises(ApprovalApplyFailed, match="unknown flag trigger"):
        approvals.apply(shop.deps, actor=writer, request_id=request.id)
    assert shop.stored(request.id).status is Status.FAILED
