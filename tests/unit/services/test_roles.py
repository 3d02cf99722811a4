"""Custom roles on the fakes: their use cases, and the policies members and tokens act with."""

from __future__ import annotations

import pytest

from flagward.domain.accounts import Role, Team
from flagward.domain.errors import Conflict, Forbidden, InvalidRequest, NotFound
from flagward.domain.policy import Effect, allows
from flagward.services import roles, teams
from flagward.services.ports import Page
from flagward.services.roles import NewRole, member_policies, token_policies
from flagward.services.tokens import NewToken, create_token
from tests.unit.services.conftest import World

PAYMENTS = [{"effect": "allow", "actions": ["update*"], "resources": ["proj/*:env/*:flag/*;payments"]}]
NOT_PROD = [{"effect": "deny", "actions": ["updateOn"], "resources": ["proj/*:env/production:flag/*"]}]


def test_a_role_is_created_patched_and_deleted_with_an_audit_entry_each(world: World) -> None:
    admin = world.member(Role.ADMIN)
    role = roles.create_role(world.deps, actor=admin, new=NewRole(key="payments", name="Payments", policy=PAYMENTS))
    patch = [{"op": "add", "path": "/policy/-", "value": NOT_PROD[0]}, {"op": "replace", "path": "/name", "value": "P"}]
    patched = roles.patch_role(world.deps, actor=admin, key=role.id, patch=patch, comment="why")
    assert patched.name == "P" and patched.version == 2 and patched.policy[1].effect is Effect.DENY
    roles.delete_role(world.deps, actor=admin, key="payments")
    with pytest.raises(NotFound):
        roles.get_role(world.deps, actor=admin, key="payments")
    actions = [[a.action for a in e.accesses] for e in world.uow.store.audit]
    assert actions == [["createRole"], ["updateName", "updatePolicy"], ["deleteRole"]]
    assert world.uow.store.audit[1].comment == "why"


def test_a_patch_that_changes_nothing_is_not_audited(world: World) -> None:
    admin = world.member(Role.ADMIN)
    roles.create_role(world.deps, actor=admin, new=NewRole(key="r", name="R", policy=PAYMENTS))
    roles.patch_role(world.deps, actor=admin, key="r", patch=[{"op": "replace", "path": "/name", "value": "R"}])
    assert len(world.uow.store.audit) == 1


@pytest.mark.parametrize(
    "new",
    [
        NewRole(key="bad key", name="x", policy=PAYMENTS),
        NewRole(key="k", name="", policy=PAYMENTS),
        NewRole(key="k", name="x", policy=[]),
        NewRole(key="k", name="x", policy=[{"effect": "allow", "resources": ["a/b:"], "actions": ["*"]}]),
        NewRole(key="k", name="x", policy=PAYMENTS, base_permissions="admin"),
    ],
)
def test_bad_roles_are_refused_and_nothing_is_written(world: World, new: NewRole) -> None:
    with pytest.raises(InvalidRequest):
        roles.create_role(world.deps, actor=world.member(Role.ADMIN), new=new)
    assert world.uow.store.roles == {} and world.uow.store.audit == []


def test_keys_are_unique_and_writers_cannot_manage_roles(world: World) -> None:
    admin, writer = world.member(Role.ADMIN), world.member(Role.WRITER)
    roles.create_role(world.deps, actor=admin, new=NewRole(key="r", name="R", policy=PAYMENTS))
    with pytest.raises(Conflict):
        roles.create_role(world.deps, actor=admin, new=NewRole(key="r", name="Again", policy=PAYMENTS))
    with pytest.raises(Forbidden):
        roles.create_role(world.deps, actor=writer, new=NewRole(key="w", name="W", policy=PAYMENTS))
    assert [r.key for r, _ in roles.list_roles(world.deps, actor=writer, page=Page())[0]] == ["r"]


def test_a_member_acts_with_its_roles_and_its_teams_roles(world: World) -> None:
    admin = world.member(Role.ADMIN)
    reader = world.member(Role.READER)
    assert reader.member_id is not None
    own = roles.create_role(world.deps, actor=admin, new=NewRole(key="own", name="Own", policy=PAYMENTS))
    roles.create_role(world.deps, actor=admin, new=NewRole(key="team", name="Team", policy=NOT_PROD))
    world.uow.store.members[reader.member_id].custom_role_ids = [own.id]
    teams.create_team(
        world.deps,
        actor=admin,
        new=teams.NewTeam(key="ops", name="Ops", member_ids=[reader.member_id], custom_role_keys=["team", "own"]),
    )
    with world.uow() as uow:
        member = uow.members.get(reader.member_id)
        assert member is not None
        policies = member_policies(uow, member)
    assert len(policies) == 2  # each role once, however many ways it is held
    statements = tuple(s for p in policies for s in p)
    flag = "proj/shop:env/production:flag/pay;payments"
    assert allows(statements, "updateRules", flag) and not allows(statements, "updateOn", flag)


def test_a_tokens_roles_replace_its_base_role_and_unknown_ones_are_refused(world: World) -> None:
    admin = world.member(Role.ADMIN)
    role = roles.create_role(world.deps, actor=admin, new=NewRole(key="r", name="R", policy=PAYMENTS))
    token, _ = create_token(world.deps, actor=admin, new=NewToken(custom_role_ids=("r",)))
    assert token.custom_role_ids == [role.id]
    inline, _ = create_token(world.deps, actor=admin, new=NewToken(inline_role=tuple(NOT_PROD)))
    plain, _ = create_token(world.deps, actor=admin, new=NewToken())
    with world.uow() as uow:
        assert token_policies(uow, token) == (role.policy,)
        assert inline.inline_role is not None and token_policies(uow, inline) == (inline.inline_role,)
        assert token_policies(uow, plain) is None
    with pytest.raises(InvalidRequest, match="nope"):
        create_token(world.deps, actor=admin, new=NewToken(custom_role_ids=("nope",)))
    with pytest.raises(InvalidRequest, match="not both"):
        create_token(world.deps, actor=admin, new=NewToken(custom_role_ids=("r",), inline_role=tuple(NOT_PROD)))


def test_deleting_a_role_leaves_a_token_that_named_it_with_nothing(world: World) -> None:
    admin = world.member(Role.ADMIN)
    roles.create_role(world.deps, actor=admin, new=NewRole(key="r", name="R", policy=PAYMENTS))
    token, _ = create_token(world.deps, actor=admin, new=NewToken(custom_role_ids=("r",)))
    world.uow.store.teams["t"] = Team(id="t" * 24, key="t", name="T", creation_date=0, last_modified=0)
    world.uow.store.teams["t"].custom_role_keys = ["r"]
    roles.delete_role(world.deps, actor=admin, key="r")
    assert world.uow.store.teams["t"].custom_role_keys == []
    with world.uow() as uow:
        assert token_policies(uow, token) == ()  # refused everything, never widened to its base role
