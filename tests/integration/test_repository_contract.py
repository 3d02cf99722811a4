"""The same contract, run against the in-memory fakes and the SQL adapter on SQLite and PostgreSQL: the
fakes the unit tests rely on behave like the real store, and the store behaves the same on both dialects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flagward.domain.accounts import AccessToken, Member, Role, Team
from flagward.domain.approvals import ApprovalRequest, ResourceKind, Status
from flagward.domain.audit import Access, AuditActor, AuditEntry
from flagward.domain.audit_chain import StoredLink, verify_chain
from flagward.domain.events import EnvironmentChanged
from flagward.domain.expiring_targets import new_expiring_target
from flagward.domain.flags import Defaults, Flag, new_config, new_variations
from flagward.domain.projects import Environment, Project
from flagward.domain.scheduled_changes import ScheduleStatus, new_scheduled_change
from flagward.domain.segments import Segment
from flagward.domain.workflows import Condition, ExecutionStatus, Stage, Template, Workflow
from flagward.services.ports import ApprovalQuery, AuditQuery, FlagQuery, MemberQuery, Page, ProjectQuery
from flagward.storage.unit_of_work import SqlUnitOfWorkFactory
from tests.fakes import FakeUnitOfWorkFactory, RecordingBroker
from tests.support.databases import migrated_engine

NOW = 1_700_000_000_000


@pytest.fixture(params=["fake", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "fake":
        yield FakeUnitOfWorkFactory()
        return
    with migrated_engine(request.param, tmp_path) as engine:
        yield SqlUnitOfWorkFactory(engine, RecordingBroker())


def _broker(factory: Any) -> RecordingBroker:
    broker = factory.broker
    assert isinstance(broker, RecordingBroker)
    return broker


def _project(key: str = "shop", tags: list[str] | None = None, created: int = NOW) -> Project:
    return Project(
        id=f"{abs(hash(key)) % 16**24:024x}", key=key, name=key.title(), creation_date=created, tags=tags or []
    )


def _env(project: Project, key: str, created: int = NOW) -> Environment:
    return Environment(
        id=f"{abs(hash(project.key + key)) % 16**24:024x}",
        project_id=project.id,
        project_key=project.key,
        key=key,
        name=key.title(),
        api_key=f"sdk-{project.key}-{key}",
        mobile_key=f"mob-{project.key}-{key}",
        color="00AA00",
        creation_date=created,
    )


def _flag(project_key: str, key: str, envs: list[str], tags: list[str] | None = None, created: int = NOW) -> Flag:
    kind, variations = new_variations(None)
    flag = Flag(
        id=f"{abs(hash(project_key + key)) % 16**24:024x}",
        project_key=project_key,
        key=key,
        name=key.upper(),
        kind=kind,
        variations=variations,
        creation_date=created,
        defaults=Defaults(0, 1),
        tags=tags or [],
    )
    for env in envs:
        flag.environments[env] = new_config(flag.defaults, now=NOW)
    return flag


def _seed(factory: Any) -> None:
    with factory() as uow:
        project = _project()
        uow.projects.add(project)
        for i, key in enumerate(("production", "staging")):
            uow.environments.add(_env(project, key, NOW + i))
        for i, key in enumerate(("alpha", "beta", "gamma")):
            uow.flags.add(
                _flag("shop", key, ["production", "staging"], tags=["t"] if key != "beta" else [], created=NOW + i)
            )
        uow.commit()


def test_nothing_is_kept_or_published_without_commit(factory: Any) -> None:
    with factory() as uow:
        uow.projects.add(_project("temp"))
        uow.publish(EnvironmentChanged(environment_id="x"))
    with factory(write=False) as uow:
        assert uow.projects.get("temp") is None
    assert _broker(factory).published == []
    with factory() as uow:
        uow.projects.add(_project("kept"))
        uow.publish(EnvironmentChanged(environment_id="x"))
        assert _broker(factory).published == []  # not before the commit
        uow.commit()
    assert _broker(factory).published == [EnvironmentChanged(environment_id="x")]


def test_projects_filter_sort_and_page(factory: Any) -> None:
    with factory() as uow:
        for i, key in enumerate(("b-proj", "a-proj", "c-proj")):
            uow.projects.add(_project(key, tags=["x"] if key != "c-proj" else [], created=NOW + i))
        uow.commit()
    with factory(write=False) as uow:
        items, total = uow.projects.find(ProjectQuery(page=Page(limit=2)))
        assert [p.key for p in items] == ["a-proj", "b-proj"] and total == 3
        items, total = uow.projects.find(ProjectQuery(tags=("x",), sort="-creationDate"))
        assert [p.key for p in items] == ["a-proj", "b-proj"] and total == 2
        items, _ = uow.projects.find(ProjectQuery(query="C-P"))
        assert [p.key for p in items] == ["c-proj"]


def test_flags_with_their_configurations(factory: Any) -> None:
    _seed(factory)
    with factory() as uow:
        flag = uow.flags.get("shop", "alpha", for_update=True)
        assert flag is not None and set(flag.environments) == {"production", "staging"}
        flag.environments["production"]["on"] = True
        flag.environments["production"]["version"] += 1
        flag.version += 1
        uow.flags.update(flag, environments=["production"])
        uow.commit()
    with factory(write=False) as uow:
        stored = uow.flags.get("shop", "alpha")
        assert stored is not None and stored.version == 2
        assert stored.environments["production"]["on"] is True and stored.environments["production"]["version"] == 2
        assert stored.environments["staging"]["on"] is False
        items, total = uow.flags.find("shop", FlagQuery(tags=("t",)))
        assert [f.key for f in items] == ["alpha", "gamma"] and total == 2
        items, total = uow.flags.find("shop", FlagQuery(query="BET", page=Page(limit=1)))
        assert [f.key for f in items] == ["beta"] and total == 1
        assert [f.key for f in uow.flags.list_all("shop")] == ["alpha", "beta", "gamma"]


def test_a_new_environment_adds_configurations_and_deleting_removes_them(factory: Any) -> None:
    _seed(factory)
    with factory() as uow:
        project = uow.projects.get("shop")
        assert project is not None
        uow.environments.add(_env(project, "qa", NOW + 5))
        uow.flags.add_environment("shop", "qa", {"alpha": new_config(Defaults(0, 1), now=NOW)})
        uow.commit()
    with factory() as uow:
        flag = uow.flags.get("shop", "alpha")
        assert flag is not None and "qa" in flag.environments
        env = uow.environments.get("shop", "qa")
        assert env is not None and uow.environments.get_by_credential(env.api_key) is not None
        uow.environments.delete(env)
        uow.commit()
    with factory(write=False) as uow:
        flag = uow.flags.get("shop", "alpha")
        assert flag is not None and "qa" not in flag.environments
        assert [e.key for e in uow.environments.find("shop")[0]] == ["production", "staging"]


def test_segments_and_tombstones(factory: Any) -> None:
    _seed(factory)
    with factory() as uow:
        for key in ("vip", "beta"):
            uow.segments.add(
                Segment(
                    id=f"{abs(hash(key)) % 16**24:024x}",
                    project_key="shop",
                    environment_key="production",
                    key=key,
                    name=key,
                    creation_date=NOW,
                    last_modified=NOW,
                    salt="s",
                    included=["u1"],
                )
            )
        env = uow.environments.get("shop", "production")
        assert env is not None
        uow.tombstones.record(env.id, "flags", "gone", 4)
        uow.tombstones.record(env.id, "flags", "gone", 2)  # versions never go back
        uow.commit()
    with factory(write=False) as uow:
        assert uow.segments.keys("shop", "production") == {"vip", "beta"}
        assert uow.segments.keys("shop", "staging") == set()
        segment = uow.segments.get("shop", "production", "vip")
        assert segment is not None and segment.included == ["u1"]
        env = uow.environments.get("shop", "production")
        assert env is not None and uow.tombstones.version(env.id, "flags", "gone") == 4
        assert uow.tombstones.for_environment(env.id) == {("flags", "gone"): 4}


def test_members_teams_and_tokens(factory: Any) -> None:
    with factory() as uow:
        for i, (email, role) in enumerate(
            (("ann@x.io", Role.OWNER), ("bob@x.io", Role.WRITER), ("cy@x.io", Role.READER))
        ):
            uow.members.add(Member(id=f"{i:024x}", email=email, role=role, creation_date=NOW + i, first_name=email[:3]))
        uow.teams.add(
            Team(id="a" * 24, key="ops", name="Ops", creation_date=NOW, last_modified=NOW, member_ids=[f"{1:024x}"])
        )
        uow.tokens.add(
            AccessToken(
                id="b" * 24,
                owner_id=f"{1:024x}",
                member_id=f"{1:024x}",
                name="ci",
                role=Role.WRITER,
                service_token=False,
                token_hash="h" * 64,
                last4="abcd",
                creation_date=NOW,
                last_modified=NOW,
            )
        )
        uow.commit()
    with factory(write=False) as uow:
        assert uow.members.count_owners() == 1
        bob = uow.members.get_by_email("BOB@x.io")
        assert bob is not None and bob.team_keys == ["ops"]
        assert [m.email for m in uow.members.find(MemberQuery(team_key="OPS"))[0]] == ["bob@x.io"]
        assert [m.email for m in uow.members.find(MemberQuery(no_team=True))[0]] == ["ann@x.io", "cy@x.io"]
        assert [m.email for m in uow.members.find(MemberQuery(roles=("reader", "owner")))[0]] == ["ann@x.io", "cy@x.io"]
        token = uow.tokens.get_by_hash("h" * 64)
        assert token is not None and token.name == "ci"
    with factory() as uow:
        bob = uow.members.get(f"{1:024x}")
        assert bob is not None
        uow.tokens.delete_for_member(bob.id)
        uow.members.delete(bob)
        uow.commit()
    with factory(write=False) as uow:
        team = uow.teams.get("ops")
        assert team is not None and team.member_ids == []
        assert uow.tokens.get("b" * 24) is None


def _request(request_id: str, status: Status, created: int, notify: list[str]) -> ApprovalRequest:
    return ApprovalRequest(
        id=request_id,
        project_key="shop",
        environment_key="production",
        resource_kind=ResourceKind.FLAG,
        resource_key="alpha",
        creation_date=created,
        description=request_id,
        instructions=[{"kind": "turnFlagOn"}],
        base_version=1,
        requestor_id="r" * 24,
        notify_member_ids=notify,
        status=status,
        execution_date=created + 10 if status is Status.SCHEDULED else None,
    )


def test_approval_requests(factory: Any) -> None:
    _seed(factory)
    with factory() as uow:
        uow.approvals.add(_request("1" * 24, Status.PENDING, NOW, ["m1"]))
        uow.approvals.add(_request("2" * 24, Status.SCHEDULED, NOW + 1, ["m2"]))
        uow.approvals.add(_request("3" * 24, Status.COMPLETED, NOW + 2, ["m1", "m2"]))
        uow.commit()
    with factory() as uow:
        assert [r.id for r in uow.approvals.open_for("shop", "production", "flag", "alpha")] == ["1" * 24, "2" * 24]
        assert uow.approvals.open_for("shop", "staging", "flag", "alpha") == []
        found, total = uow.approvals.find(ApprovalQuery(notify_member_ids=("m1",)))
        assert [r.id for r in found] == ["3" * 24, "1" * 24] and total == 2
        found, total = uow.approvals.find(ApprovalQuery(statuses=("pending",), page=Page(limit=5)))
        assert [r.id for r in found] == ["1" * 24] and total == 1
        assert uow.approvals.due(NOW + 5) == []
        assert uow.approvals.due(NOW + 11) == ["2" * 24]


def test_a_transaction_reads_what_it_wrote_and_nothing_of_what_it_rolled_back(factory: Any) -> None:
    _seed(factory)
    with factory() as uow:
        uow.approvals.add(_request("4" * 24, Status.PENDING, NOW, ["m1"]))
        request = uow.approvals.get("4" * 24, for_update=True)
        assert request is not None and request.status is Status.PENDING
        request.status, request.description = Status.COMPLETED, "done"
        uow.approvals.update(request)
        flag = uow.flags.get("shop", "beta", for_update=True)
        assert flag is not None
        flag.name, flag.version = "Beta two", flag.version + 1
        flag.environments["staging"]["on"], flag.environments["staging"]["version"] = True, 2
        uow.flags.update(flag, environments=["staging"])
        again = uow.approvals.get("4" * 24)
        assert again is not None and (again.status, again.description) == (Status.COMPLETED, "done")
        assert uow.approvals.open_for("shop", "production", "flag", "alpha") == []
        changed = uow.flags.get("shop", "beta")
        assert changed is not None and changed.name == "Beta two" and changed.environments["staging"]["on"] is True
        # What a read hands out is the caller's to change: the next read is not affected.
        changed.environments["staging"]["rules"].append({"clauses": []})
        changed.variations[0]["value"] = "edited"
        fresh = uow.flags.get("shop", "beta")
        assert fresh is not None and fresh.environments["staging"]["rules"] == []
        assert fresh.variations[0]["value"] is True
    with factory(write=False) as uow:  # not committed: nothing of it was kept
        assert uow.approvals.get("4" * 24) is None
        kept = uow.flags.get("shop", "beta")
        assert kept is not None and kept.name == "BETA" and kept.environments["staging"]["on"] is False


def _entry(i: int) -> AuditEntry:
    return AuditEntry(
        id=f"{i:024x}",
        date=NOW,
        kind="flag",
        name="alpha",
        description=f"change {i}",
        short_description="x",
        title_verb="updated",
        accesses=[Access("updateOn", "proj/shop:env/production:flag/alpha")],
        actor=AuditActor(member_id=("m" if i % 2 else "n") * 24),
        target_resources=["proj/shop:env/production:flag/alpha"],
        # Names the other member, so only the actor check tells the two apart.
        comment=f"reviewed by {('n' if i % 2 else 'm') * 24}",
    )


def test_the_audit_log_is_a_chain(factory: Any) -> None:
    with factory() as uow:
        for i in range(1, 5):
            uow.audit.append(_entry(i))
        uow.commit()
    with factory(write=False) as uow:
        newest = uow.audit.find(AuditQuery(limit=3))
        assert [e.id for e in newest] == [f"{i:024x}" for i in (4, 3, 2)]
        dates = [e.date for e in reversed(newest)]
        assert dates == sorted(set(dates))  # strictly increasing, although written in the same millisecond
        assert [e.id for e in uow.audit.find(AuditQuery(spec="proj/shop:env/*:flag/*", limit=20))][-1] == f"{1:024x}"
        assert uow.audit.find(AuditQuery(spec="proj/other:env/*:flag/*", limit=20)) == []
        by_member = uow.audit.find(AuditQuery(member_id="n" * 24, limit=20))
        assert [e.id for e in by_member] == [f"{i:024x}" for i in (4, 2)]
        chain = sorted(uow.audit.find(AuditQuery(limit=20)), key=lambda e: e.seq)
        assert verify_chain([StoredLink.of(e) for e in chain]) == []


def test_an_audit_entry_is_sealed_as_its_transaction_commits_and_kept_only_if_it_does(factory: Any) -> None:
    sealed: list[AuditEntry] = []
    with factory() as uow:  # rolled back: nothing of it is kept
        uow.audit.append(_entry(1), then=sealed.append)
    with factory() as uow:
        uow.audit.append(_entry(2), then=sealed.append)
        uow.audit.append(_entry(3), then=sealed.append)
        uow.commit()
    first, second = sealed[-2:]
    assert [first.id, second.id] == [f"{i:024x}" for i in (2, 3)]
    assert (first.seq, second.seq) == (1, 2) and second.prev_hash == first.hash  # what ``then`` got was sealed
    with factory(write=False) as uow:
        assert uow.audit.get(f"{1:024x}") is None
        stored = sorted(uow.audit.find(AuditQuery(limit=20)), key=lambda e: e.seq)
        assert [(e.id, e.seq, e.hash) for e in stored] == [(e.id, e.seq, e.hash) for e in (first, second)]
        assert verify_chain([StoredLink.of(e) for e in stored]) == []


def test_rate_counters_count_per_window_refund_clear_and_prune(factory: Any) -> None:
    with factory() as uow:
        assert uow.rate_counters.spend("a", NOW, 1000) == (1, NOW + 1000)
        assert uow.rate_counters.spend("a", NOW + 999, 1000) == (2, NOW + 1000)
        assert uow.rate_counters.spend("b", NOW, 5000) == (1, NOW + 5000)
        uow.commit()
    with factory() as uow:
        uow.rate_counters.spend("a", NOW, 1000)  # rolled back: never counted
    with factory() as uow:
        uow.rate_counters.refund("a")
        uow.rate_counters.refund("missing")
        assert uow.rate_counters.spend("a", NOW, 1000) == (2, NOW + 1000)
        uow.rate_counters.clear("b")
        assert uow.rate_counters.spend("b", NOW + 10, 5000) == (1, NOW + 5010)
        uow.commit()
    with factory() as uow:
        assert uow.rate_counters.spend("a", NOW + 1000, 1000) == (1, NOW + 2000)  # the window ended: start over
        assert uow.rate_counters.prune(NOW + 2000) == 1  # only "a" has ended by then
        uow.commit()
    with factory() as uow:
        assert uow.rate_counters.spend("a", NOW + 2000, 1000) == (1, NOW + 3000)
        assert uow.rate_counters.spend("b", NOW + 2000, 5000) == (2, NOW + 5010)


def test_scheduled_changes_round_trip_and_come_due_in_order(factory: Any) -> None:
    _seed(factory)
    later = new_scheduled_change(
        project_key="shop",
        environment_key="production",
        flag_key="alpha",
        creation_date=NOW,
        execution_date=NOW + 20,
        instructions=[{"kind": "turnFlagOff"}],
        maintainer_id="m" * 24,
        comment="off",
        approved=True,
        approval_request_id="1" * 24,
    )
    sooner = new_scheduled_change(
        project_key="shop",
        environment_key="production",
        flag_key="alpha",
        creation_date=NOW,
        execution_date=NOW + 10,
        instructions=[{"kind": "turnFlagOn"}],
    )
    elsewhere = new_scheduled_change(
        project_key="shop",
        environment_key="staging",
        flag_key="alpha",
        creation_date=NOW,
        execution_date=NOW + 5,
        instructions=[{"kind": "turnFlagOn"}],
    )
    with factory() as uow:
        for change in (later, sooner, elsewhere):
            uow.scheduled_changes.add(change)
        uow.commit()
    with factory() as uow:
        assert uow.scheduled_changes.get(later.id) == later
        assert [c.id for c in uow.scheduled_changes.for_flag("shop", "production", "alpha")] == [sooner.id, later.id]
        assert len(uow.scheduled_changes.for_flag("shop", None, "alpha")) == 3
        assert uow.scheduled_changes.due(NOW + 10) == [elsewhere.id, sooner.id]
        done = uow.scheduled_changes.get(sooner.id, for_update=True)
        assert done is not None
        done.status, done.failure_reason = ScheduleStatus.FAILED, "no longer applies"
        uow.scheduled_changes.update(done)
        uow.scheduled_changes.delete(elsewhere)
        uow.commit()
    with factory() as uow:
        assert uow.scheduled_changes.due(NOW + 30) == [later.id]
        pending = uow.scheduled_changes.for_flag("shop", "production", "alpha", pending_only=True)
        assert [c.id for c in pending] == [later.id]
        failed = uow.scheduled_changes.get(sooner.id)
        assert failed is not None and failed.failure_reason == "no longer applies"


def test_expiring_targets_round_trip_and_come_due(factory: Any) -> None:
    _seed(factory)
    flag_target = new_expiring_target(
        project_key="shop",
        environment_key="production",
        resource_kind="flag",
        resource_key="alpha",
        context_kind="user",
        context_key="alice",
        expiration_date=NOW + 10,
        creation_date=NOW,
        variation_id="v" * 8,
        approved=True,
    )
    segment_target = new_expiring_target(
        project_key="shop",
        environment_key="production",
        resource_kind="segment",
        resource_key="testers",
        context_kind="org",
        context_key="acme",
        expiration_date=NOW + 20,
        creation_date=NOW,
        target_type="excluded",
    )
    with factory() as uow:
        uow.expiring_targets.add(flag_target)
        uow.expiring_targets.add(segment_target)
        uow.commit()
    with factory() as uow:
        assert uow.expiring_targets.for_resource("shop", "production", "flag", "alpha") == [flag_target]
        assert uow.expiring_targets.get(segment_target.id) == segment_target
        assert uow.expiring_targets.due(NOW + 20) == [flag_target.id, segment_target.id]
        failed = uow.expiring_targets.get(flag_target.id, for_update=True)
        assert failed is not None
        failed.failure_reason = "approval is required"
        uow.expiring_targets.update(failed)
        uow.expiring_targets.delete(segment_target)
        uow.commit()
    with factory() as uow:
        assert uow.expiring_targets.due(NOW + 30) == []
        kept = uow.expiring_targets.get(flag_target.id)
        assert kept is not None and kept.failure_reason == "approval is required"


def _workflow(workflow_id: str, flag: str, env: str, created: int, *, due: int | None) -> Workflow:
    approval = Condition(id="c" * 24, kind="ld-approval", notify_member_ids=["m1"], min_num_approvals=2)
    stages = [
        Stage(id="s" * 24, name="First", conditions=[approval], instructions=[{"kind": "turnFlagOn"}], due_at=due),
        Stage(id="t" * 24, name="Then", conditions=[], instructions=[{"kind": "turnFlagOff"}], environment_key=env),
    ]
    stages[0].status = ExecutionStatus.ACTIVE if due is not None else ExecutionStatus.COMPLETED
    workflow = Workflow(
        id=workflow_id,
        project_key="shop",
        flag_key=flag,
        environment_key=env,
        name="Release",
        description="",
        creation_date=created,
        stages=stages,
        maintainer_id="m" * 24,
        requestor_id="r" * 24,
        flag_id="f" * 24,
    )
    if due is None:
        workflow.status = ExecutionStatus.COMPLETED
    return workflow


def test_workflows_and_templates(factory: Any) -> None:
    _seed(factory)
    with factory() as uow:
        uow.workflows.add(_workflow("1" * 24, "alpha", "production", NOW, due=NOW + 10))
        uow.workflows.add(_workflow("2" * 24, "alpha", "production", NOW + 1, due=None))
        uow.workflows.add(_workflow("3" * 24, "beta", "production", NOW + 2, due=NOW + 20))
        uow.workflow_templates.add(
            Template(id="4" * 24, key="promote", name="Promote", description="", creation_date=NOW, stages=[{"a": 1}])
        )
        uow.commit()
    with factory() as uow:
        stored = uow.workflows.get("1" * 24, for_update=True)
        assert stored == _workflow("1" * 24, "alpha", "production", NOW, due=NOW + 10)
        found, total = uow.workflows.find("shop", "alpha", "production", status=None, sort="-creationDate", page=Page())
        assert ([w.id for w in found], total) == (["2" * 24, "1" * 24], 2)
        found, total = uow.workflows.find(
            "shop", "alpha", "production", status="active", sort="creationDate", page=Page()
        )
        assert ([w.id for w in found], total) == (["1" * 24], 1)
        assert uow.workflows.find("shop", "alpha", "staging", status=None, sort="creationDate", page=Page())[1] == 0
        assert uow.workflows.due(NOW + 5) == []
        assert uow.workflows.due(NOW + 25) == ["1" * 24, "3" * 24]
        stored.stages[0].recheck_at = NOW + 30
        uow.workflows.update(stored)
        uow.workflows.delete(_workflow("3" * 24, "beta", "production", NOW + 2, due=NOW + 20))
        uow.commit()
    with factory() as uow:
        assert uow.workflows.due(NOW + 25) == []
        assert uow.workflows.get("3" * 24) is None
        template = uow.workflow_templates.get("promote")
        assert template is not None and template.stages == [{"a": 1}]
        assert [t.key for t in uow.workflow_templates.list_all()] == ["promote"]
        uow.workflow_templates.delete(template)
        uow.commit()
    with factory(write=False) as uow:
        assert uow.workflow_templates.list_all() == []
