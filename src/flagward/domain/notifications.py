"""Who is told what about an approval request, and what they read (in the console and by e-mail).

Decisions (the issue names the audiences; the rest is ours):

- ``requested``: the members in ``notifyMemberIds`` (teams already expanded into it, and the members of
  the environment's required reviewer teams, the requester aside) when a request is created;
  ``addReviewers`` re-requests a review from the members it adds (and only them).
- ``approved`` / ``declined`` (each review saying so), ``applied``, ``failed``, ``executed`` (applied on
  schedule): the requester.
- ``applied`` and ``deleted``: the reviewers (``notifyMemberIds`` and whoever reviewed).
- Nobody is told about what they did themselves; a scheduled execution has no acting member, so the
  member who scheduled it is told too.
- Service tokens are never told anything (they have no inbox); a member who turned e-mail off still
  gets the in-app notification.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from enum import StrEnum

from flagward.domain.approvals import ApprovalRequest


class RequestEvent(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DECLINED = "declined"
    APPLIED = "applied"
    FAILED = "failed"
    EXECUTED = "executed"
    DELETED = "deleted"


_TO_REQUESTER = {RequestEvent.APPROVED, RequestEvent.DECLINED, RequestEvent.APPLIED, RequestEvent.FAILED}
_TO_REVIEWERS = {RequestEvent.APPLIED, RequestEvent.DELETED}


@dataclass
class Notification:
    """One member's in-app notification."""

    id: str
    member_id: str
    event: RequestEvent
    title: str
    body: str
    created_at: int
    approval_request_id: str | None = None
    link: str | None = None  # path on this server: the request's console page (:func:`request_page`)
    read_at: int | None = None


def request_page(request_id: str) -> str:
    """The path of a request's page in the console, where a person reads and reviews it."""
    return f"/approvals/{request_id}"


def request_api_path(request_id: str) -> str:
    """The path of a request in the REST API (``GET /api/v2/approval-requests/{id}``)."""
    return f"/api/v2/approval-requests/{request_id}"


def reviewers(request: ApprovalRequest) -> list[str]:
    """``notifyMemberIds`` and the members who reviewed, in that order, without repeats."""
    reviewed = [r.member_id for r in request.reviews if r.member_id]
    return list(dict.fromkeys([*request.notify_member_ids, *reviewed]))


def recipients(
    event: RequestEvent,
    request: ApprovalRequest,
    *,
    actor_member_id: str | None,
    added_reviewers: list[str] | None = None,
) -> list[str]:
    """The member ids told about ``event``, without repeats and never the acting member.

    ``added_reviewers``: for ``requested`` after ``addReviewers``, the members added (None: a new request,
    everyone in ``notifyMemberIds``)."""
    told: list[str] = []
    if event is RequestEvent.REQUESTED:
        told += request.notify_member_ids if added_reviewers is None else added_reviewers
    if (event in _TO_REQUESTER or event is RequestEvent.EXECUTED) and request.requestor_id:
        told.append(request.requestor_id)
    if event in _TO_REVIEWERS:
        told += reviewers(request)
    return [m for m in dict.fromkeys(told) if m != actor_member_id]


_TITLES = {
    RequestEvent.REQUESTED: "{actor} requested your review: {description}",
    RequestEvent.APPROVED: "{actor} approved your request: {description}",
    RequestEvent.DECLINED: "{actor} declined your request: {description}",
    RequestEvent.APPLIED: "{actor} applied the request: {description}",
    RequestEvent.FAILED: "The request could not be applied: {description}",
    RequestEvent.EXECUTED: "Your scheduled request was applied: {description}",
    RequestEvent.DELETED: "{actor} deleted the request: {description}",
}


def title(event: RequestEvent, request: ApprovalRequest, actor: str) -> str:
    """One line naming who did what, e.g. ``Ada approved your request: Turn on dark mode``."""
    return _TITLES[event].format(actor=actor, description=_shorten(request.description, 120))


def body(request: ApprovalRequest, changes: list[str], comment: str | None = None) -> str:
    """What the request is about, in words: its resource, the changes it makes, the comment if any."""
    lines = [
        f"{request.resource_kind.value.capitalize()} '{request.resource_key}' in environment "
        f"'{request.environment_key}' of project '{request.project_key}'.",
    ]
    if changes:
        lines += ["", "Changes:", *(f"- {c}" for c in changes)]
    if request.required_reviewers:
        needs = ", ".join(f"{r.min_approvals} from team '{r.team_key}'" for r in request.required_reviewers)
        lines += ["", f"Required approvals: {needs}."]
    if request.failure_reason:
        lines += ["", f"Why it failed: {request.failure_reason}"]
    if comment:
        lines += ["", f"Comment: {comment}"]
    return "\n".join(lines)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


def email(notification: Notification, *, to: str, public_url: str) -> Email:
    """The e-mail for one notification: plain text and HTML, linking to the request's console page; the
    plain text also gives the request's REST URL, for whoever scripts against the API."""
    origin = public_url.rstrip("/")
    link = f"{origin}{notification.link}" if notification.link and origin else None
    api = (
        f"{origin}{request_api_path(notification.approval_request_id)}"
        if notification.approval_request_id and origin
        else None
    )
    footer = "You get these e-mails as a member of flagward; turn them off by setting emailNotifications to false."
    text = notification.body
    if link:
        text += f"\n\nOpen the request: {link}"
    if api:
        text += f"\nIn the REST API: {api}"
    text += f"\n\n--\n{footer}\n"
    paragraphs = "".join(_html_block(block) for block in notification.body.split("\n\n"))
    anchor = f'<p><a href="{html.escape(link)}">Open the request</a></p>' if link else ""
    page = (
        f"<html><body><h2>{html.escape(notification.title)}</h2>{paragraphs}{anchor}"
        f'<p style="color:#666;font-size:small">{html.escape(footer)}</p></body></html>'
    )
    return Email(to=to, subject=f"[flagward] {notification.title}", text=f"{notification.title}\n\n{text}", html=page)


def _html_block(block: str) -> str:
    lines = block.split("\n")
    items = [line[2:] for line in lines if line.startswith("- ")]
    head = [line for line in lines if not line.startswith("- ")]
    result = "".join(f"<p>{html.escape(line)}</p>" for line in head)
    if items:
        result += "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"
    return result


def _shorten(value: str, limit: int) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
