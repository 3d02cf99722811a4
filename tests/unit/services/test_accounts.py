from __future__ import annotations

import pytest

from flagward.domain.accounts import ActorKind, Role, hash_token
from flagward.domain.errors import Forbidden, InvalidRequest, RateLimited, Unauthorized
from flagward.domain.rate_limits import SignInLimits
from flagward.services import auth, members, tokens
from flagward.services.members import NewMember
from flagward.services.tokens import NewToken
from tests.unit.services.conftest import World


def test_nobody_can_demote_or_delete_the_last_owner(world: World) -> None:
    owner = world.member(Role.OWNER)
    assert owner.member_id is not None
    with pytest.raises(InvalidRequest, match="last owner"):
        members.patch_member(
            world.deps,
            actor=owner,
            member_id=owner.member_id,
            patch=[{"op": "replace", "path": "/role", "value": "admin"}],
        )
    with pytest.raises(InvalidRequest, match="last owner"):
        members.delete_member(world.deps, actor=owner, member_id=owner.member_id)
    assert world.uow.store.members[owner.member_id].role is Role.OWNER


def test_an_admin_cannot_grant_owner(world: World) -> None:
    admin = world.member(Role.ADMIN)
    with pytest.raises(Forbidden):
        members.create_members(world.deps, actor=admin, new=[NewMember(email="x@example.com", role=Role.OWNER)])


def test_token_secret_is_only_returned_once_and_stored_hashed(world: World) -> None:
    writer = world.member(Role.WRITER)
    token, secret = tokens.create_token(world.deps, actor=writer, new=NewToken(name="ci", role=Role.WRITER))
    stored = world.uow.store.tokens[token.id]
    assert stored.token_hash == hash_token(secret) and secret not in repr(stored)
    assert stored.last4 == secret[-4:]


def test_a_token_never_has_a_role_above_its_creator(world: World) -> None:
    writer = world.member(Role.WRITER)
    with pytest.raises(Forbidden):
        tokens.create_token(world.deps, actor=writer, new=NewToken(role=Role.ADMIN))
    with pytest.raises(Forbidden):
        tokens.create_token(world.deps, actor=writer, new=NewToken(role=Role.READER, service_token=True))


def test_personal_token_acts_with_the_weaker_of_token_and_member_role(world: World) -> None:
    admin = world.member(Role.ADMIN)
    _, secret = tokens.create_token(world.deps, actor=admin, new=NewToken(role=Role.ADMIN))
    assert admin.member_id is not None
    world.uow.store.members[admin.member_id].role = Role.READER
    actor = auth.authenticate_token(world.deps, secret)
    assert actor.kind is ActorKind.PERSONAL_TOKEN and actor.role is Role.READER
    assert auth.authenticate_token(world.deps, f"Bearer {secret}").member_id == admin.member_id
    with pytest.raises(Unauthorized):
        auth.authenticate_token(world.deps, "sdk-not-a-token")


def test_login_checks_password_and_is_rate_limited(world: World) -> None:
    admin = world.member(Role.ADMIN)
    members.create_members(world.deps, actor=admin, new=[NewMember(email="ann@example.com", password="correct horse")])
    throttle = SignInLimits(per_account_and_address=3)
    signed = auth.login(world.deps, throttle, email="ann@example.com", password="correct horse", address="1.2.3.4")
    assert auth.authenticate_session(world.deps, signed.session_secret).member_email == "ann@example.com"
    for _ in range(3):
        with pytest.raises(Unauthorized):
            auth.login(world.deps, throttle, email="ann@example.com", password="wrong", address="1.2.3.4")
    with pytest.raises(RateLimited):
        auth.login(world.deps, throttle, email="ann@example.com", password="correct horse", address="1.2.3.4")


def test_first_start_creates_owner_and_admin_token_once(world: World) -> None:
    first = auth.ensure_owner_and_admin_token(world.deps, owner_email="boss@example.com", admin_token=None)
    assert first is not None and first.admin_token_secret is not None
    assert auth.authenticate_token(world.deps, first.admin_token_secret).role is Role.ADMIN
    assert auth.ensure_owner_and_admin_token(world.deps, owner_email="boss@example.com", admin_token=None) is None


def test_configured_admin_token_is_ensured_and_never_returned(world: World) -> None:
    first = auth.ensure_owner_and_admin_token(world.deps, owner_email="o@example.com", admin_token="api-fixed-secret")
    assert first is not None and first.admin_token_secret is None
    assert auth.authenticate_token(world.deps, "api-fixed-secret").role is Role.ADMIN


def test_set_password_lets_the_owner_sign_in_and_ends_old_sessions(world: World) -> None:
    from flagward.domain.accounts import SYSTEM_ACTOR

    owner = world.member(Role.OWNER, email="boss@example.com")
    members.set_password(world.deps, actor=SYSTEM_ACTOR, email="boss@example.com", password="a long secret")
    throttle = SignInLimits()
    first = auth.login(world.deps, throttle, email="boss@example.com", password="a long secret", address="x")
    assert auth.authenticate_session(world.deps, first.session_secret).role is Role.OWNER
    members.set_password(world.deps, actor=SYSTEM_ACTOR, email="boss@example.com", password="another secret")
    with pytest.raises(Unauthorized):
        auth.authenticate_session(world.deps, first.session_secret)
    assert owner.member_id is not None
