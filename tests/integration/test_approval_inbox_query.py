"""The inbox filters in the store (``ApprovalQuery``'s review filters) and answers exactly what the
domain's own rules answer in memory (``waiting_for``, ``ApprovalRequest.review_status``), on the fake and
on SQLite and PostgreSQL, over requests with every mix of reviews, requesters, environment settings and
required reviewer teams (the teams each review counted for drawn apart, so the other draws stay as they were)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from flagward.domain.accounts import Actor, ActorKind, Role
from flagward.domain.approvals import ApprovalRequest, ResourceKind, Review, ReviewKind, Status
from flagward.domain.builtin_roles import actor_access
from flagward.domain.policy import parse_statements
from flagward.domain.projects import ApprovalSettings
from flagward.domain.review_policy import TeamRequirement
from flagward.services._approvals import settings_for
from flagward.services.approval_inbox import InboxFilter, InboxTab, inbox, waiting_for
from flagward.services.ports import Deps, Page
from flagward.storage.engine import make_engine
from flagward.storage.migrate import upgrade
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.fakes import FakeUnitOfWorkFactory, FrozenClock, PlainHasher, RecordingBroker
from tests.integration.test_repository_contract import NOW, _env, _flag, _project

MEMBERS = [f"{i:024x}" for i in range(1, 5)]
SETTINGS = {
    "production": ApprovalSettings(required=True, min_num_approvals=2),
    "staging": ApprovalSettings(required=True, can_review_own_request=True),
    "qa": ApprovalSettings(),
}
TEAM_REQUIREMENTS = [(), (TeamRequirement("pay", 1),), (TeamRequirement("pay", 2), TeamRequirement("sre", 1))]


@pytest.fixture(params=["fake", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "fake":
        yield FakeUnitOfWorkFactory()
        return
    from tests.support.databases import database_url

    with database_url(request.param, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield SqlUnitOfWorkFactory(engine, RecordingBroker())
        finally:
            engine.dispose()


def _request(rng: random.Random, i: int) -> ApprovalRequest:
    teams = random.Random(1000 + i)
    env = rng.choice(list(SETTINGS))
    reviews = [
        Review(
            id=f"r{i}-{n}",
            kind=rng.choice(list(ReviewKind)),
            creation_date=NOW + n,
            member_id=rng.choice(MEMBERS),
            teams=tuple(teams.sample(["pay", "sre"], teams.randint(0, 2))),
        )
        for n in range(rng.randint(0, 4))
    ]
    return ApprovalRequest(
        id=f"{i:024x}",
        project_key="shop",
        environment_key=env,
        resource_kind=ResourceKind.FLAG if i % 5 else ResourceKind.SEGMENT,
        resource_key=f"flag-{i % 7}",
        creation_date=NOW + i,
        description=f"request {i}",
        instructions=[{"kind": "turnFlagOn"}],
        base_version=1,
        requestor_id=rng.choice(MEMBERS),
        notify_member_ids=rng.sample(MEMBERS, rng.randint(0, 3)),
        reviews=reviews,
        status=rng.choice([Status.PENDING, Status.PENDING, Status.COMPLETED]),
        required_reviewers=teams.choice(TEAM_REQUIREMENTS),
    )


def test_the_store_answers_what_the_domain_decides(factory: Any) -> None:
    rng = random.Random(9)
    requests = [_request(rng, i) for i in range(120)]
    with factory() as uow:
        project = _project()
        uow.projects.add(project)
        environments = {}
        for key, settings in SETTINGS.items():
            env = replace(_env(project, key), approval_settings=settings, segment_approval_settings=ApprovalSettings())
            uow.environments.add(env)
            environments[key] = env
        for request in requests:
            uow.approvals.add(request)
        uow.commit()
    deps = Deps(uow=factory, clock=FrozenClock(NOW), passwords=PlainHasher())
    with factory() as uow:  # required reviewer teams and the teams each review counted for survive the store
        stored = [uow.approvals.get(r.id) for r in requests if r.required_reviewers]
    assert stored and stored == [r for r in requests if r.required_reviewers]

    def settings(request: ApprovalRequest) -> ApprovalSettings:
        return settings_for(environments[request.environment_key], request.resource_kind)

    for member in MEMBERS:
        for role in (Role.WRITER, Role.READER):
            actor = Actor(kind=ActorKind.SESSION, role=role, member_id=member)
            expected_waiting = [r.id for r in requests if waiting_for(actor, r, settings(r))]
            for review in ("", "pending", "approved", "declined"):
                filter = InboxFilter(review_statuses=(review,) if review else ())
                result = inbox(deps, actor=actor, tab=InboxTab.WAITING, filter=filter, page=Page(limit=500))
                expected = [
                    rid
                    for rid in expected_waiting
                    if not review or _by_id(requests, rid).review_status(settings(_by_id(requests, rid))) == review
                ]
                assert sorted(r.request.id for r in result.rows) == sorted(expected), (member, role, review)
                assert result.counts[InboxTab.WAITING] == len(expected)
                mine = [r for r in requests if r.requestor_id == member]
                mine = [r for r in mine if not review or r.review_status(settings(r)) == review]
                assert result.counts[InboxTab.MINE] == len(mine)
    assert any(waiting_for(Actor(kind=ActorKind.SESSION, role=Role.WRITER, member_id=m), r, settings(r))
               for m in MEMBERS for r in requests)  # fmt: skip


def _by_id(requests: list[ApprovalRequest], request_id: str) -> ApprovalRequest:
    return next(r for r in requests if r.id == request_id)


def test_a_reviewer_of_tagged_flags_waits_only_for_their_requests(factory: Any) -> None:
    """A reviewer whose role covers flags tagged ``payments`` only: their "waiting for my review" tab
    holds the requests on those flags (judged with the flag's tags), not the others."""
    reviewer = MEMBERS[0]
    with factory() as uow:
        project = _project()
        uow.projects.add(project)
        env = replace(_env(project, "production"), approval_settings=SETTINGS["production"])
        uow.environments.add(env)
        uow.flags.add(_flag("shop", "pay", ["production"], tags=["payments"]))
        uow.flags.add(_flag("shop", "plain", ["production"]))
        for i, key in enumerate(["pay", "plain", "pay"]):
            uow.approvals.add(
                ApprovalRequest(
                    id=f"{900 + i:024x}",
                    project_key="shop",
                    environment_key="production",
                    resource_kind=ResourceKind.FLAG,
                    resource_key=key,
                    creation_date=NOW + i,
                    description=key,
                    instructions=[{"kind": "turnFlagOn"}],
                    base_version=1,
                    requestor_id=MEMBERS[1],
                    notify_member_ids=[reviewer],
                )
            )
        uow.commit()
    deps = Deps(uow=factory, clock=FrozenClock(NOW), passwords=PlainHasher())
    policy = parse_statements(
        [
            {"effect": "allow", "resources": ["acct"], "actions": ["viewApprovalInbox"]},
            {"effect": "allow", "resources": ["proj/*:env/*:flag/*;payments"], "actions": ["reviewApprovalRequest"]},
        ]
    )
    actor = Actor(
        kind=ActorKind.SESSION,
        role=Role.NO_ACCESS,
        member_id=reviewer,
        access=actor_access(Role.NO_ACCESS, (policy,), member_id=reviewer),
    )
    result = inbox(deps, actor=actor, tab=InboxTab.WAITING, filter=InboxFilter(), page=Page(limit=1))
    assert [r.request.resource_key for r in result.rows] == ["pay"]  # the newest, one to a page
    assert result.total == result.counts[InboxTab.WAITING] == 2
    second = inbox(deps, actor=actor, tab=InboxTab.WAITING, filter=InboxFilter(), page=Page(limit=1, offset=1))
    assert [r.request.id for r in second.rows] == [f"{900:024x}"]
    assert waiting_for(
        actor, second.rows[0].request, SETTINGS["production"], "proj/shop:env/production:flag/pay;payments"
    )
    assert not waiting_for(actor, second.rows[0].request, SETTINGS["production"])  # judged without the tags
