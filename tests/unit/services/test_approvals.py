"""Approval requests on the fakes: create (changes and copies), review, apply (now, failed, scheduled),
patch, delete, conflicts and segment requests, with their audit entries."""

from __future__ import annotations

import pytest

from flagward.domain.accounts import Actor, Role, Team
from flagward.domain.approvals import ApprovalRequest, CopySource, ResourceKind, ReviewStatus, Status
from flagward.domain.copy import CopyAction
from flagward.domain.errors import ApprovalRequired, Forbidden, InvalidRequest, NotFound, OptimisticLockError
from flagward.services import approval_queries as queries
from flagward.services import approvals, segments
from flagward.services.approvals import ApprovalApplyFailed, NewCopyRequest, NewRequest, Scope
from flagward.services.flag_changes import FlagPatch
from flagward.services.ports import Page
from tests.unit.services.approvals_world import FLAG, PRODUCTION, PROJECT, SEGMENT, STAGING, Shop, email_rule
from tests.unit.services.conftest import World

ON = {"kind": "turnFlagOn"}
RESOURCE = f"proj/{PROJECT}:env/{PRODUCTION}:flag/{FLAG}"


@pytest.fixture
def shop(world: World) -> Shop:
    return Shop(world, required=True, min_num_approvals=2, can_apply_declined_changes=False)


def _view(shop: Shop, request_id: str) -> queries.RequestView:
    return queries.get_request(shop.deps, actor=shop.admin, request_id=request_id)


def _reasons(shop: Shop, request_id: str) -> list[str]:
    return [c.reason for c in _view(shop, request_id).conflicts]


# -- creating ----------------------------------------------------------------------------------------


def test_a_request_records_its_base_version_and_changes_nothing_yet(shop: Shop) -> None:
    writer = shop.member()
    base = shop.config()["version"]
    request = shop.request(writer, ON, comment="please")
    assert (request.status, request.version, request.base_version) == (Status.PENDING, 1, base)
    assert (request.requestor_id, request.instructions, request.comment) == (writer.member_id, [ON], "please")
    assert request.resource_id == RESOURCE
    assert shop.stored(request.id).instructions == [ON]
    assert shop.config()["on"] is False and shop.config()["version"] == base
    entry = shop.audit()[-1]
    assert [(a.action, a.resource) for a in entry.accesses] == [("createApprovalRequest", RESOURCE)]
    assert (entry.approval_request_id, entry.comment, entry.actor.member_id) == (request.id, "please", writer.member_id)


def test_instructions_that_do_not_apply_are_refused_and_nothing_is_written(shop: Shop) -> None:
    audit_before = len(shop.audit())
    with pytest.raises(InvalidRequest, match="variationId"):
        shop.request(shop.member(), {"kind": "updateOffVariation", "variationId": "nope"})
    with pytest.raises(InvalidRequest, match="instructions"):
        shop.request(shop.member())
    assert shop.world.uow.store.approvals == {}
    assert len(shop.audit()) == audit_before


def test_a_reader_cannot_request_a_change(shop: Shop) -> None:
    with pytest.raises(Forbidden):
        shop.request(shop.member(Role.READER), ON)
    assert shop.world.uow.store.approvals == {}


@pytest.mark.parametrize("description", ["", "   ", "x" * 5001])
def test_a_description_is_required_and_bounded(shop: Shop, description: str) -> None:
    with pytest.raises(InvalidRequest, match="description"):
        shop.request(shop.member(), ON, description=description)


def test_team_keys_become_member_ids_and_unknown_reviewers_are_refused(shop: Shop) -> None:
    alice, bob, carol = shop.member(), shop.member(), shop.member()
    team = Team(id="t" * 24, key="release", name="Release", creation_date=0, last_modified=0)
    team.member_ids = [bob.member_id or "", carol.member_id or ""]
    shop.world.uow.store.teams["release"] = team
    request = shop.request(
        shop.member(), ON, notify_member_ids=[alice.member_id or "", bob.member_id or ""], notify_team_keys=["release"]
    )
    assert request.notify_member_ids == [alice.member_id, bob.member_id, carol.member_id]
    with pytest.raises(InvalidRequest, match="0123456789abcdef01234567"):
        shop.request(shop.member(), ON, notify_member_ids=["0123456789abcdef01234567"])
    with pytest.raises(InvalidRequest, match="'ghosts'"):
        shop.request(shop.member(), ON, notify_team_keys=["ghosts"])
    assert len(shop.world.uow.store.approvals) == 1


