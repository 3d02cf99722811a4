"""Workflows on the fakes: creating one changes nothing; the scheduler applies stages in order, each when
its conditions are met (an approval, a time), through the approval gate; a failed stage says why and
stops the workflow; deleting a workflow deletes its pending stage's request; promotion copies a flag's
configuration between environments; templates make the same pipeline on another flag."""

from __future__ import annotations

from typing import Any

import pytest

from flagward.domain.accounts import Actor, Role
from flagward.domain.approvals import Status
from flagward.domain.errors import Forbidden, InvalidRequest, NotFound
from flagward.domain.workflows import ExecutionStatus
from flagward.services import approvals, flags
from flagward.services import workflow_templates as templates
from flagward.services import workflows as service
from flagward.services.flags import NewFlag
from flagward.services.workflow_runner import run_due_workflows
from flagward.services.workflows import WorkflowView
from tests.unit.services.approvals_world import FLAG, PRODUCTION, PROJECT, STAGING, Shop, email_rule
from tests.unit.services.conftest import World

ON = {"kind": "turnFlagOn"}
APPROVAL = {"kind": "ld-approval"}
MINUTE = 60_000


@pytest.fixture
def shop(world: World) -> Shop:
    return Shop(world, required=True, min_num_approvals=1)


def _stage(name: str, *instructions: dict[str, Any], env: str | None = None, **extra: Any) -> dict[str, Any]:
    stage: dict[str, Any] = {"name": name, "action": {"instructions": list(instructions)}, **extra}
    if env is not None:
        stage["environmentKey"] = env
    return stage


def _create(shop: Shop, actor: Actor, *stages: dict[str, Any], env: str = STAGING, flag: str = FLAG) -> WorkflowView:
    new = service.NewWorkflow(name="Release", description="Release checkout", stages=list(stages))
    return service.create_workflow(shop.deps, actor=actor, project_key=PROJECT, flag_key=flag, env_key=env, new=new)


def _get(shop: Shop, view: WorkflowView) -> WorkflowView:
    workflow = view.workflow
    return service.get_workflow(
        shop.deps,
        actor=shop.admin,
        project_key=workflow.project_key,
        flag_key=workflow.flag_key,
        env_key=workflow.environment_key,
        workflow_id=workflow.id,
    )


def _statuses(view: WorkflowView) -> list[str]:
    return [view.workflow.status.value, *(s.status.value for s in view.workflow.stages)]


def test_creating_a_workflow_changes_no_flag_and_the_scheduler_applies_its_stage(shop: Shop) -> None:
    writer = shop.member()
    version = shop.config(STAGING)["version"]
    view = _create(shop, writer, _stage("On in staging", ON))
    assert _statuses(view) == ["active", "active"]
    assert shop.config(STAGING)["on"] is False and shop.config(STAGING)["version"] == version
    assert run_due_workflows(shop.deps) == [view.workflow.stages[0].id]
    assert shop.config(STAGING)["on"] is True
    assert _statuses(_get(shop, view)) == ["completed", "completed"]
    assert run_due_workflows(shop.deps) == []  # never twice
    entry = shop.audit()[-1]
    assert entry.kind == "flag" and "Workflow 'Release', stage 1" in (entry.comment or "")


def test_a_scheduled_stage_waits_for_its_time(shop: Shop) -> None:
    when = shop.world.clock.now + 5 * MINUTE
    schedule = {"kind": "schedule", "scheduleKind": "absolute", "executionDate": when}
    view = _create(shop, shop.member(), _stage("Later", ON, conditions=[schedule]))
    assert run_due_workflows(shop.deps) == []
    shop.world.clock.advance(5 * MINUTE - 1)
    assert run_due_workflows(shop.deps) == [] and shop.config(STAGING)["on"] is False
    shop.world.clock.advance(1)
    assert len(run_due_workflows(shop.deps)) == 1 and shop.config(STAGING)["on"] is True
    assert _get(shop, view).workflow.stages[0].conditions[0].status is ExecutionStatus.COMPLETED


