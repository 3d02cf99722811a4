"""Custom roles and their assignments, on the fakes and on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flagward.domain.accounts import AccessToken, Member, Role, Team
from flagward.domain.policy import parse_statements
from flagward.domain.roles import CustomRole, RoleHolders
from flagward.services.ports import Page
from flagward.services.roles import member_policies, token_policies
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.fakes import FakeUnitOfWorkFactory, RecordingBroker
from tests.support.databases import database_url

NOW = 1_700_000_000_000
PAYMENTS = parse_statements(
    [{"effect": "allow", "actions": ["*"], "resources": ["proj/*:env/*:flag/*;payments"]}], field="policy"
)
READ_STAGING = parse_statements(
    [{"effect": "allow", "actions": ["view*"], "resources": ["proj/*:env/staging"]}], field="policy"
)


@pytest.fixture(params=["fake", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "fake":
        yield FakeUnitOfWorkFactory()
        return
    with database_url(request.param, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield SqlUnitOfWorkFactory(engine, RecordingBroker())
        finally:
            engine.dispose()


def _role(key: str, policy: Any = PAYMENTS, n: int = 1) -> CustomRole:
    return CustomRole(id=f"{n:024x}", key=key, name=key.title(), policy=policy, creation_date=NOW, last_modified=NOW)


def _seed(factory: Any) -> None:
    with factory() as uow:
        uow.roles.add(_role("payments", PAYMENTS, 1))
        uow.roles.add(_role("staging-reader", READ_STAGING, 2))
        uow.members.add(Member(id="m" * 24, email="ann@example.com", role=Role.READER, creation_date=NOW))
        uow.members.add(Member(id="n" * 24, email="bob@example.com", role=Role.READER, creation_date=NOW))
        uow.teams.add(Team(id="t" * 24, key="ops", name="Ops", creation_date=NOW, last_modified=NOW))
        uow.commit()


def test_roles_round_trip_by_key_or_id_in_key_order(factory: Any) -> None:
    _seed(factory)
    with factory(write=False) as uow:
        by_key = uow.roles.get("payments")
        assert by_key is not None and by_key.policy == PAYMENTS
        assert uow.roles.get(f"{1:024x}") == by_key
        assert uow.roles.get("nope") is None
        roles, total = uow.roles.find(Page(limit=1, offset=1))
        assert total == 2 and [r.key for r in roles] == ["staging-reader"]
        assert set(uow.roles.resolve(["payments", f"{2:024x}", "nope"])) == {"payments", f"{2:024x}"}


def test_assignments_to_members_and_teams_are_kept_and_counted(factory: Any) -> None:
    _seed(factory)
    with factory() as uow:
        member = uow.members.get("m" * 24)
        member.custom_role_ids = [f"{1:024x}"]
        uow.members.update(member)
        team = uow.teams.get("ops", for_update=True)
        team.member_ids = ["m" * 24, "n" * 24]
        team.custom_role_keys = ["staging-reader"]
        team.maintainer_ids = ["n" * 24]
        uow.teams.update(team)
        uow.commit()
    with factory(write=False) as uow:
        member = uow.members.get("m" * 24)
        assert member.custom_role_ids == [f"{1:024x}"]
        assert member.team_role_keys == {"ops": ["staging-reader"]}
        team = uow.teams.get("ops")
        assert team.custom_role_keys == ["staging-reader"] and team.maintainer_ids == ["n" * 24]
        assert uow.roles.holders(f"{1:024x}") == RoleHolders(member_ids=("m" * 24,))
        assert uow.roles.holders(f"{2:024x}") == RoleHolders(team_keys=("ops",))
        assert uow.members.get("n" * 24).maintained_team_keys == ["ops"] and member.maintained_team_keys == []
        assert member_policies(uow, member) == (PAYMENTS, READ_STAGING)
        assert member_policies(uow, uow.members.get("n" * 24)) == (READ_STAGING,)


def test_deleting_a_role_unassigns_it(factory: Any) -> None:
    _seed(factory)
    with factory() as uow:
        member = uow.members.get("m" * 24)
        member.custom_role_ids = [f"{1:024x}", f"{2:024x}"]
        uow.members.update(member)
        team = uow.teams.get("ops", for_update=True)
        team.custom_role_keys = ["payments"]
        uow.teams.update(team)
        uow.commit()
    with factory() as uow:
        uow.roles.delete(uow.roles.get("payments"))
        uow.commit()
    with factory(write=False) as uow:
        assert uow.roles.get("payments") is None
        assert uow.members.get("m" * 24).custom_role_ids == [f"{2:024x}"]
        assert uow.teams.get("ops").custom_role_keys == []


def _token(**fields: Any) -> AccessToken:
    return AccessToken(
        id="k" * 24,
        owner_id="m" * 24,
        member_id="m" * 24,
        name="ci",
        role=Role.WRITER,
        service_token=False,
        token_hash="h" * 64,
        last4="abcd",
        creation_date=NOW,
        last_modified=NOW,
        **fields,
    )


def test_tokens_keep_custom_role_ids_and_inline_roles(factory: Any) -> None:
    _seed(factory)
    with factory() as uow:
        uow.tokens.add(_token(custom_role_ids=[f"{2:024x}", "0" * 24]))
        uow.commit()
    with factory(write=False) as uow:
        token = uow.tokens.get("k" * 24)
        assert token.custom_role_ids == [f"{2:024x}", "0" * 24] and token.inline_role is None
        # An id that names no role (deleted) adds nothing: the token is not widened to its base role.
        assert token_policies(uow, token) == (READ_STAGING,)
    with factory() as uow:
        token = uow.tokens.get("k" * 24)
        token.custom_role_ids, token.inline_role = [], PAYMENTS
        uow.tokens.update(token)
        uow.commit()
    with factory(write=False) as uow:
        token = uow.tokens.get("k" * 24)
        assert token.inline_role == PAYMENTS and token_policies(uow, token) == (PAYMENTS,)
        token.inline_role = None
        assert token_policies(uow, token) is None