def test_operating_on_scheduled_changes_is_refused(shop: Shop) -> None:
    with pytest.raises(InvalidRequest, match="operatingOnId"):
        shop.request(shop.member(), ON, operating_on_id="0123456789abcdef01234567")


def test_the_environment_and_flag_must_exist(shop: Shop) -> None:
    new = NewRequest(description="x", instructions=[ON])
    with pytest.raises(NotFound):
        approvals.create_flag_request(
            shop.deps, actor=shop.member(), project_key=PROJECT, flag_key=FLAG, env_key="qa", new=new
        )
    with pytest.raises(NotFound):
        approvals.create_flag_request(
            shop.deps, actor=shop.member(), project_key=PROJECT, flag_key="nope", env_key=PRODUCTION, new=new
        )


# -- reviewing ---------------------------------------------------------------------------------------


def test_two_approvals_are_needed_and_the_requester_may_only_comment(shop: Shop) -> None:
    requester, first, second = shop.member(), shop.member(), shop.member()
    request = shop.request(requester, ON)
    with pytest.raises(Forbidden, match="own"):
        approvals.review(shop.deps, actor=requester, request_id=request.id, kind="approve", comment=None)
    with pytest.raises(Forbidden, match="own"):
        approvals.review(shop.deps, actor=requester, request_id=request.id, kind="decline", comment=None)
    approvals.review(shop.deps, actor=requester, request_id=request.id, kind="comment", comment="ready")
    assert _view(shop, request.id).review_status is ReviewStatus.PENDING
    shop.approve(request, first)
    assert _view(shop, request.id).review_status is ReviewStatus.PENDING
    shop.approve(request, second)
    view = _view(shop, request.id)
    assert view.review_status is ReviewStatus.APPROVED
    assert [(r.kind.value, r.member_id, r.comment) for r in view.request.reviews] == [
        ("comment", requester.member_id, "ready"),
        ("approve", first.member_id, None),
        ("approve", second.member_id, None),
    ]
    assert view.request.version == 4
    assert shop.audit_actions(-3) == ["reviewApprovalRequest"] * 3


def test_each_reviewers_latest_verdict_counts(shop: Shop) -> None:
    request = shop.request(shop.member(), ON)
    fickle, other = shop.member(), shop.member()
    shop.approve(request, fickle, fickle)
    assert (_view(shop, request.id).review_status, shop.stored(request.id).approvals()) == (ReviewStatus.PENDING, 1)
    approvals.review(shop.deps, actor=fickle, request_id=request.id, kind="decline", comment="wait")
    shop.approve(request, other)
    assert _view(shop, request.id).review_status is ReviewStatus.DECLINED
    approvals.review(shop.deps, actor=fickle, request_id=request.id, kind="comment", comment="still thinking")
    assert _view(shop, request.id).review_status is ReviewStatus.DECLINED
    shop.approve(request, fickle)
    assert _view(shop, request.id).review_status is ReviewStatus.APPROVED


def test_an_unknown_review_kind_is_refused(shop: Shop) -> None:
    request = shop.request(shop.member(), ON)
    for kind in (None, "lgtm"):
        with pytest.raises(InvalidRequest, match="approve, decline, comment"):
            approvals.review(shop.deps, actor=shop.member(), request_id=request.id, kind=kind, comment=None)
    assert shop.stored(request.id).reviews == []


def test_a_notified_reader_cannot_review(shop: Shop) -> None:
    reader = shop.member(Role.READER)
    request = shop.request(shop.member(), ON, notify_member_ids=[reader.member_id or ""])
    for kind in ("approve", "decline", "comment"):
        with pytest.raises(Forbidden):
            approvals.review(shop.deps, actor=reader, request_id=request.id, kind=kind, comment=None)
    assert shop.stored(request.id).reviews == []


def test_the_requester_may_approve_where_the_environment_allows_it(shop: Shop) -> None:
    shop.settings(can_review_own_request=True, min_num_approvals=1)
    requester = shop.member()
    request = shop.approve(shop.request(requester, ON), requester)
    assert _view(shop, request.id).review_status is ReviewStatus.APPROVED
    approvals.apply(shop.deps, actor=requester, request_id=request.id)
    assert shop.config()["on"] is True