def test_a_relative_schedule_counts_from_the_stage_start(shop: Shop) -> None:
    wait = {"kind": "schedule", "scheduleKind": "relative", "waitDuration": 2, "waitDurationUnit": "minute"}
    off = {"kind": "turnFlagOff"}
    _create(shop, shop.member(), _stage("On", ON), _stage("Off two minutes later", off, conditions=[wait]))
    shop.world.clock.advance(10 * MINUTE)
    assert len(run_due_workflows(shop.deps)) == 1  # the first; the second starts now and waits
    assert shop.config(STAGING)["on"] is True
    shop.world.clock.advance(2 * MINUTE)
    assert len(run_due_workflows(shop.deps)) == 1 and shop.config(STAGING)["on"] is False


def test_an_approval_stage_requests_approval_and_is_applied_by_the_workflow_once_approved(shop: Shop) -> None:
    writer, reviewer = shop.member(), shop.member()
    view = _create(shop, writer, _stage("Production", ON, env=PRODUCTION, conditions=[APPROVAL]), env=PRODUCTION)
    request_id = view.workflow.stages[0].approval_request_id
    assert request_id is not None
    request = shop.stored(request_id)
    meta = request.custom_workflow
    assert meta is not None and (meta.name, meta.stage_index, meta.stage_name) == ("Release", 0, "Production")
    assert (request.requestor_id, request.instructions, request.status) == (writer.member_id, [ON], Status.PENDING)
    assert run_due_workflows(shop.deps) == []  # not approved yet
    with pytest.raises(InvalidRequest, match="the workflow applies it"):
        approvals.apply(shop.deps, actor=shop.admin, request_id=request_id)
    shop.approve(request, reviewer)
    shop.world.clock.advance(MINUTE)
    assert len(run_due_workflows(shop.deps)) == 1
    assert shop.config(PRODUCTION)["on"] is True
    assert shop.stored(request_id).status is Status.COMPLETED
    changes = [e for e in shop.audit() if e.kind == "flag" and e.approval_request_id == request_id]
    assert len(changes) == 1


def test_a_stage_may_need_more_approvals_than_its_environment(shop: Shop) -> None:
    condition = {**APPROVAL, "minNumApprovals": 2}
    view = _create(shop, shop.member(), _stage("Two", ON, env=PRODUCTION, conditions=[condition]), env=PRODUCTION)
    request = shop.stored(view.workflow.stages[0].approval_request_id or "")
    shop.approve(request, shop.member())
    shop.world.clock.advance(MINUTE)
    assert run_due_workflows(shop.deps) == [] and shop.config(PRODUCTION)["on"] is False
    shop.approve(request, shop.member())
    shop.world.clock.advance(MINUTE)
    assert len(run_due_workflows(shop.deps)) == 1 and shop.config(PRODUCTION)["on"] is True


def test_a_declined_stage_fails_with_its_reason_and_stops_the_workflow(shop: Shop) -> None:
    stages = [_stage("Production", ON, env=PRODUCTION, conditions=[APPROVAL]), _stage("Staging", ON)]
    view = _create(shop, shop.member(), *stages)
    request = shop.stored(view.workflow.stages[0].approval_request_id or "")
    approvals.review(shop.deps, actor=shop.member(), request_id=request.id, kind="decline", comment="not yet")
    assert len(run_due_workflows(shop.deps)) == 1
    after = _get(shop, view).workflow
    assert [after.status, *(s.status for s in after.stages)] == [
        ExecutionStatus.FAILED,
        ExecutionStatus.FAILED,
        ExecutionStatus.PENDING,
    ]
    assert after.stages[0].failure_reason == "The stage's approval request was declined"
    assert shop.config(PRODUCTION)["on"] is False and shop.config(STAGING)["on"] is False
    assert shop.audit()[-1].title_verb == "failed a stage of workflow"


