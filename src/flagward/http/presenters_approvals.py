"""Approval requests to LaunchDarkly's ``FlagConfigApprovalRequestResponse`` / ``ApprovalRequestResponse``."""

from __future__ import annotations

from typing import Any

from flagward.domain.approvals import ApprovalRequest, ResourceKind
from flagward.domain.representations import approval_settings, flag_document
from flagward.http import presenters
from flagward.http.links import links
from flagward.http.presenters_segments import segment as present_segment
from flagward.services.approval_queries import RequestView

API = "/api/v2"


def _links(request: ApprovalRequest, *, top_level: bool) -> dict[str, Any]:
    """``self`` and ``parent`` in the form of the route family that answered (flag-scoped or top-level),
    the other form beside them, and the resource the request changes."""
    top = f"{API}/approval-requests/{request.id}"
    if request.resource_kind is ResourceKind.SEGMENT:
        segment = f"{API}/segments/{request.project_key}/{request.environment_key}/{request.resource_key}"
        return links(top, f"{API}/approval-requests", segment=segment)
    scoped_parent = (
        f"{API}/projects/{request.project_key}/flags/{request.resource_key}"
        f"/environments/{request.environment_key}/approval-requests"
    )
    scoped, flag = f"{scoped_parent}/{request.id}", f"{API}/flags/{request.project_key}/{request.resource_key}"
    if top_level:
        return links(top, f"{API}/approval-requests", flagApprovalRequest=scoped, flag=flag)
    return links(scoped, scoped_parent, approvalRequest=top, flag=flag)


def flag_scoped(view: RequestView, *, top_level: bool = False) -> dict[str, Any]:
    """LaunchDarkly's ``FlagConfigApprovalRequestResponse``."""
    request = view.request
    doc: dict[str, Any] = {
        "_id": request.id,
        "_version": request.version,
        "creationDate": request.creation_date,
        "serviceKind": request.service_kind,
        "reviewStatus": view.review_status.value,
        "allReviews": [_review(r) for r in request.reviews],
        "notifyMemberIds": list(request.notify_member_ids),
        "status": request.status.value,
        "instructions": request.instructions,
        "conflicts": [{"instruction": c.instruction, "reason": c.reason} for c in view.conflicts],
        "_links": _links(request, top_level=top_level),
        "description": request.description,
    }
    optional = {
        "requestorId": request.requestor_id,
        "appliedDate": request.applied_date,
        "appliedByMemberId": request.applied_by_member_id,
        "appliedByServiceTokenId": request.applied_by_service_token_id,
        "executionDate": request.execution_date,
        "operatingOnId": request.operating_on_id,
    }
    doc.update({k: v for k, v in optional.items() if v is not None})
    if request.notify_team_keys:
        doc["notifyTeamKeys"] = list(request.notify_team_keys)
    if request.required_reviewers:  # flagward's own: which team requirement is still missing
        doc["requiredReviewers"] = [t.document() for t in request.team_progress()]
    if request.integration is not None:
        meta = request.integration
        doc["integrationMetadata"] = {
            "externalId": meta.external_id,
            "externalUrl": meta.external_url,
            "externalStatus": {"value": meta.external_status.value, "display": meta.external_status.display},
            "lastChecked": meta.last_checked,
        }
    if request.custom_workflow is not None:
        workflow = request.custom_workflow
        doc["customWorkflowMetadata"] = {
            "name": workflow.name,
            "stage": {"index": workflow.stage_index, "name": workflow.stage_name},
            "workflowId": workflow.workflow_id,
        }
    if request.source is not None:
        doc["source"] = {"key": request.source.key}
        if request.source.version is not None:
            doc["source"]["version"] = request.source.version
    return doc


def _review(review: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": review.id, "kind": review.kind.value, "creationDate": review.creation_date}
    for name, value in (
        ("comment", review.comment),
        ("memberId", review.member_id),
        ("serviceTokenId", review.service_token_id),
    ):
        if value is not None:
            doc[name] = value
    return doc


def top_level(view: RequestView) -> dict[str, Any]:
    """LaunchDarkly's ``ApprovalRequestResponse`` (with any expansions asked for)."""
    doc = flag_scoped(view, top_level=True)
    doc["resourceId"] = view.request.resource_id
    doc["approvalSettings"] = approval_settings(view.settings)
    if view.project is not None:
        doc["project"] = presenters.project(view.project)
    if view.environments:
        doc["environments"] = [presenters.environment(e) for e in view.environments]
    if view.flag is not None:
        doc["flag"] = _expanded_flag(view)
    if view.flag is not None or view.segment is not None:
        resource: dict[str, Any] = {"kind": view.request.resource_kind.value}
        if view.flag is not None:
            resource["flag"] = _expanded_flag(view)
        if view.segment is not None:
            resource["segment"] = present_segment(view.segment)
        doc["resource"] = resource
    return doc


_EXPANDED_FLAG_FIELDS = (
    "name",
    "kind",
    "description",
    "key",
    "_version",
    "creationDate",
    "includeInSnippet",
    "clientSideAvailability",
    "variations",
    "temporary",
    "tags",
    "maintainerId",
    "customProperties",
    "archived",
    "archivedDate",
    "defaults",
)


def _expanded_flag(view: RequestView) -> dict[str, Any]:
    assert view.flag is not None
    document = flag_document(view.flag, env_keys=[])
    doc = {k: document[k] for k in _EXPANDED_FLAG_FIELDS if k in document}
    doc["_links"] = links(
        f"{API}/flags/{view.flag.project_key}/{view.flag.key}", f"{API}/flags/{view.flag.project_key}"
    )
    return doc