# -- applying ----------------------------------------------------------------------------------------


def _approved(shop: Shop, *instructions: dict[str, object], **fields: object) -> ApprovalRequest:
    request = shop.request(shop.member(), *(instructions or (ON,)), **fields)
    return shop.approve(request, shop.member(), shop.member())


def test_apply_goes_through_the_gate_and_records_who_applied(shop: Shop) -> None:
    writer = shop.member()
    with pytest.raises(ApprovalRequired):
        shop.change(writer, ON, env=PRODUCTION)
    request = _approved(shop)
    before = shop.flag()
    audit_before = len(shop.audit())
    shop.world.clock.advance(5000)
    applied = approvals.apply(shop.deps, actor=writer, request_id=request.id, comment="go")
    assert (applied.status, applied.applied_date, applied.applied_by_member_id) == (
        Status.COMPLETED,
        shop.world.clock.now,
        writer.member_id,
    )
    assert applied.applied_by_service_token_id is None
    assert shop.stored(request.id).status is Status.COMPLETED
    assert shop.config()["on"] is True
    assert shop.config()["version"] == before.environments[PRODUCTION]["version"] + 1
    assert shop.flag().version == before.version + 1
    assert shop.config(STAGING) == before.environments[STAGING]
    flag_entry, apply_entry = shop.audit()[audit_before:]
    assert (flag_entry.kind, flag_entry.approval_request_id, flag_entry.comment) == ("flag", request.id, "go")
    assert [(a.action, a.resource) for a in flag_entry.accesses] == [("updateOn", RESOURCE)]
    assert [(a.action, a.resource) for a in apply_entry.accesses] == [("applyApprovalRequest", RESOURCE)]
    assert apply_entry.approval_request_id == request.id


def test_apply_needs_enough_approvals(shop: Shop) -> None:
    request = shop.approve(shop.request(shop.member(), ON), shop.member())
    with pytest.raises(InvalidRequest, match="needs 2 approval"):
        approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    assert shop.stored(request.id).status is Status.PENDING
    assert shop.config()["on"] is False


def test_a_declined_request_is_applied_only_where_the_environment_allows_it(shop: Shop) -> None:
    request = _approved(shop)
    approvals.review(shop.deps, actor=shop.member(), request_id=request.id, kind="decline", comment="no")
    with pytest.raises(InvalidRequest, match="declined"):
        approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    assert shop.config()["on"] is False
    shop.settings(can_apply_declined_changes=True)
    approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    assert shop.config()["on"] is True


def test_a_request_is_applied_at_most_once(shop: Shop) -> None:
    request = _approved(shop, {"kind": "addTargets", "values": ["ann"], "variationId": shop.variation_id(0)})
    approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    version = shop.flag().version
    with pytest.raises(InvalidRequest, match="at most once"):
        approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    with pytest.raises(InvalidRequest, match="completed"):
        approvals.review(shop.deps, actor=shop.member(), request_id=request.id, kind="approve", comment=None)
    assert shop.flag().version == version
    assert shop.config()["targets"] == [{"contextKind": "user", "variation": 0, "values": ["ann"]}]


def test_a_service_token_applies_as_itself(shop: Shop) -> None:
    request = _approved(shop)
    token = shop.service_token()
    applied = approvals.apply(shop.deps, actor=token, request_id=request.id)
    assert (applied.applied_by_member_id, applied.applied_by_service_token_id) == (None, token.token_id)


def test_instructions_that_no_longer_apply_fail_the_request_and_change_nothing(shop: Shop) -> None:
    shop.change(shop.admin, email_rule(shop.variation_id(0)), env=PRODUCTION)
    rule_id = shop.rule_id()
    request = _approved(shop, {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "VIPs"})
    shop.change(shop.admin, {"kind": "removeRule", "ruleId": rule_id}, env=PRODUCTION, ignore_conflicts=True)
    before = shop.flag()
    with pytest.raises(ApprovalApplyFailed, match=rule_id) as failed:
        approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    assert "now failed" in failed.value.message
    stored = shop.stored(request.id)
    assert stored.status is Status.FAILED and rule_id in (stored.failure_reason or "")
    assert shop.flag() == before
    (conflict,) = _view(shop, request.id).conflicts
    assert conflict.reason.startswith("Applying failed:") and rule_id in conflict.reason
    assert shop.audit()[-1].accesses[0].action == "applyApprovalRequest"
    assert shop.audit()[-1].title_verb == "failed to apply"
    assert not [e for e in shop.audit() if e.kind == "flag" and e.approval_request_id == request.id]
    with pytest.raises(InvalidRequest, match="failed"):
        approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    approvals.delete(shop.deps, actor=shop.admin, request_id=request.id)
    assert request.id not in shop.world.uow.store.approvals