def test_a_stage_whose_instructions_no_longer_apply_fails_with_the_reason(shop: Shop) -> None:
    shop.change(shop.admin, email_rule(shop.variation_id(0)))
    rule_id = shop.rule_id(STAGING)
    when = shop.world.clock.now + MINUTE
    schedule = {"kind": "schedule", "executionDate": when}
    serve = {"kind": "updateRuleVariationOrRollout", "ruleId": rule_id, "variationId": shop.variation_id(1)}
    view = _create(shop, shop.member(), _stage("Serve the rule's other variation", serve, conditions=[schedule]))
    shop.change(shop.admin, {"kind": "removeRule", "ruleId": rule_id})
    shop.world.clock.advance(MINUTE)
    assert len(run_due_workflows(shop.deps)) == 1
    stage = _get(shop, view).workflow.stages[0]
    assert stage.status is ExecutionStatus.FAILED
    assert stage.failure_reason is not None and rule_id in stage.failure_reason


def test_a_stage_where_approval_is_required_needs_an_approval_condition(shop: Shop) -> None:
    with pytest.raises(InvalidRequest, match="requires approval"):
        _create(shop, shop.member(), _stage("Production", ON, env=PRODUCTION))
    assert shop.world.uow.store.workflows == {}


def test_stages_are_checked_in_order_when_the_workflow_is_made(shop: Shop) -> None:
    bad = {"kind": "updateOffVariation", "variationId": "nope"}
    with pytest.raises(InvalidRequest, match=r"stages\[1\]\.action"):
        _create(shop, shop.member(), _stage("On", ON), _stage("Bad", bad))
    with pytest.raises(InvalidRequest, match="unknown environment 'nowhere'"):
        _create(shop, shop.member(), _stage("Elsewhere", ON, env="nowhere"))
    with pytest.raises(InvalidRequest, match="cannot delete"):
        _create(shop, shop.member(), _stage("Delete", {"kind": "deleteFlag"}))
    with pytest.raises(Forbidden):
        _create(shop, shop.member(Role.READER), _stage("On", ON))
    assert shop.world.uow.store.workflows == {} and shop.world.uow.store.approvals == {}


def test_deleting_a_workflow_deletes_its_pending_stage_request(shop: Shop) -> None:
    view = _create(shop, shop.member(), _stage("Production", ON, env=PRODUCTION, conditions=[APPROVAL]))
    request_id = view.workflow.stages[0].approval_request_id or ""
    assert request_id in shop.world.uow.store.approvals
    workflow = view.workflow
    service.delete_workflow(
        shop.deps,
        actor=shop.member(),
        project_key=PROJECT,
        flag_key=FLAG,
        env_key=workflow.environment_key,
        workflow_id=workflow.id,
    )
    assert request_id not in shop.world.uow.store.approvals
    assert shop.world.uow.store.workflows == {}
    with pytest.raises(NotFound):
        _get(shop, view)
    assert run_due_workflows(shop.deps) == []


def test_promotion_copies_staging_into_production_after_approval(shop: Shop) -> None:
    shop.change(shop.admin, ON, email_rule(shop.variation_id(0)))
    copy = {"kind": "copyFlagConfigFrom", "excludedActions": ["updateOn"]}
    stage = _stage("Promote", copy, env=PRODUCTION, conditions=[APPROVAL])
    view = _create(shop, shop.member(), stage)
    request = shop.stored(view.workflow.stages[0].approval_request_id or "")
    assert request.source is not None and request.source.key == STAGING
    assert [i["kind"] for i in request.instructions] == ["replaceRules"]
    shop.approve(request, shop.member())
    assert len(run_due_workflows(shop.deps)) == 1
    production, staging = shop.config(PRODUCTION), shop.config(STAGING)
    assert production["on"] is False  # excluded
    assert [r["clauses"][0]["values"] for r in production["rules"]] == [["@example.com"]]
    assert len(production["rules"]) == len(staging["rules"])


