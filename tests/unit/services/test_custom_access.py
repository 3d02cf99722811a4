"""The services decide with the actor's effective access: custom policies beside the built-in role, a
token bounded by its member, environments left out of what an actor may not view."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flagward.domain.access import Policy
from flagward.domain.accounts import AccessToken, Actor, ActorKind, Member, Role
from flagward.domain.builtin_roles import actor_access
from flagward.domain.errors import ApprovalRequired, Forbidden
from flagward.domain.policy import Effect, Statement
from flagward.services import copy as copy_service
from flagward.services import environments, flag_changes, flags
from flagward.services.auth import token_actor
from flagward.services.copy import CopyEnd
from flagward.services.flag_changes import FlagPatch
from flagward.services.flags import NewFlag
from flagward.services.ports import Page
from tests.unit.services.conftest import World
from tests.unit.services.test_flag_changes import Shop, on


def allow(resources: tuple[str, ...], actions: tuple[str, ...]) -> Statement:
    return Statement(Effect.ALLOW, resources=resources, actions=actions)


def with_roles(world: World, role: Role, *policies: Policy) -> Actor:
    actor = world.member(role)
    return Actor(
        kind=actor.kind,
        role=role,
        member_id=actor.member_id,
        member_email=actor.member_email,
        access=actor_access(role, policies, member_id=actor.member_id),
    )


CONTRACTOR = (allow(("proj/*",), ("viewProject",)), allow(("proj/*:env/test",), ("viewEnvironment",)))
PAYMENTS = (allow(("proj/*:env/*:flag/*;payments",), ("*",)),)
SRE = (allow(("proj/*:env/production:flag/*",), ("bypassRequiredApproval",)),)


def test_a_contractor_reads_test_only(world: World) -> None:
    shop = Shop(world)
    contractor = with_roles(world, Role.NO_ACCESS, CONTRACTOR)
    flag, _ = flags.get_flag(world.deps, actor=contractor, project_key="shop", key="f")
    assert list(flag.environments) == ["test"]
    shown, total = environments.list_environments(world.deps, actor=contractor, project_key="shop", page=Page())
    assert [e.key for e in shown] == ["test"] and total == 1
    with pytest.raises(Forbidden, match="viewEnvironment"):
        environments.get_environment(world.deps, actor=contractor, project_key="shop", key="production")
    with pytest.raises(Forbidden, match="updateOn"):
        shop.patch(contractor, on("test"))


def test_the_payments_team_changes_payments_flags_only(world: World) -> None:
    shop = Shop(world, tags=("payments",))
    admin = world.member(Role.ADMIN)
    flags.create_flag(world.deps, actor=admin, project_key="shop", new=NewFlag(key="other", name="Other"))
    payments = with_roles(world, Role.READER, PAYMENTS)
    assert shop.patch(payments, on("production")).environments["production"]["on"] is True
    with pytest.raises(Forbidden):
        flags_patch(world, payments, "other", on("production"))
    tag_it = FlagPatch("semantic", [{"kind": "addTags", "values": ["payments"]}])
    with pytest.raises(Forbidden, match="updateTags"):
        flags_patch(world, payments, "other", tag_it)  # tagging it payments would hand it over


def flags_patch(world: World, actor: Actor, key: str, patch: FlagPatch) -> None:
    flag_changes.update_flag(world.deps, actor=actor, project_key="shop", key=key, patch=patch)


def test_only_the_sre_role_bypasses_approvals_in_production(world: World) -> None:
    shop = Shop(world)
    shop.require_approval("production", required=True)
    shop.require_approval("test", required=True)
    writer = world.member(Role.WRITER)
    sre = with_roles(world, Role.WRITER, SRE)
    with pytest.raises(ApprovalRequired):
        shop.patch(writer, on("production"))
    assert shop.patch(sre, on("production")).environments["production"]["on"] is True
    with pytest.raises(ApprovalRequired):
        shop.patch(sre, on("test"))


@pytest.mark.parametrize(("token_role", "member_role"), [(Role.WRITER, Role.READER), (Role.READER, Role.WRITER)])
def test_a_token_never_has_more_than_its_member(world: World, token_role: Role, member_role: Role) -> None:
    shop = Shop(world)
    member = Member(id="d" * 24, email="m@example.com", role=member_role, creation_date=0)
    token = AccessToken(
        id="e" * 24,
        owner_id=member.id,
        member_id=member.id,
        name="t",
        role=token_role,
        service_token=False,
        token_hash="x",
        last4="abcd",
        creation_date=0,
        last_modified=0,
    )
    actor = token_actor(token, member)
    assert actor.kind is ActorKind.PERSONAL_TOKEN
    with pytest.raises(Forbidden):
        shop.patch(actor, on("test"))
    # A token with custom roles acts with them alone, and never above its member either.
    everything_on_flags = (allow(("proj/*",), ("viewProject",)), allow(("proj/*:env/*:flag/*",), ("*",)))
    lifted = token_actor(token, member, token_policies=(everything_on_flags,))
    if member_role is Role.READER:
        with pytest.raises(Forbidden):
            shop.patch(lifted, on("test"))
    else:
        assert shop.patch(lifted, on("test")).environments["test"]["on"] is True


def test_a_copy_needs_copy_from_the_source_and_copy_to_the_target(world: World) -> None:
    Shop(world)
    copier = with_roles(
        world,
        Role.READER,
        (allow(("proj/*:env/test:flag/*",), ("copyFlagConfigFrom",)),),
        (allow(("proj/*:env/production:flag/*",), ("copyFlagConfigTo",)),),
    )
    backwards = with_roles(world, Role.READER, (allow(("proj/*:env/*:flag/*",), ("copyFlagConfigFrom",)),))

    def run(actor: Actor) -> None:
        copy_service.copy_flag_config(
            world.deps,
            actor=actor,
            project_key="shop",
            key="f",
            source=CopyEnd(key="test"),
            target=CopyEnd(key="production"),
        )

    run(copier)
    with pytest.raises(Forbidden, match="copyFlagConfigTo"):
        run(backwards)


def test_a_service_tokens_custom_roles_are_bounded_by_its_creator_then_by_its_role() -> None:
    creator = Member(id="f" * 24, email="c@example.com", role=Role.READER, creation_date=0)
    token = AccessToken(
        id="a" * 24,
        owner_id=creator.id,
        member_id=None,
        name="svc",
        role=Role.READER,
        service_token=True,
        token_hash="x",
        last4="abcd",
        creation_date=0,
        last_modified=0,
    )
    flag = "proj/shop:env/test:flag/checkout;payments"
    everything_on_flags = (allow(("proj/*:env/*:flag/*",), ("*",)),)
    bounded = token_actor(token, None, token_policies=(everything_on_flags,), creator=creator)
    assert bounded.access is not None and not bounded.access.permits("updateOn", flag)  # a reader creator
    lifted = token_actor(
        token, None, token_policies=(everything_on_flags,), member_policies=(PAYMENTS,), creator=creator
    )
    assert lifted.access is not None and lifted.access.permits("updateOn", flag)  # the creator's roles now allow it
    orphan = token_actor(token, None, token_policies=(everything_on_flags,))
    assert orphan.access is not None and not orphan.access.permits("updateOn", flag)  # bounded by its reader role
    assert orphan.access.permits("viewProject", "proj/shop") is False  # and its own roles grant no view
    plain = token_actor(replace(token, role=Role.WRITER), None)
    assert plain.access is not None and plain.access.permits("updateOn", flag)  # a built-in role: as itself