# -- direct changes and conflicts ---------------------------------------------------------------------


def test_a_direct_change_that_would_make_a_pending_request_fail_is_refused(shop: Shop) -> None:
    shop.change(shop.admin, email_rule(shop.variation_id(0)), env=PRODUCTION)
    rule_id = shop.rule_id()
    request = shop.request(shop.member(), {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "x"})
    version = shop.flag().version
    with pytest.raises(InvalidRequest, match=request.id) as refused:
        shop.change(shop.admin, {"kind": "removeRule", "ruleId": rule_id}, env=PRODUCTION)
    assert "ignoreConflicts" in refused.value.message
    assert shop.flag().version == version
    shop.change(shop.admin, ON, env=STAGING)  # harmless to the request
    shop.change(shop.admin, {"kind": "removeRule", "ruleId": rule_id}, env=PRODUCTION, ignore_conflicts=True)
    assert shop.config()["rules"] == []
    assert any("No longer applies cleanly" in r for r in _reasons(shop, request.id))


def test_a_direct_change_that_would_make_a_scheduled_request_fail_is_refused(shop: Shop) -> None:
    shop.change(shop.admin, email_rule(shop.variation_id(0)), env=PRODUCTION)
    rule_id = shop.rule_id()
    instruction = {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "VIPs"}
    request = _approved(shop, instruction, execution_date=shop.world.clock.now + 1000)
    approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    with pytest.raises(InvalidRequest, match=f"scheduled approval request {request.id}"):
        shop.change(shop.admin, {"kind": "removeRule", "ruleId": rule_id}, env=PRODUCTION)
    assert shop.config()["rules"][0]["_id"] == rule_id


def test_two_requests_on_one_rule_both_show_the_conflict_and_the_second_fails_on_apply(shop: Shop) -> None:
    shop.change(shop.admin, email_rule(shop.variation_id(0)), env=PRODUCTION)
    rule_id = shop.rule_id()
    remove = _approved(shop, {"kind": "removeRule", "ruleId": rule_id}, description="Drop the rule")
    describe = _approved(
        shop, {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "VIPs"}, description="Describe it"
    )
    (on_remove,) = _view(shop, remove.id).conflicts
    (on_describe,) = _view(shop, describe.id).conflicts
    assert describe.id in on_remove.reason and "Describe it" in on_remove.reason and rule_id in on_remove.reason
    assert remove.id in on_describe.reason and on_describe.instruction == describe.instructions[0]
    approvals.apply(shop.deps, actor=shop.member(), request_id=remove.id)
    assert _view(shop, remove.id).conflicts == []
    (stale,) = _view(shop, describe.id).conflicts
    assert stale.reason.startswith("No longer applies cleanly") and rule_id in stale.reason
    with pytest.raises(ApprovalApplyFailed, match=rule_id):
        approvals.apply(shop.deps, actor=shop.member(), request_id=describe.id)
    assert shop.stored(describe.id).status is Status.FAILED


def test_no_op_instructions_are_never_conflicts(shop: Shop) -> None:
    off_already = shop.request(shop.member(), {"kind": "turnFlagOff"})
    turn_on = shop.request(shop.member(), ON)
    assert _view(shop, off_already.id).conflicts == [] and _view(shop, turn_on.id).conflicts == []
    approvals.apply(shop.deps, actor=shop.member(), request_id=shop.approve(off_already, *_two(shop)).id)
    assert shop.stored(off_already.id).status is Status.COMPLETED
    assert shop.config()["on"] is False


def _two(shop: Shop) -> tuple[Actor, Actor]:
    return shop.member(), shop.member()