def test_a_template_makes_the_same_pipeline_on_another_flag(shop: Shop) -> None:
    copy = {"kind": "copyFlagConfigFrom", "source": {"key": STAGING}}
    stages = [_stage("Staging on", ON), _stage("Promote", copy, env=PRODUCTION, conditions=[APPROVAL])]
    new = templates.NewTemplate(
        key="promote", name="Promote", stages=stages, project_key=PROJECT, environment_key=STAGING, flag_key=FLAG
    )
    template = templates.create_template(shop.deps, actor=shop.admin, new=new)
    assert [s["name"] for s in template.stages] == ["Staging on", "Promote"]
    flags.create_flag(shop.deps, actor=shop.admin, project_key=PROJECT, new=NewFlag(key="search", name="Search"))
    made = service.create_workflow(
        shop.deps,
        actor=shop.member(),
        project_key=PROJECT,
        flag_key="search",
        env_key=STAGING,
        new=service.NewWorkflow(name="From template", template_key="promote"),
    )
    assert made.workflow.template_key == "promote"
    assert len(run_due_workflows(shop.deps)) == 1
    request = shop.stored(_get(shop, made).workflow.stages[1].approval_request_id or "")
    assert request.resource_key == "search" and request.instructions == [ON]
    shop.approve(request, shop.member())
    shop.world.clock.advance(MINUTE)  # a stage waiting for approval looks again a little later
    assert len(run_due_workflows(shop.deps)) == 1
    assert shop.world.uow.store.flags[PROJECT, "search"].environments[PRODUCTION]["on"] is True
    templates.delete_template(shop.deps, actor=shop.admin, key="promote")
    assert templates.list_templates(shop.deps, actor=shop.admin) == []


def test_a_stage_without_approval_never_goes_around_the_gate(shop: Shop) -> None:
    """Approval became required in staging after the workflow was made: the server, acting for the
    workflow's creator (even an admin), does not bypass it; the stage fails and says why."""
    schedule = {"kind": "schedule", "executionDate": shop.world.clock.now + MINUTE}
    view = _create(shop, shop.admin, _stage("Later", ON, conditions=[schedule]))
    shop.settings(STAGING, required=True)
    shop.world.clock.advance(MINUTE)
    assert len(run_due_workflows(shop.deps)) == 1
    stage = _get(shop, view).workflow.stages[0]
    assert stage.status is ExecutionStatus.FAILED and "approval" in (stage.failure_reason or "").lower()
    assert shop.config(STAGING)["on"] is False


def test_a_dry_run_checks_the_workflow_and_makes_nothing(shop: Shop) -> None:
    new = service.NewWorkflow(name="Try", stages=[_stage("Production", ON, env=PRODUCTION, conditions=[APPROVAL])])
    view = service.create_workflow(
        shop.deps, actor=shop.member(), project_key=PROJECT, flag_key=FLAG, env_key=STAGING, new=new, dry_run=True
    )
    assert view.workflow.stages[0].status is ExecutionStatus.ACTIVE
    assert shop.world.uow.store.workflows == {} and shop.world.uow.store.approvals == {}


def test_the_stages_act_for_the_workflow_creator_not_its_maintainer(shop: Shop) -> None:
    writer, maintainer = shop.member(), shop.member()
    new = service.NewWorkflow(
        name="Kept by another",
        stages=[_stage("Production", ON, env=PRODUCTION, conditions=[APPROVAL])],
        maintainer_id=maintainer.member_id,
    )
    view = service.create_workflow(
        shop.deps, actor=writer, project_key=PROJECT, flag_key=FLAG, env_key=STAGING, new=new
    )
    assert (view.workflow.maintainer_id, view.workflow.requestor_id) == (maintainer.member_id, writer.member_id)
    assert shop.stored(view.workflow.stages[0].approval_request_id or "").requestor_id == writer.member_id


def test_a_workflow_whose_flag_was_deleted_never_acts_on_a_new_flag_with_its_key(shop: Shop) -> None:
    schedule = {"kind": "schedule", "executionDate": shop.world.clock.now + MINUTE}
    view = _create(shop, shop.member(), _stage("Later", ON, conditions=[schedule]))
    flags.delete_flag(shop.deps, actor=shop.admin, project_key=PROJECT, key=FLAG)
    flags.create_flag(shop.deps, actor=shop.admin, project_key=PROJECT, new=NewFlag(key=FLAG, name="Checkout again"))
    shop.world.clock.advance(MINUTE)
    assert len(run_due_workflows(shop.deps)) == 1
    assert shop.config(STAGING)["on"] is False
    stored = shop.world.uow.store.workflows[view.workflow.id]
    assert (stored.status, stored.stages[0].failure_reason) == (
        ExecutionStatus.FAILED,
        "The workflow's flag was deleted",
    )
