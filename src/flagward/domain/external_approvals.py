"""Approval requests decided in an external approval service (``flagward.domain.approval_services``):
what flagward sends to create the external record, what it accepts back (the response to that call, the
signed callback, a status read when polling), and how a reported status becomes a review.

Decisions (LaunchDarkly documents only the field shapes):

- A status whose ``value`` is ``approved`` or ``declined`` is a decision; any other value (``pending``,
  ``in_review``, a value of the service's own) is recorded and shown, and decides nothing.
- The service counts as one reviewer (``service:<serviceKind>``) under the environment's review rules:
  its approval counts toward ``minNumApprovals`` beside flagward members' approvals, its decline stands
  like a member's, and its latest decision is the one that counts.
- A report of the status already recorded changes nothing (callbacks and polls are idempotent); a
  report naming another ``externalId`` than the one recorded is refused.
- Once a request is no longer pending, reported statuses are still recorded but decide nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagward.domain.approvals import (
    ApprovalRequest,
    ExternalStatus,
    IntegrationMetadata,
    Review,
    ReviewKind,
    Status,
)
from flagward.domain.errors import InvalidRequest
from flagward.domain.ids import new_object_id

APPROVED = "approved"
DECLINED = "declined"
PENDING = ExternalStatus(value="pending", display="Pending")
_DECISIONS = {APPROVED: ReviewKind.APPROVE, DECLINED: ReviewKind.DECLINE}
_MAX = 2048


@dataclass(frozen=True)
class Report:
    """What an external service says about its record of a request."""

    external_id: str
    status: ExternalStatus | None = None  # None: not said (a creation response may omit it)
    external_url: str | None = None
    comment: str | None = None


def parse_report(body: object, *, status_required: bool) -> Report:
    """``{"externalId", "status": {"value", "display"?}, "externalUrl"?, "comment"?}``. Raises InvalidRequest."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object")
    external_id = body.get("externalId")
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 256:
        raise InvalidRequest("externalId must be a non-empty string of at most 256 characters")
    raw = body.get("status")
    status = None
    if raw is not None or status_required:
        if not isinstance(raw, dict) or not isinstance(raw.get("value"), str) or not raw["value"].strip():
            raise InvalidRequest('status must be an object such as {"value": "approved", "display": "Approved"}')
        display = raw.get("display", raw["value"])
        if not isinstance(display, str):
            raise InvalidRequest("status.display must be a string")
        status = ExternalStatus(value=raw["value"].strip()[:256], display=display[:_MAX])
    return Report(
        external_id=external_id,
        status=status,
        external_url=_optional_text(body, "externalUrl"),
        comment=_optional_text(body, "comment"),
    )


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string")
    return value[:_MAX] if value else None


def decision(status: ExternalStatus) -> ReviewKind | None:
    return _DECISIONS.get(status.value.lower())


def record_report(request: ApprovalRequest, report: Report, *, now: int) -> ReviewKind | None:
    """Record what the service reports (linking the request to its record the first time) and return the
    decision to review with: only when the status changed to a decision and the request is pending.
    Raises InvalidRequest when ``report`` names another record than the one linked."""
    meta = request.integration
    if meta is None:
        status = report.status or PENDING
        request.integration = IntegrationMetadata(report.external_id, report.external_url or "", status, now)
        request.touch()
        return decision(status) if request.status is Status.PENDING else None
    if report.external_id != meta.external_id:
        raise InvalidRequest(f"externalId '{report.external_id}' is not this request's ('{meta.external_id}')")
    meta.last_checked = now
    changed = False
    if report.external_url and report.external_url != meta.external_url:
        meta.external_url, changed = report.external_url, True
    reported = report.status
    decided = None
    if reported is not None and reported != meta.external_status:
        decided = decision(reported) if reported.value != meta.external_status.value else None
        meta.external_status, changed = reported, True
    if changed:
        request.touch()
    return decided if request.status is Status.PENDING else None


def add_service_review(
    request: ApprovalRequest, service_kind: str, kind: ReviewKind, comment: str | None, *, now: int
) -> Review:
    """The external service's decision, as a review by ``service:<kind>`` (see the module's rules)."""
    if request.status is not Status.PENDING:
        raise InvalidRequest(f"This approval request is {request.status} and can no longer be reviewed")
    review = Review(id=new_object_id(), kind=kind, creation_date=now, comment=comment, service_kind=service_kind)
    request.reviews.append(review)
    request.touch()
    return review


def creation_body(
    request: ApprovalRequest, *, changes: list[str], request_url: str, callback_url: str
) -> dict[str, Any]:
    """What flagward POSTs to the service to create its record (the README's contract)."""
    body: dict[str, Any] = {
        "kind": "approvalRequest.created",
        "serviceKind": request.service_kind,
        "approvalRequest": {
            "_id": request.id,
            "resourceId": request.resource_id,
            "projectKey": request.project_key,
            "environmentKey": request.environment_key,
            "resourceKind": request.resource_kind.value,
            "resourceKey": request.resource_key,
            "description": request.description,
            "instructions": request.instructions,
            "requestorId": request.requestor_id,
            "notifyMemberIds": list(request.notify_member_ids),
            "creationDate": request.creation_date,
            "executionDate": request.execution_date,
        },
        "changes": changes,
        "links": {"approvalRequest": request_url, "callback": callback_url},
    }
    if request.comment:
        body["approvalRequest"]["comment"] = request.comment
    return body