def test_requests_on_other_parts_or_environments_do_not_conflict(shop: Shop) -> None:
    on = shop.request(shop.member(), ON)
    off_variation = shop.request(shop.member(), {"kind": "updateOffVariation", "variationId": shop.variation_id(0)})
    staging_on = shop.request(shop.member(), ON, env=STAGING)
    assert [_reasons(shop, r.id) for r in (on, off_variation, staging_on)] == [[], [], []]
    on_again = shop.request(shop.member(), ON)
    assert [len(_reasons(shop, r.id)) for r in (on, off_variation, staging_on, on_again)] == [1, 0, 0, 1]


# -- copying -----------------------------------------------------------------------------------------


def _diverge_staging(shop: Shop) -> None:
    ids = [shop.variation_id(0), shop.variation_id(1)]
    shop.change(
        shop.admin,
        ON,
        {"kind": "addTargets", "values": ["ann", "bob"], "variationId": ids[0]},
        {"kind": "addTargets", "contextKind": "org", "values": ["acme"], "variationId": ids[1]},
        email_rule(ids[0]),
        {"kind": "updateFallthroughVariationOrRollout", "rolloutWeights": {ids[0]: 30000, ids[1]: 70000}},
        {"kind": "updateOffVariation", "variationId": ids[0]},
    )


def _copy(shop: Shop, **fields: object) -> ApprovalRequest:
    new = NewCopyRequest(
        description=str(fields.pop("description", "Copy staging")),
        source=fields.pop("source", CopySource(STAGING)),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )
    return approvals.create_copy_request(
        shop.deps, actor=shop.member(), project_key=PROJECT, flag_key=FLAG, env_key=PRODUCTION, new=new
    )


def _comparable(config: dict[str, object]) -> dict[str, object]:
    ignored = ("on", "version", "lastModified", "salt", "sel")
    rules = [{k: v for k, v in r.items() if k != "_id"} for r in config["rules"]]  # type: ignore[attr-defined]
    for rule in rules:
        rule["clauses"] = [{k: v for k, v in c.items() if k != "_id"} for c in rule["clauses"]]
    return {**{k: v for k, v in config.items() if k not in ignored}, "rules": rules}


def test_a_copy_request_materialises_its_plan_and_apply_makes_the_target_match(shop: Shop) -> None:
    _diverge_staging(shop)
    staging_version = shop.config(STAGING)["version"]
    request = _copy(shop, excluded=[CopyAction.UPDATE_ON])
    assert request.source == CopySource(STAGING, staging_version)
    assert [i["kind"] for i in request.instructions] == [
        "replaceTargets",
        "replaceRules",
        "updateFallthroughVariationOrRollout",
        "updateOffVariation",
    ]
    shop.approve(request, shop.member(), shop.member())
    approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    production, staging = shop.config(), shop.config(STAGING)
    assert production["on"] is False and staging["on"] is True
    assert _comparable(dict(production)) == _comparable(dict(staging))  # type: ignore[arg-type]


def test_a_copy_request_pins_the_source_version(shop: Shop) -> None:
    _diverge_staging(shop)
    current = shop.config(STAGING)["version"]
    with pytest.raises(OptimisticLockError, match=str(current)):
        _copy(shop, source=CopySource(STAGING, current - 1))
    assert _copy(shop, source=CopySource(STAGING, current)).source == CopySource(STAGING, current)
    with pytest.raises(InvalidRequest, match=r"source\.key: unknown environment 'qa'"):
        _copy(shop, source=CopySource("qa"))
    with pytest.raises(InvalidRequest, match="different"):
        _copy(shop, source=CopySource(PRODUCTION))


def test_included_and_excluded_actions_together_are_refused(shop: Shop) -> None:
    _diverge_staging(shop)
    with pytest.raises(InvalidRequest, match="both"):
        _copy(shop, included=[CopyAction.UPDATE_ON], excluded=[CopyAction.UPDATE_RULES])
    only_on = _copy(shop, included=[CopyAction.UPDATE_ON])
    assert only_on.instructions == [ON]


def test_a_copy_with_nothing_to_copy_is_refused(shop: Shop) -> None:
    with pytest.raises(InvalidRequest, match="nothing to copy"):
        _copy(shop)
    assert shop.world.uow.store.approvals == {}


# -- scheduling --------------------------------------------------------------------------------------


