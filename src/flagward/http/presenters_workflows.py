"""Workflows and templates in LaunchDarkly's shapes (``CustomWorkflowOutput``, ``WorkflowTemplateOutput``)."""

from __future__ import annotations

from typing import Any

from flagward.domain.approvals import ApprovalRequest, ReviewStatus
from flagward.domain.workflows import APPROVAL_KIND, Condition, ExecutionStatus, Stage, Template, condition_input
from flagward.http.links import links
from flagward.services.workflows import WorkflowView

API = "/api/v2"


def workflows_path(project_key: str, flag_key: str, env_key: str) -> str:
    return f"{API}/projects/{project_key}/flags/{flag_key}/environments/{env_key}/workflows"


def _execution(status: ExecutionStatus, stop_date: int | None, reason: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"status": status.value}
    if stop_date is not None:
        doc["stopDate"] = stop_date
    if reason is not None:
        doc["failureReason"] = reason
    return doc


def _review(review: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": review.id, "kind": review.kind.value, "creationDate": review.creation_date}
    for name, value in (("comment", review.comment), ("memberId", review.member_id)):
        if value is not None:
            doc[name] = value
    if review.service_token_id is not None:
        doc["serviceTokenId"] = review.service_token_id
    return doc


def _condition(
    condition: Condition, stage: Stage, requests: dict[str, tuple[ApprovalRequest, ReviewStatus]]
) -> dict[str, Any]:
    doc = condition_input(condition)
    doc.pop("notifyTeamKeys", None)
    doc["_id"] = condition.id
    doc["_execution"] = _execution(condition.status, condition.stop_date)
    doc.setdefault("description", "")
    doc.setdefault("notifyMemberIds", [])
    doc["allReviews"] = []
    met = condition.status is ExecutionStatus.COMPLETED
    doc["reviewStatus"] = ReviewStatus.APPROVED.value if met else ReviewStatus.PENDING.value
    found = requests.get(stage.approval_request_id or "") if condition.kind == APPROVAL_KIND else None
    if found is not None:
        request, status = found
        doc["approvalRequestId"] = request.id
        doc["notifyMemberIds"] = list(request.notify_member_ids)
        doc["allReviews"] = [_review(r) for r in request.reviews]
        doc["reviewStatus"] = status.value
    if met and condition.stop_date is not None and condition.kind == APPROVAL_KIND:
        doc["appliedDate"] = condition.stop_date
    return doc


def _stage(stage: Stage, requests: dict[str, tuple[ApprovalRequest, ReviewStatus]]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": stage.id,
        "name": stage.name,
        "conditions": [_condition(c, stage, requests) for c in stage.conditions],
        "action": {"kind": "patch", "instructions": [dict(i) for i in stage.instructions]},
        "_execution": _execution(stage.status, stage.stop_date, stage.failure_reason),
    }
    if stage.environment_key is not None:
        doc["environmentKey"] = stage.environment_key
    return doc


def present_workflow(view: WorkflowView) -> dict[str, Any]:
    workflow = view.workflow
    parent = workflows_path(workflow.project_key, workflow.flag_key, workflow.environment_key)
    doc: dict[str, Any] = {
        "_id": workflow.id,
        "_version": workflow.version,
        "_conflicts": [],
        "_creationDate": workflow.creation_date,
        "_maintainerId": workflow.maintainer_id or "",
        "_links": links(f"{parent}/{workflow.id}", parent),
        "name": workflow.name,
        "description": workflow.description,
        "kind": "custom",
        "stages": [_stage(s, view.requests) for s in workflow.stages],
        "_execution": _execution(workflow.status, workflow.stop_date),
    }
    if workflow.template_key is not None:
        doc["templateKey"] = workflow.template_key
    return doc


def _template_stage(index: int, template: Template, stage: dict[str, Any]) -> dict[str, Any]:
    """A template's stage as ``StageOutput``: ids derived from the template's (stable across reads)."""
    conditions = []
    for number, condition in enumerate(stage.get("conditions") or []):
        doc = {k: v for k, v in condition.items() if k != "notifyTeamKeys"}
        doc.update(
            _id=f"{template.id}-{index}-{number}",
            _execution={"status": ExecutionStatus.PENDING.value},
            allReviews=[],
            reviewStatus=ReviewStatus.PENDING.value,
        )
        doc.setdefault("description", "")
        doc.setdefault("notifyMemberIds", [])
        conditions.append(doc)
    doc = {
        "_id": f"{template.id}-{index}",
        "name": stage["name"],
        "conditions": conditions,
        "action": {"kind": "patch", "instructions": stage["action"]["instructions"]},
        "_execution": {"status": ExecutionStatus.PENDING.value},
    }
    if stage.get("environmentKey") is not None:
        doc["environmentKey"] = stage["environmentKey"]
    return doc


def present_template(template: Template, *, summary: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": template.id,
        "_key": template.key,
        "name": template.name,
        "_creationDate": template.creation_date,
        "_ownerId": template.owner_id or "",
        "_maintainerId": template.maintainer_id or template.owner_id or "",
        "_links": links(f"{API}/templates/{template.key}", f"{API}/templates"),
        "description": template.description,
    }
    if not summary:
        doc["stages"] = [_template_stage(i, template, s) for i, s in enumerate(template.stages)]
    return doc