def test_a_future_execution_date_schedules_the_change_and_it_runs_once(shop: Shop) -> None:
    when = shop.world.clock.now + 60_000
    request = _approved(shop, execution_date=when)
    applier = shop.member()
    scheduled = approvals.apply(shop.deps, actor=applier, request_id=request.id)
    assert scheduled.status is Status.SCHEDULED and shop.config()["on"] is False
    with pytest.raises(InvalidRequest, match="scheduled"):
        approvals.review(shop.deps, actor=shop.member(), request_id=request.id, kind="approve", comment=None)
    with pytest.raises(InvalidRequest, match="scheduled"):
        approvals.apply(shop.deps, actor=applier, request_id=request.id)
    assert approvals.run_due(shop.deps) == []
    shop.world.clock.advance(60_000)
    version = shop.flag().version
    assert approvals.run_due(shop.deps) == [request.id]
    assert approvals.run_due(shop.deps) == []
    stored = shop.stored(request.id)
    assert (stored.status, stored.applied_by_member_id) == (Status.COMPLETED, applier.member_id)
    assert shop.config()["on"] is True and shop.flag().version == version + 1
    (flag_entry,) = [e for e in shop.audit() if e.kind == "flag" and e.approval_request_id == request.id]
    assert flag_entry.actor.member_id == applier.member_id


def test_a_past_execution_date_applies_at_once(shop: Shop) -> None:
    request = _approved(shop, execution_date=shop.world.clock.now - 1)
    assert approvals.apply(shop.deps, actor=shop.member(), request_id=request.id).status is Status.COMPLETED
    assert shop.config()["on"] is True


def test_a_scheduled_request_can_be_cancelled(shop: Shop) -> None:
    request = _approved(shop, execution_date=shop.world.clock.now + 1000)
    approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    approvals.delete(shop.deps, actor=shop.member(), request_id=request.id)
    shop.world.clock.advance(1000)
    assert approvals.run_due(shop.deps) == []
    assert shop.config()["on"] is False


def test_a_scheduled_request_that_no_longer_applies_fails_when_due(shop: Shop) -> None:
    shop.change(shop.admin, email_rule(shop.variation_id(0)), env=PRODUCTION)
    rule_id = shop.rule_id()
    instruction = {"kind": "updateRuleDescription", "ruleId": rule_id, "description": "VIPs"}
    request = _approved(shop, instruction, execution_date=shop.world.clock.now + 1000)
    approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    shop.change(shop.admin, {"kind": "removeRule", "ruleId": rule_id}, env=PRODUCTION, ignore_conflicts=True)
    (conflict,) = _view(shop, request.id).conflicts  # a scheduled request shows its conflicts too
    assert conflict.reason.startswith("No longer applies cleanly") and rule_id in conflict.reason
    shop.world.clock.advance(1000)
    assert approvals.run_due(shop.deps) == [request.id]
    stored = shop.stored(request.id)
    assert stored.status is Status.FAILED and rule_id in (stored.failure_reason or "")


# -- deleting and patching ---------------------------------------------------------------------------


def test_delete_while_not_applied(shop: Shop) -> None:
    requester = shop.member()
    request = shop.request(requester, ON)
    with pytest.raises(Forbidden):
        approvals.delete(shop.deps, actor=shop.member(Role.READER), request_id=request.id)
    approvals.delete(shop.deps, actor=requester, request_id=request.id)
    assert shop.world.uow.store.approvals == {}
    entry = shop.audit()[-1]
    assert [(a.action, a.resource) for a in entry.accesses] == [("deleteApprovalRequest", RESOURCE)]
    with pytest.raises(NotFound):
        approvals.delete(shop.deps, actor=requester, request_id=request.id)
    applied = _approved(shop)
    approvals.apply(shop.deps, actor=shop.member(), request_id=applied.id)
    with pytest.raises(InvalidRequest, match="applied"):
        approvals.delete(shop.deps, actor=shop.admin, request_id=applied.id)
    assert shop.stored(applied.id).status is Status.COMPLETED


def test_update_description_and_add_reviewers_keep_the_approvals(shop: Shop) -> None:
    requester, reviewer, extra = shop.member(), shop.member(), shop.member()
    request = shop.approve(shop.request(requester, ON), reviewer)
    team = Team(id="t" * 24, key="qa", name="QA", creation_date=0, last_modified=0, member_ids=[extra.member_id or ""])
    shop.world.uow.store.teams["qa"] = team
    patched = approvals.patch(
        shop.deps,
        actor=requester,
        request_id=request.id,
        instructions=[
            {"kind": "updateDescription", "value": "Turn it on now"},
            {"kind": "addReviewers", "notifyTeamKeys": ["qa"]},
        ],
        comment="clearer",
    )
    assert (patched.description, patched.notify_member_ids, patched.version) == ("Turn it on now", [extra.member_id], 3)
    assert patched.approvals() == 1 and shop.stored(request.id).reviews == request.reviews
    entry = shop.audit()[-1]
    assert (entry.accesses[0].action, entry.comment) == ("updateApprovalRequest", "clearer")
    unchanged = approvals.patch(
        shop.deps,
        actor=requester,
        request_id=request.id,
        instructions=[{"kind": "updateDescription", "value": "Turn it on now"}],
    )
    assert unchanged.version == 3 and shop.audit()[-1] == entry


@pytest.mark.parametrize(
    ("instructions", "message"),
    [
        ([], "non-empty"),
        ([{"kind": "updateInstructions"}], "unknown kind"),
        ([{"kind": "updateDescription", "value": ""}], "description"),
        ([{"kind": "addReviewers"}], "notifyMemberIds or notifyTeamKeys"),
        ([{"kind": "addReviewers", "notifyMemberIds": ["0123456789abcdef01234567"]}], "unknown member"),
        ([{"kind": "addReviewers", "notifyTeamKeys": ["ghosts"]}], "unknown team"),
    ],
)
def test_a_bad_patch_is_refused_and_changes_nothing(shop: Shop, instructions: list[object], message: str) -> None:
    request = shop.request(shop.member(), ON)
    with pytest.raises(InvalidRequest, match=message):
        approvals.patch(shop.deps, actor=shop.admin, request_id=request.id, instructions=instructions)
    assert shop.stored(request.id) == request


def test_patch_needs_the_update_right_or_being_the_requester_and_an_unapplied_request(shop: Shop) -> None:
    request = _approved(shop)
    rename = [{"kind": "updateDescription", "value": "Renamed"}]
    with pytest.raises(Forbidden):
        approvals.patch(shop.deps, actor=shop.member(Role.READER), request_id=request.id, instructions=rename)
    approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    with pytest.raises(InvalidRequest, match="applied"):
        approvals.patch(shop.deps, actor=shop.admin, request_id=request.id, instructions=rename)


# -- scope, segments and queries -----------------------------------------------------------------------


def test_a_flag_scoped_lookup_must_name_the_requests_flag_and_environment(shop: Shop) -> None:
    request = shop.request(shop.member(), ON)
    assert (
        queries.get_request(
            shop.deps, actor=shop.admin, request_id=request.id, scope=Scope(PROJECT, FLAG, PRODUCTION)
        ).request.id
        == request.id
    )
    for scope in (Scope(PROJECT, FLAG, STAGING), Scope(PROJECT, "other", PRODUCTION), Scope("x", FLAG, PRODUCTION)):
        with pytest.raises(NotFound):
            queries.get_request(shop.deps, actor=shop.admin, request_id=request.id, scope=scope)
        with pytest.raises(NotFound):
            approvals.apply(shop.deps, actor=shop.admin, request_id=request.id, scope=scope)


def test_segment_changes_that_need_approval_go_through_a_request(shop: Shop) -> None:
    shop.settings(segment=True, required=True, min_num_approvals=1)
    writer = shop.member()
    include = {"kind": "addIncludedTargets", "contextKind": "user", "values": ["ann"]}
    with pytest.raises(Forbidden, match="approval is required"):
        segments.patch_segment(
            shop.deps,
            actor=writer,
            project_key=PROJECT,
            env_key=PRODUCTION,
            key=SEGMENT,
            patch=FlagPatch("semantic", [include]),
        )
    resource = f"proj/{PROJECT}:env/{PRODUCTION}:segment/{SEGMENT}"
    request = approvals.create_request(
        shop.deps, actor=writer, resource_id=resource, new=NewRequest(description="Add Ann", instructions=[include])
    )
    assert (request.resource_kind, request.resource_id, request.base_version) == (ResourceKind.SEGMENT, resource, 1)
    with pytest.raises(NotFound):  # flag-scoped routes do not serve segment requests
        queries.get_request(
            shop.deps, actor=shop.admin, request_id=request.id, scope=Scope(PROJECT, SEGMENT, PRODUCTION)
        )
    shop.approve(request, shop.member())
    assert _view(shop, request.id).review_status is ReviewStatus.APPROVED
    approvals.apply(shop.deps, actor=shop.member(), request_id=request.id)
    stored_segment = shop.world.uow.store.segments[PROJECT, PRODUCTION, SEGMENT]
    assert stored_segment.included == ["ann"] and stored_segment.version == 2
    (entry,) = [e for e in shop.audit() if e.kind == "segment" and e.approval_request_id == request.id]
    assert entry.accesses[0].resource == resource


def test_segment_requests_use_the_segment_settings(shop: Shop) -> None:
    shop.settings(segment=True, required=True, min_num_approvals=3)
    resource = f"proj/{PROJECT}:env/{PRODUCTION}:segment/{SEGMENT}"
    include = {"kind": "addIncludedTargets", "contextKind": "user", "values": ["ann"]}
    request = approvals.create_request(
        shop.deps, actor=shop.member(), resource_id=resource, new=NewRequest(description="x", instructions=[include])
    )
    shop.approve(request, shop.member(), shop.member())
    view = _view(shop, request.id)
    assert (view.review_status, view.settings.min_num_approvals) == (ReviewStatus.PENDING, 3)


@pytest.mark.parametrize(
    "resource_id",
    ["proj/shop:env/production", "proj/shop:env/production:aiConfig/x", "project/shop:env/production:flag/checkout", 5],
)
def test_a_resource_id_must_name_a_flag_or_segment(shop: Shop, resource_id: object) -> None:
    with pytest.raises(InvalidRequest, match="resourceId"):
        approvals.create_request(
            shop.deps, actor=shop.member(), resource_id=resource_id, new=NewRequest(description="x", instructions=[ON])
        )


def _find(shop: Shop, raw: str | None, limit: int = 20, offset: int = 0) -> tuple[list[str], int]:
    page = Page(limit=limit, offset=offset)
    views, total = queries.list_requests(
        shop.deps, actor=shop.admin, filter=queries.build_filter(raw, page), page=page, expand=set()
    )
    return [v.request.id for v in views], total


def test_the_list_filters_combine(shop: Shop) -> None:
    alice, bob, reviewer = shop.member(), shop.member(), shop.member()
    first = shop.request(alice, ON, notify_member_ids=[reviewer.member_id or ""])
    shop.world.clock.advance(1)
    second = shop.request(bob, ON, env=STAGING)
    shop.world.clock.advance(1)
    third = _approved(shop, {"kind": "updateOffVariation", "variationId": shop.variation_id(0)})
    shop.world.clock.advance(1)
    applied = _approved(shop, {"kind": "turnFlagOff"}, description="no-op")
    approvals.apply(shop.deps, actor=shop.member(), request_id=applied.id)
    assert _find(shop, None) == ([applied.id, third.id, second.id, first.id], 4)
    assert _find(shop, f"requestorId equals {alice.member_id}") == ([first.id], 1)
    assert _find(shop, f'notifyMemberIds anyOf ["{reviewer.member_id}", "nobody"]') == ([first.id], 1)
    assert _find(shop, f"resourceId equals proj/{PROJECT}:env/{STAGING}:flag/{FLAG}") == ([second.id], 1)
    assert _find(shop, 'status anyOf ["completed"]') == ([applied.id], 1)
    assert _find(shop, 'reviewStatus anyOf ["approved"], status anyOf ["pending"]') == ([third.id], 1)
    assert _find(shop, 'reviewStatus anyOf ["pending"]', limit=1, offset=1) == ([first.id], 2)
    assert _find(shop, f"projectKey equals {PROJECT},resourceKind equals flag", limit=2) == ([applied.id, third.id], 4)
    assert _find(shop, "projectKey equals elsewhere") == ([], 0)
    assert _find(shop, "resourceKind equals segment") == ([], 0)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("creationDate equals 5", "Unsupported filter field"),
        ("status equals pending", "anyOf"),
        ("status anyOf pending", "JSON array"),
        ('requestorId anyOf ["a"]', "equals"),
        ("resourceId equals flag/x", "resourceId"),
    ],
)
def test_a_bad_filter_is_refused(shop: Shop, raw: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        _find(shop, raw)


def test_at_most_200_requests_a_page(shop: Shop) -> None:
    with pytest.raises(InvalidRequest, match="200"):
        _find(shop, None, limit=201)
    assert _find(shop, None, limit=200) == ([], 0)
